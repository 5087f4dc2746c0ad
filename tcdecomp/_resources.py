"""Memory checks before large allocations: refuse in one line what cannot fit, and say what would; and the
forecast of a long run of refits (permutations, bootstrap resamples), logged once its first refit is timed.

Available memory is the kernel's estimate of what can be allocated without swapping (``MemAvailable``
in ``/proc/meminfo``, else the free physical pages), or the CUDA device's free memory. A call is
refused when its estimate exceeds MEMORY_SHARE of that: the estimate leaves out the interpreter and
the caller's own arrays.
"""

from __future__ import annotations

import os

import torch

#: the share of available memory one call may plan to use
MEMORY_SHARE = 0.8
GIB = 2.0**30
#: a forecast of the remaining refits' time above this is logged as a warning (with how to shorten it)
SLOW_SECONDS = 60.0


def available_bytes(device=None) -> float:
    """Bytes that can be allocated on ``device`` (the CPU by default) without swapping."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # no way to tell on this platform: do not refuse
        return float("inf")


def check_fits(needed_bytes: float, what: str, fix: str, device=None) -> None:
    """Refuse ``what`` (a phrase: "the exact estimator's 1e12 draws") when it needs more than MEMORY_SHARE of the
    available memory, with ``fix`` saying what would fit."""
    available = available_bytes(device)
    if needed_bytes > MEMORY_SHARE * available:
        where = "GPU" if device is not None and torch.device(device).type == "cuda" else "memory"
        raise ValueError(
            f"{what} needs about {needed_bytes / GIB:.3g} GiB, more than the {available / GIB:.3g} GiB of {where} "
            f"available; {fix}"
        )


def forecast(logger, seconds_each: float, remaining: int, what: str) -> None:
    """Log how long the ``remaining`` refits will take, as a warning where that exceeds SLOW_SECONDS."""
    total = seconds_each * remaining
    if total > SLOW_SECONDS:
        logger.warning(
            "%d more %s at %.2f s each: about %s; pass fewer for a quicker answer (progress=True shows the progress)",
            remaining, what, seconds_each, _duration(total),
        )  # fmt: skip
    else:
        logger.info("one refit took %.2f s; %d more %s to go", seconds_each, remaining, what)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
