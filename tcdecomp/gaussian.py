"""Gaussian closed forms (docs/math.md#the-wishart-log-det-correction for the sample versions).

For ``z ~ N(m, Sigma)`` and a set of dims S,
``H(z_S) = 1/2 log det(2 pi e Sigma_SS)``, hence
``TC = 1/2 (sum_i log Sigma_ii - log det Sigma)`` and
``I(A; B) = 1/2 (log det Sigma_AA + log det Sigma_BB - log det Sigma_{A u B})``.
"""

from __future__ import annotations

import numpy as np

from ._checks import RANK_TOLERANCE_EPSILONS, as_float64_matrix, check_dims
from ._constants import LOG_2PI_E
from .source import Source


def logdet_spd(matrix: np.ndarray) -> float:
    """log det of a symmetric positive-definite matrix through its Cholesky factor."""
    chol = np.linalg.cholesky(matrix)
    return 2.0 * float(np.sum(np.log(np.diag(chol))))


def check_covariance(cov, name: str = "cov") -> np.ndarray:
    cov = as_float64_matrix(cov, name)
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be square (D x D), got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov))), 1e-300)
    if not np.allclose(cov, cov.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(f"{name} must be symmetric; symmetrise it with (cov + cov.T) / 2")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite; every eigenvalue must be > 0") from None
    # Scale-free, as TC is: the correlation matrix's eigenvalues. One within rounding of 0 means dependent dims
    # (infinite TC), and sub-blocks of such a matrix may fail to factorise however the whole one did.
    sd = np.sqrt(np.diag(cov))
    eigenvalues, vectors = np.linalg.eigh(cov / sd[:, None] / sd[None, :])
    if eigenvalues[0] < RANK_TOLERANCE_EPSILONS * np.finfo(np.float64).eps * eigenvalues[-1]:
        weights = np.abs(vectors[:, 0])
        dims = np.flatnonzero(weights > 1e-6 * weights.max()).tolist()
        raise ValueError(
            f"{name} is singular to working precision (dims {dims} are linearly dependent, a relative "
            f"eigenvalue of {eigenvalues[0] / eigenvalues[-1]:.2g}): their TC is infinite"
        )
    return cov


def gaussian_entropy(cov, dims=None) -> float:
    """Differential entropy in nats of ``N(., cov)`` restricted to ``dims`` (all by default)."""
    cov = check_covariance(cov)
    idx = np.arange(cov.shape[0]) if dims is None else np.asarray(sorted(check_dims(dims, cov.shape[0])))
    return 0.5 * (len(idx) * LOG_2PI_E + logdet_spd(cov[np.ix_(idx, idx)]))


class Gaussian(Source):
    """Closed-form TC and decompositions of ``N(0, cov)`` in float64.

    >>> float(Gaussian([[1.0, 0.5], [0.5, 1.0]]).total_correlation())  # -1/2 log(1 - 0.25)
    0.1438410362258904
    """

    label = "analytic"

    def __init__(self, cov):
        self.cov = check_covariance(cov)
        self.n_dims = self.cov.shape[0]

    def entropy(self, dims=None) -> float:
        """``H(z_S)`` for the set ``dims`` (all dims by default)."""
        idx = np.arange(self.n_dims) if dims is None else np.asarray(sorted(check_dims(dims, self.n_dims)))
        return 0.5 * (len(idx) * LOG_2PI_E + logdet_spd(self.cov[np.ix_(idx, idx)]))

    def _set_stats(self, sets):
        values = np.array([-self.entropy(s) for s in sets])
        return values, None

    def __repr__(self) -> str:
        return f"Gaussian(n_dims={self.n_dims})"
