"""Argument checks shared by the public entry points (each error names the argument and the fix)."""
from __future__ import annotations

import numpy as np
import torch


def as_float64_matrix(value, name: str) -> np.ndarray:
    """A finite 2-D float64 numpy array from an array, tensor or nested list."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric 2-D array, got {type(value).__name__}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x dims), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one row and one dim")
    check_finite_array(arr, name)
    return arr


def check_finite_array(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)}); clean or drop those rows")


def check_finite_tensor(t: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        raise ValueError(f"{name} holds NaN or inf (first at index {tuple(bad)}); check the encoder outputs")


def check_choice(value, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
