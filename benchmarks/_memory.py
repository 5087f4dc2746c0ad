"""Peak resident memory of a block of code, measured by the kernel (Linux /proc)."""

from __future__ import annotations

import re
from pathlib import Path


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def reset_peak() -> int:
    """Reset the peak-RSS counter (VmHWM) and return the current RSS in KiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def peak_since_reset_kib() -> int:
    return _status_kib("VmHWM")
