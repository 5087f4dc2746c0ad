"""The variance of a plug-in term at independence: the second-order part of its standard error.

A plug-in estimate's delta-method standard error comes from each row's influence. At
independence that first-order term vanishes (every term is at its minimum, 0), and what is left
is the second-order spread of a likelihood-ratio statistic. For Gaussian rows it is exact:
``-2 log`` of a Wilks Lambda is a sum of independent log-Beta variables (docs/math.md#variance-at-independence),

    Var[I(x_G1; ...; x_Gm)] = 1/4 sum_{k=2..m} sum_{i=1..p_k} [psi'((n - q_k - i)/2) - psi'((n - i)/2)],

with p_k = |G_k| and q_k = |G_1| + ... + |G_{k-1}|. Added to the delta-method variance it keeps a
standard error from collapsing to nothing on independent data, where the estimate is noise of
exactly this size; away from independence it is O(1/n^2) against the O(1/n) first-order term.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import polygamma


def wilks_null_variance(n: int, groups) -> float:
    """The variance of the Wishart-corrected Gaussian estimate of ``I(x_G1; ...; x_Gm)`` over n independent
    Gaussian rows (n > the number of dims in the groups).

    >>> round(wilks_null_variance(1000, [[0], [1]]) * 1000**2, 2)  # about dof / 2 = 1 / 2 for large n
    0.5
    """
    total, before = 0.0, 0
    for k, group in enumerate(groups):
        p = len(group)
        if k:
            i = np.arange(1, p + 1)
            total += float(np.sum(polygamma(1, (n - before - i) / 2.0) - polygamma(1, (n - i) / 2.0)))
        before += p
    return total / 4.0


def kendall_variance_ratio(n: int) -> float:
    """How much more a correlation ``sin(pi tau / 2)`` from Kendall's tau varies at independence than a
    Pearson correlation (variance ``1 / (n - 1)``): ``pi^2 (2n + 5) / (18 n)``, from the exact null variance of
    tau, ``2 (2n + 5) / (9 n (n - 1))`` (Kendall 1938), by the delta method. Tends to ``pi^2 / 9 = 1.097``.

    >>> round(kendall_variance_ratio(10**9), 4)
    1.0966
    """
    return math.pi**2 * (2 * n + 5) / (18.0 * n)
