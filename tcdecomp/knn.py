"""Kraskov-Stoegbauer-Grassberger (KSG) estimator of multi-information (docs/math.md#ksg).

Estimator 1 of Kraskov, Stoegbauer & Grassberger, Phys. Rev. E 69, 066138 (2004),
eq. (8) and its m-variable form (their eq. 9 with the first algorithm):

    I(X_1; ...; X_m) = psi(k) + (m - 1) psi(n) - < sum_j psi(n_j + 1) >,

where eps_i is the max-norm distance from point i to its k-th neighbour in the
joint space and n_j counts the points strictly closer than eps_i in X_j's space.

KSG assumes distinct points from a continuous distribution. :func:`break_ties` prepares
data that has ties: columns whose values lie on a regular grid (rounded or discrete data)
are dequantised with uniform noise of one grid step (a warning names them); a few stray
ties get noise at the data's own precision; repeated rows of continuous data raise.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def ksg_multi_information(x: np.ndarray, groups, k: int = 3) -> np.ndarray:
    """Per-sample KSG terms whose mean estimates ``I(x_G1; ...; x_Gm)`` (nats)."""
    n = x.shape[0]
    union = np.asarray(sorted(d for g in groups for d in g))
    joint = x[:, union]
    dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=-1)
    # Count points strictly inside eps. The shrink is far above the rounding of x +- r in the
    # one-dim search, so the neighbour that sets eps is never counted, and far below any real gap.
    radius = dist[:, k] * (1.0 - 1e-9)
    total = np.zeros(n)
    for g in groups:
        total += digamma(count_within(x[:, np.asarray(g)], radius) + 1.0)
    m = len(groups)
    return digamma(k) + (m - 1) * digamma(n) - total


def count_within(points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """For each point i, how many other points lie within max-norm distance radius[i]."""
    if points.shape[1] == 1:
        # One dim: two binary searches in the sorted values, O(n log n) whatever the counts.
        values = points[:, 0]
        ordered = np.sort(values)
        upper = np.searchsorted(ordered, values + radius, side="right")
        lower = np.searchsorted(ordered, values - radius, side="left")
        return upper - lower - 1
    return cKDTree(points).query_ball_point(points, r=radius, p=np.inf, return_length=True, workers=-1) - 1


#: a grid counts as the data's resolution when its step is at least this fraction of the column's range
#: (finer "grids" are the float format's own spacing, not rounding)
GRID_MIN_STEP = 1e-6
#: more repeated values than this fraction of the rows, off any grid, is duplicated data: refused
MAX_STRAY_TIES = 0.01


def _grid_step(values: np.ndarray) -> float | None:
    """The step of the regular grid the sorted distinct ``values`` lie on, or None."""
    if len(values) < 2:
        return None
    step = float(np.min(np.diff(values)))
    span = float(values[-1] - values[0])
    if step < GRID_MIN_STEP * span:
        return None
    units = (values - values[0]) / step
    return step if np.allclose(units, np.round(units), rtol=0.0, atol=1e-6) else None


def break_ties(x: np.ndarray, epsilon: float, random_state: int = 0) -> np.ndarray:
    """x with its ties broken the way KSG needs (see the module docstring); ``epsilon`` is the
    machine epsilon of the precision the data came in."""
    rng = np.random.default_rng(random_state)
    out = x.copy()
    dequantised = []
    n = len(x)
    for j in range(x.shape[1]):
        values = np.unique(x[:, j])
        if len(values) == n:
            continue
        step = _grid_step(values)
        if step is not None:
            out[:, j] += rng.uniform(-0.5 * step, 0.5 * step, size=n)
            dequantised.append((j, step))
            continue
        repeats = n - len(values)
        if repeats > MAX_STRAY_TIES * n:
            order = np.argsort(x[:, j], kind="stable")
            tie = np.flatnonzero(np.diff(x[order, j]) == 0)[0]
            rows = sorted(int(r) for r in order[tie : tie + 2])
            raise ValueError(
                f"x column {j} repeats {repeats} of its {n} values (e.g. rows {rows[0]} and {rows[1]}) on no regular "
                "grid: KSG assumes distinct points and is biased upward by repeats; drop repeated rows "
                "(np.unique(x, axis=0)) or add noise at your data's own resolution"
            )
        scale = 4.0 * epsilon * max(float(np.max(np.abs(x[:, j]))), float(np.std(x[:, j])))
        out[:, j] += rng.uniform(-scale, scale, size=n)
        dequantised.append((j, scale))
    if dequantised:
        cols = [j for j, _ in dequantised]
        steps = ", ".join(f"{s:.3g}" for _, s in dequantised)
        warnings.warn(
            f"knn: columns {cols} of x hold ties (rounded, discrete or low-precision data), which bias KSG "
            f"upward; each tied column got uniform noise of one step of its grid (steps {steps}): "
            "KSG then estimates the dequantised (continuous) data",
            UserWarning,
            stacklevel=3,
        )
    return out
