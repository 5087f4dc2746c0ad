"""Multivariate Student-t closed forms: a non-Gaussian family with exact TC and exact terms.

Formulas: docs/math.md#multivariate-t.

For ``x ~ t_nu(0, Sigma)`` every marginal x_S is ``t_nu(0, Sigma_SS)`` with the same nu, and

    H(x_S) = 1/2 log det Sigma_SS + c(|S|),
    c(d) = d/2 log(nu pi) + lgamma(nu/2) - lgamma((nu+d)/2) + (nu+d)/2 [psi((nu+d)/2) - psi(nu/2)]

(e.g. Kotz & Nadarajah, *Multivariate t Distributions*, 2004). Hence any term
``I(x_G1; ...; x_Gm)`` is its Gaussian value for Sigma plus ``sum_j c(|G_j|) - c(|union|)``,
which is positive even for Sigma = I: the shared scale makes the coordinates dependent.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import digamma, gammaln

from ._checks import check_dims, check_positive_int
from ._constants import LOG_2PI
from .gaussian import check_covariance, logdet_spd
from .source import Source

#: above this df / 2, log-gamma and digamma differences come from their asymptotic series: the direct
#: differences of values of size df log df cancel catastrophically (0.25 nats off at df = 1e14).
ASYMPTOTIC_HALF_DF = 100.0
#: the smallest df accepted: c(d) grows like d / df, so its differences keep about 1e-16 / df nats of precision
MIN_DF = 1e-6


def _log_gamma_ratio_excess(a: float, h: float) -> float:
    """lgamma(a + h) - lgamma(a) - h log a, accurate for large a (Stirling's series, A&S 6.1.41)."""
    if a < ASYMPTOTIC_HALF_DF:
        return float(gammaln(a + h) - gammaln(a)) - h * math.log(a)
    b = a + h
    ib, ia = 1.0 / b, 1.0 / a
    # (b - 1/2) log b - b - [(a - 1/2) log a - a] - h log a, regrouped around log1p(h / a) so nothing cancels.
    return (b - 0.5) * math.log1p(h / a) - h + (ib - ia) / 12 - (ib**3 - ia**3) / 360 + (ib**5 - ia**5) / 1260


def _digamma_difference(a: float, h: float) -> float:
    """digamma(a + h) - digamma(a), accurate for large a (A&S 6.3.18)."""
    if a < ASYMPTOTIC_HALF_DF:
        return float(digamma(a + h) - digamma(a))
    ib, ia = 1.0 / (a + h), 1.0 / a
    return math.log1p(h / a) - 0.5 * (ib - ia) - (ib**2 - ia**2) / 12 + (ib**4 - ia**4) / 120 - (ib**6 - ia**6) / 252


def t_entropy_offset(d: int, df: float) -> float:
    """c(d): the entropy of a d-dim t_nu(0, Sigma) minus 1/2 log det Sigma; tends to d/2 log(2 pi e) as df grows."""
    a, h = df / 2.0, d / 2.0
    # d/2 log(nu pi) - h log(nu / 2) = h log(2 pi): the large logs cancel exactly.
    return h * LOG_2PI - _log_gamma_ratio_excess(a, h) + (a + h) * _digamma_difference(a, h)


class StudentT(Source):
    """Closed-form TC and decompositions of a multivariate Student-t ``t_df(0, scale)`` (float64).

    Uncorrelated t coordinates are still dependent through their shared scale:

    >>> round(float(StudentT([[1.0, 0.0], [0.0, 1.0]], df=5).total_correlation()), 4)
    0.0171
    """

    label = "analytic"

    def __init__(self, scale, df: float):
        self.scale = check_covariance(scale, "scale")
        if isinstance(df, bool) or not isinstance(df, (int, float)) or not math.isfinite(df) or df < MIN_DF:
            raise ValueError(
                f"df must be a finite number of degrees of freedom >= {MIN_DF}, got {df!r} (below it the "
                "entropies grow like d/df and their differences lose every digit)"
            )
        self.df = float(df)
        self.n_dims = self.scale.shape[0]

    def entropy(self, dims=None) -> float:
        """``H(x_S)`` for the set ``dims`` (all dims by default)."""
        idx = np.arange(self.n_dims) if dims is None else np.asarray(sorted(check_dims(dims, self.n_dims)))
        return 0.5 * logdet_spd(self.scale[np.ix_(idx, idx)]) + t_entropy_offset(len(idx), self.df)

    def _set_stats(self, sets):
        return np.array([-self.entropy(s) for s in sets]), None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws: a Gaussian with covariance ``scale`` divided by sqrt(chi2_df / df)."""
        n = check_positive_int(n, "n")
        z = rng.standard_normal((n, self.n_dims)) @ np.linalg.cholesky(self.scale).T
        return z / np.sqrt(rng.chisquare(self.df, size=n) / self.df)[:, None]

    def __repr__(self) -> str:
        return f"StudentT(n_dims={self.n_dims}, df={self.df})"


def t_log_density(x: np.ndarray, loc: np.ndarray, chol: np.ndarray, df: float) -> np.ndarray:
    """log t_df(x; loc, L L^T) per row, with the scale given by its Cholesky factor L."""
    d = x.shape[1]
    white = solve_triangular(chol, (x - loc).T, lower=True)
    maha = np.sum(white * white, axis=0)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return (
        _log_gamma_ratio_excess(df / 2.0, d / 2.0)
        - 0.5 * d * LOG_2PI
        - 0.5 * logdet
        - 0.5 * (df + d) * np.log1p(maha / df)
    )


def fit_student_t(x: np.ndarray, max_iter: int = 500, tol: float = 1e-9):
    """Maximum-likelihood ``(loc, scale, df)`` of a multivariate t by ECME (Liu & Rubin 1995).

    E-step: weights w_i = (df + d) / (df + delta_i) with delta_i the Mahalanobis distance;
    CM-steps: loc and scale are the w-weighted mean and scatter / n, then df maximises the
    observed log-likelihood on (0.5, 1e4) (a large df means the data look Gaussian).
    """
    from scipy.optimize import minimize_scalar

    n, d = x.shape
    loc, scale, df = x.mean(0), np.cov(x, rowvar=False).reshape(d, d), 10.0
    previous = -math.inf
    for _ in range(max_iter):
        chol = np.linalg.cholesky(scale)
        white = solve_triangular(chol, (x - loc).T, lower=True)
        maha = np.sum(white * white, axis=0)
        w = (df + d) / (df + maha)
        loc = (w[:, None] * x).sum(0) / w.sum()
        centred = x - loc
        scale = (w[:, None] * centred).T @ centred / n
        chol = np.linalg.cholesky(scale)
        white = solve_triangular(chol, centred.T, lower=True)
        maha = np.sum(white * white, axis=0)
        logdet = 2.0 * np.sum(np.log(np.diag(chol)))

        def neg_loglik(log_df):
            v = math.exp(log_df)
            return -np.sum(
                gammaln((v + d) / 2) - gammaln(v / 2) - 0.5 * d * math.log(v) - 0.5 * (v + d) * np.log1p(maha / v)
            )

        df = math.exp(
            minimize_scalar(
                neg_loglik, bounds=(math.log(0.5), math.log(1e4)), method="bounded", options={"xatol": 1e-6}
            ).x
        )
        loglik = -neg_loglik(math.log(df)) - n * (0.5 * d * math.log(math.pi) + 0.5 * logdet)
        if loglik - previous <= tol * abs(loglik):
            break
        previous = loglik
    return loc, scale, df
