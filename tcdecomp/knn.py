"""Kraskov-Stoegbauer-Grassberger (KSG) estimator of multi-information.

Estimator 1 of Kraskov, Stoegbauer & Grassberger, Phys. Rev. E 69, 066138 (2004),
eq. (8) and its m-variable form (their eq. 9 with the first algorithm):

    I(X_1; ...; X_m) = psi(k) + (m - 1) psi(n) - < sum_j psi(n_j + 1) >,

where eps_i is the max-norm distance from point i to its k-th neighbour in the
joint space and n_j counts the points strictly closer than eps_i in X_j's space.
"""
from __future__ import annotations

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
