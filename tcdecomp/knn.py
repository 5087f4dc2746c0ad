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
    dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf)
    # Counting points strictly inside eps: shrink the radius by one ulp.
    radius = np.nextafter(dist[:, k], 0.0)
    total = np.zeros(n)
    for g in groups:
        part = x[:, np.asarray(g)]
        counts = cKDTree(part).query_ball_point(part, r=radius, p=np.inf, return_length=True) - 1
        total += digamma(counts + 1.0)
    m = len(groups)
    return digamma(k) + (m - 1) * digamma(n) - total
