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

import logging
import warnings

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

logger = logging.getLogger(__name__)


def ksg_multi_information(x: np.ndarray, groups, k: int = 3) -> np.ndarray:
    """Per-sample KSG terms whose mean estimates ``I(x_G1; ...; x_Gm)`` (nats)."""
    return ksg_with_influence(x, groups, k)[0]


def ksg_with_influence(x: np.ndarray, groups, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample KSG terms (their mean is the estimate) and each row's delete-one jackknife pseudo-value.

    The per-sample terms are not independent: a row also sits in other rows' marginal strips and
    among their k nearest neighbours, so dropping it moves their counts too. Their spread alone
    under-states the estimate's standard error (by 1.2-1.5x on independent Gaussian data). The
    pseudo-values add those effects exactly (docs/math.md#ksg-standard-error), so the spread of
    the pseudo-values over sqrt(n) is the delete-one jackknife standard error, which is never
    below the true one in expectation (Efron & Stein 1981).
    """
    n = x.shape[0]
    union = np.asarray(sorted(d for g in groups for d in g))
    joint = x[:, union]
    neighbours = min(k + 2, n)
    dist, index = cKDTree(joint).query(joint, k=neighbours, p=np.inf, workers=-1)
    # Count points strictly inside eps. The shrink is far above the rounding of x +- r in the
    # one-dim search, so the neighbour that sets eps is never counted, and far below any real gap.
    radius = dist[:, k] * (1.0 - 1e-9)
    # The eps a row gets once one of its k nearest neighbours is dropped: the next neighbour's distance.
    wider = dist[:, k + 1] * (1.0 - 1e-9) if neighbours == k + 2 else radius
    own = np.zeros(n)  # sum_g psi(n_g + 1): the row's own count term
    change = np.zeros(n)  # how dropping row i moves the other rows' count terms, summed over them
    grown = np.zeros(n)  # a row's count term with the wider eps, less the dropped neighbour
    back = np.zeros((n, k))  # the strip change counted for a row's own k neighbours, to be replaced
    for g in groups:
        points = x[:, np.asarray(g)]
        counts, wider_counts, strip_sum = _strip_counts(points, radius, wider)
        own += digamma(counts + 1.0)
        grown += digamma(np.maximum(wider_counts, 1))
        # Dropping i lowers n_g(j) by one for every j whose strip holds i: psi(c + 1) - psi(c) = 1 / c.
        change -= strip_sum
        gaps = np.max(np.abs(points[index[:, 1 : k + 1]] - points[:, None, :]), axis=2)
        back += np.where(gaps < radius[:, None], 1.0 / np.maximum(counts, 1)[:, None], 0.0)
    # A row that loses one of its k nearest neighbours gets the wider eps instead of the strip change.
    for col in range(k):
        np.add.at(change, index[:, col + 1], back[:, col] + grown - own)
    values = digamma(k) + (len(groups) - 1) * digamma(n) - own
    return values, change - own


def _strip_counts(points: np.ndarray, radius: np.ndarray, wider: np.ndarray, block: int = 1024):
    """Per row j: how many other rows lie within max-norm ``radius[j]`` of it and within ``wider[j]``, and
    per row i: the sum of 1 / count_j over the rows j whose ``radius`` strip holds i (reverse counts)."""
    n = points.shape[0]
    if points.shape[1] == 1:  # one dim: binary searches in the sorted values, O(n log n) whatever the counts
        values = points[:, 0]
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        lower = np.searchsorted(ordered, values - radius, side="right")
        upper = np.searchsorted(ordered, values + radius, side="left")
        counts = upper - lower - 1
        wide = np.searchsorted(ordered, values + wider, side="left") - np.searchsorted(
            ordered, values - wider, side="right"
        )
        weight = 1.0 / np.maximum(counts, 1)
        edges = np.zeros(n + 1)  # each j covers the sorted positions lower..upper-1: a difference array
        np.add.at(edges, lower, weight)
        np.add.at(edges, upper, -weight)
        reverse = np.empty(n)
        reverse[order] = np.cumsum(edges)[:n]
        return counts, wide - 1, reverse - weight  # j is in its own strip, not its own neighbour
    # Several dims: each block's balls at the wider eps, sorted into the two radii (memory: a block's counts).
    tree = cKDTree(points)
    counts, wide, reverse = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.zeros(n)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        members = tree.query_ball_point(points[rows], r=wider[rows], p=np.inf, workers=-1)
        sizes = np.fromiter((len(m) for m in members), dtype=np.int64, count=len(rows))
        owner = np.repeat(rows, sizes)
        member = np.concatenate(members).astype(np.int64)
        inside = np.max(np.abs(points[member] - points[owner]), axis=1) < radius[owner]
        counts[rows] = np.bincount(owner[inside] - start, minlength=len(rows)) - 1
        wide[rows] = sizes - 1
        weight = 1.0 / np.maximum(counts[rows], 1)
        np.add.at(reverse, member[inside], weight[owner[inside] - start])
        reverse[rows] -= weight
    return counts, wide, reverse


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
#: inputs of a precision coarser than this (float16: 1e-3, bfloat16: 8e-3) repeat values by rounding alone
LOW_PRECISION_EPSILON = 1e-4


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
    rng = np.random.default_rng([random_state, 2])  # its own stream: never the user's default_rng(random_state)
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
        if repeats > MAX_STRAY_TIES * n and epsilon > LOW_PRECISION_EPSILON:
            # Data that came in float16 or bfloat16 repeat values by rounding: spread each value over its own
            # rounding interval, as a grid's values over their step.
            spread = 0.5 * epsilon * np.maximum(np.abs(x[:, j]), 1e-3 * float(np.std(x[:, j])))
            out[:, j] += rng.uniform(-1.0, 1.0, size=n) * spread
            dequantised.append((j, float(np.median(spread))))
            continue
        if repeats > MAX_STRAY_TIES * n:
            order = np.argsort(x[:, j], kind="stable")
            tie = np.flatnonzero(np.diff(x[order, j]) == 0)[0]
            rows = sorted(int(r) for r in order[tie : tie + 2])
            raise ValueError(
                f"x column {j} repeats {repeats} of its {n} values (e.g. rows {rows[0]} and {rows[1]}) on no regular "
                "grid: KSG assumes distinct points and is biased upward by repeats; drop repeated rows "
                "(np.unique(x, axis=0)) or add noise at your data's own resolution"
            )
        # A few stray ties (values equal by floating-point coincidence) move no estimate: noise at the data's
        # own precision separates them without a warning, which would wrongly call the column rounded.
        scale = 4.0 * epsilon * max(float(np.max(np.abs(x[:, j]))), float(np.std(x[:, j])))
        out[:, j] += rng.uniform(-scale, scale, size=n)
        logger.debug("knn: column %d repeats %d of its %d values; separated at scale %.3g", j, repeats, n, scale)
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
