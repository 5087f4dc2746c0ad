"""Memory checks before large allocations: refuse in one line what cannot fit, and say what would.

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
