"""What the environment says about running the Triton kernels (read by the dispatcher and the kernels alike)."""

from __future__ import annotations

import os


def interpreting() -> bool:
    """Whether the Triton interpreter runs the kernels (TRITON_INTERPRET=1, set before triton is imported)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"
