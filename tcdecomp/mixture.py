"""Gaussian mixtures with full covariances: EM fitting and the exact log density of any marginal.

A mixture's marginal over a set S of dims is again a mixture, of the components' marginals
``N(mu_kS, Sigma_kSS)`` with the same weights, so every set's log density is exact from one fit
(docs/math.md#gaussian-mixture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from ._constants import LOG_2PI

#: added to every covariance's diagonal (relative to the data's unit scale): keeps a component that collapses
#: onto a few rows from a singular covariance
REGULARISATION = 1e-6


@dataclass(frozen=True)
class GaussianMixture:
    weights: np.ndarray  # K
    means: np.ndarray  # K x D
    covariances: np.ndarray  # K x D x D

    def component_log_densities(self, x: np.ndarray, dims) -> np.ndarray:
        """n x K: log w_k + log N(x_S; mu_kS, Sigma_kSS) for the set ``dims`` (x holds all D columns)."""
        idx = np.asarray(dims)
        out = np.empty((x.shape[0], len(self.weights)))
        for k in range(len(self.weights)):
            chol = np.linalg.cholesky(self.covariances[k][np.ix_(idx, idx)])
            white = solve_triangular(chol, (x[:, idx] - self.means[k, idx]).T, lower=True)
            out[:, k] = (
                math.log(self.weights[k])
                - 0.5 * len(idx) * LOG_2PI
                - float(np.sum(np.log(np.diag(chol))))
                - 0.5 * np.sum(white * white, axis=0)
            )
        return out

    def log_density(self, x: np.ndarray, dims) -> np.ndarray:
        """log p(x_S) per row for the set ``dims``."""
        return logsumexp(self.component_log_densities(x, dims), axis=1)


def fit_gaussian_mixture(
    x: np.ndarray, components: int, rng: np.random.Generator, restarts: int = 3, max_iter: int = 300, tol: float = 1e-7
) -> GaussianMixture:
    """Maximum-likelihood mixture by EM (Dempster, Laird & Rubin 1977), the best of ``restarts`` starts: one from
    k-means++ seeds, the others from random soft assignments, which find components that share a mean and differ
    in covariance (a k-means start cannot tell those apart)."""
    n = x.shape[0]
    best, best_loglik = None, -math.inf
    for start in range(1 if components == 1 else restarts):
        resp = _kmeans_start(x, components, rng) if start == 0 else rng.dirichlet(np.ones(components), size=n)
        mixture, loglik = _em(x, resp, max_iter, tol)
        if loglik > best_loglik:
            best, best_loglik = mixture, loglik
    return best


def _kmeans_start(x: np.ndarray, components: int, rng: np.random.Generator) -> np.ndarray:
    n = x.shape[0]
    centres = [x[rng.integers(n)]]
    for _ in range(1, components):  # k-means++ seeding: far points are likelier
        dist = np.min([np.sum((x - c) ** 2, axis=1) for c in centres], axis=0)
        centres.append(x[rng.choice(n, p=dist / dist.sum())])
    labels = np.argmin([np.sum((x - c) ** 2, axis=1) for c in centres], axis=0)
    return np.eye(components)[labels]


def _em(x: np.ndarray, resp: np.ndarray, max_iter: int, tol: float) -> tuple[GaussianMixture, float]:
    all_dims = np.arange(x.shape[1])
    previous = -math.inf
    for _ in range(max_iter):
        mixture = _m_step(x, resp)
        log_joint = mixture.component_log_densities(x, all_dims)
        log_norm = logsumexp(log_joint, axis=1)
        resp = np.exp(log_joint - log_norm[:, None])
        loglik = float(log_norm.mean())
        if loglik - previous <= tol * max(1.0, abs(loglik)):
            break
        previous = loglik
    return mixture, loglik


def _m_step(x: np.ndarray, resp: np.ndarray) -> GaussianMixture:
    n, d = x.shape
    counts = resp.sum(0) + 10 * np.finfo(float).eps
    means = resp.T @ x / counts[:, None]
    covariances = np.empty((len(counts), d, d))
    for k in range(len(counts)):
        centred = x - means[k]
        covariances[k] = (resp[:, k, None] * centred).T @ centred / counts[k] + REGULARISATION * np.eye(d)
    return GaussianMixture(counts / n, means, covariances)
