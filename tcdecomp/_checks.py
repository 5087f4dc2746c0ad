"""Argument checks shared by the public entry points (each error names the argument and the fix)."""

from __future__ import annotations

import math
import operator

import numpy as np
import torch


def refuse_silent_conversion(value, name: str) -> None:
    """Complex and boolean inputs would lose information (or meaning) in a cast to float: refuse them."""
    if isinstance(value, torch.Tensor):
        complex_, boolean = value.is_complex(), value.dtype == torch.bool
    else:
        try:
            kind = np.asarray(value).dtype.kind
        except (TypeError, ValueError):  # ragged or odd input: the conversion itself will say so
            return
        complex_, boolean = kind == "c", kind == "b"
    if complex_:
        raise ValueError(
            f"{name} is complex; TC is defined for real data: pass the real and imaginary parts as separate columns"
        )
    if boolean:
        raise ValueError(f"{name} is boolean; cast it to float yourself if you mean 0/1 data")


def as_float64_matrix(value, name: str, columns=None) -> np.ndarray:
    """A finite 2-D float64 numpy array from an array, tensor or nested list (``columns``: its names, for errors)."""
    refuse_silent_conversion(value, name)
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
    check_finite_array(arr, name, columns)
    return arr


def input_epsilon(value) -> float:
    """The machine epsilon of the precision ``value`` was given in (float64 for anything else)."""
    dtype = value.dtype if isinstance(value, (np.ndarray, torch.Tensor)) else None
    if isinstance(dtype, torch.dtype):
        return (
            torch.finfo(dtype).eps
            if dtype.is_floating_point and dtype != torch.float64
            else float(np.finfo(np.float64).eps)
        )
    if dtype is not None and dtype.kind == "f" and dtype.itemsize < 8:
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def check_float_matrix(value, name: str, numpy_ok: bool = False) -> torch.Tensor:
    """A non-empty 2-D floating tensor (from a numpy array too with ``numpy_ok``); no finiteness check."""
    if numpy_ok and isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        kinds = "a torch.Tensor or numpy array" if numpy_ok else "a torch.Tensor"
        raise ValueError(f"{name} must be {kinds}, got {type(value).__name__}")
    if not value.dtype.is_floating_point:
        raise ValueError(f"{name} must be floating point, got {value.dtype}")
    if value.dim() != 2:
        raise ValueError(f"{name} must be 2-D (rows x dims), got shape {tuple(value.shape)}")
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(value.shape)})")
    return value


def check_finite_array(arr: np.ndarray, name: str, columns=None) -> None:
    """Refuse NaN and inf; where the columns have names (a table's missing values are NaN by then), by name."""
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        if columns is not None and len(columns) == arr.shape[1]:  # a count mismatch is refused by the caller
            raise ValueError(
                f"{name}: column {columns[bad[1]]!r} holds NaN, inf or a missing value (first at row {bad[0]}); "
                "clean or drop those rows"
            )
        raise ValueError(
            f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)}); clean or drop those rows"
        )


def check_finite_tensor(t: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        raise ValueError(f"{name} holds NaN or inf (first at index {tuple(bad)}); check the encoder outputs")


def check_choice(value, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_seed(value, name: str) -> int:
    """A seed for numpy's and torch's generators: a non-negative integer below 2**63 (torch's limit)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**63:
        raise ValueError(f"{name} must be a non-negative integer below 2**63, got {value!r}")
    return int(value)


def check_bool(value, name: str) -> bool:
    """A flag; a string such as "no" would otherwise read as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(value, name: str, bound: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or (value <= 0 if bound == "> 0" else value < 0)
    ):
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_positive_float(value, name: str) -> float:
    """A finite number > 0 (ints accepted, bools and strings refused)."""
    return _check_real(value, name, "> 0")


def check_weight(value, name: str) -> float:
    """A finite number >= 0, e.g. a loss weight (ints accepted, bools and strings refused)."""
    return _check_real(value, name, ">= 0")


def as_dim(value, name: str) -> int:
    """An integer dim index: ints and numpy integers only (0.5 or 1.0 would be a silent conversion)."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (float, np.floating)):
        raise ValueError(f"{name} must hold integer dims, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must hold integer dims, got {value!r}") from None


def check_dims(dims, n_dims: int, name: str = "dims") -> list[int]:
    """A non-empty list of distinct dims in 0..n_dims-1; negative indices are refused, not wrapped."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise ValueError(f"{name} must be an iterable of dims in 0..{n_dims - 1}, got {dims!r}")
    out = [as_dim(d, name) for d in dims]
    if not out:
        raise ValueError(f"{name} is empty; pass at least one dim")
    bad = [d for d in out if not 0 <= d < n_dims]
    if bad:
        raise ValueError(f"{name} holds {bad[0]}, out of range 0..{n_dims - 1} (negative dims are not wrapped)")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} repeats a dim: {out}")
    return out


#: columns count as linearly dependent when a standardised singular value falls below this many
#: machine epsilons (of the precision the data came in) times the largest: rounding residue of an
#: exact linear relation sits near 1 epsilon, and float64 cannot resolve a pair's TC beyond ~28 nats.
RANK_TOLERANCE_EPSILONS = 1000.0
#: ... but never above this share of the largest: in float16 or bfloat16 (epsilon 1e-3 or 8e-3) a thousand
#: epsilons would call every pair dependent; 1% is a pair correlation of 0.9998 (TC 3.9 nats), about what
#: data carried in those formats can tell from an exact relation.
MAX_RANK_TOLERANCE = 1e-2


def column_list(indices, columns=None) -> str:
    """Columns as an error message names them: their names where the data has names, else their indices."""
    return str([columns[i] for i in indices] if columns is not None else [int(i) for i in indices])


def check_not_constant(x: np.ndarray, name: str = "x", columns=None) -> None:
    const = np.flatnonzero(np.all(x == x[:1], axis=0)).tolist()
    if const:
        raise ValueError(
            f"{name} has constant columns {column_list(const, columns)}; "
            "TC is undefined for a degenerate dim, drop them"
        )


def check_linearly_independent(x: np.ndarray, epsilon: float, name: str = "x", columns=None) -> None:
    """Refuse exactly (up to the data's precision) linearly dependent columns, naming them.

    The test is on the singular values of the standardised columns (scale-free, like TC), taken
    from the R factor of a QR, never from the covariance, whose rounding would square the
    condition number and make the outcome depend on the seed."""
    n, d = x.shape
    if n <= d or d < 2:
        return
    centred = x / np.max(np.abs(x), axis=0)  # first to unit range, so that no square overflows
    centred = centred - centred.mean(axis=0)
    standardised = centred / np.sqrt(np.mean(centred * centred, axis=0))
    r = np.linalg.qr(standardised, mode="r")
    _, singular, vt = np.linalg.svd(r)
    tolerance = min(RANK_TOLERANCE_EPSILONS * epsilon, MAX_RANK_TOLERANCE) * singular[0]
    null = vt[singular < tolerance]
    if len(null):
        weights = np.abs(null).max(axis=0)
        cols = np.flatnonzero(weights > 1e-6 * weights.max()).tolist()
        raise ValueError(
            f"{name} has linearly dependent columns {column_list(cols, columns)} (a standardised singular value "
            f"{singular[-1] / singular[0]:.2g} of the largest, below {tolerance / singular[0]:.2g}): "
            "their TC is infinite; drop one of them"
        )


def check_no_monotone_pairs(x: np.ndarray, skip=(), name: str = "x", columns=None) -> None:
    """Refuse two columns with the same (or the reversed) rank order: on the sample one is a strictly monotone
    function of the other, so their TC is infinite whatever the margins. Columns in ``skip`` (discrete data,
    whose monotone relations have finite TC) are left out."""
    from scipy.stats import rankdata

    n, d = x.shape
    if n < 3:
        return
    seen = {}
    for j in range(d):
        if j in skip:
            continue
        ranks = rankdata(x[:, j])
        for key in (ranks.tobytes(), (n + 1 - ranks).tobytes()):
            if key in seen:
                i = seen[key]
                raise ValueError(
                    f"{name} columns {column_list((i, j), columns)} are strictly monotone functions of each other "
                    "(the same rank order in every row): their TC is infinite; drop one of them"
                )
        seen[ranks.tobytes()] = j
