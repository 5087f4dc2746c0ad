"""Ground-truth families: distributions whose TC and every decomposition term are known."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import brentq

from ..gaussian import Gaussian
from ..mixture import GaussianMixture
from ..source import Source
from ..student_t import StudentT


@dataclass
class SampleFamily:
    """A distribution to draw raw samples from, with its closed-form source as the truth."""

    name: str
    truth: Source
    sample: Callable[[int, np.random.Generator], np.ndarray]
    #: margins far from Gaussian (exp, cube, ...): TC is unchanged, but knn's neighbourhoods are not
    skewed: bool = False


def example_covariance(n_dims: int = 8) -> np.ndarray:
    """``tcdecomp estimate --example``'s Gaussian: correlation 0.8 within pairs (0,1), (2,3), ...,
    and 0.3^|i-j| between the other dims."""
    idx = np.arange(n_dims)
    cov = 0.3 ** np.abs(idx[:, None] - idx[None, :])
    same_pair = (idx[:, None] // 2) == (idx[None, :] // 2)
    return np.where(same_pair & (idx[:, None] != idx[None, :]), 0.8, cov)


def equicorrelated_cov(d: int, tc: float) -> np.ndarray:
    """The equicorrelated correlation matrix of dimension d whose Gaussian TC is ``tc`` nats."""
    f = lambda r: -0.5 * ((d - 1) * np.log(1 - r) + np.log(1 + (d - 1) * r)) - tc
    rho = brentq(f, 1e-12, 1 - 1e-12)
    return (1 - rho) * np.eye(d) + rho * np.ones((d, d))


def random_cov(d: int, rng: np.random.Generator, condition: float = 20.0) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.exp(rng.uniform(0, np.log(condition), d))) @ q.T


def block_cov(d: int, block: int = 2, rho: float = 0.8, between: float = 0.2) -> np.ndarray:
    idx = np.arange(d)
    same = (idx[:, None] // block) == (idx[None, :] // block)
    cov = np.where(same, rho, between)
    np.fill_diagonal(cov, 1.0)
    return cov


def gaussian_family(name: str, cov: np.ndarray) -> SampleFamily:
    return SampleFamily(name, Gaussian(cov), lambda n, rng: rng.multivariate_normal(np.zeros(len(cov)), cov, size=n))


def skew_margins(x: np.ndarray) -> np.ndarray:
    """Strictly increasing, far from Gaussian maps of each column in turn (exp, cube, asinh of 5x, identity):
    every copula, hence every TC term, is unchanged."""
    maps = (np.exp, lambda v: v**3, lambda v: np.arcsinh(5 * v), lambda v: v)
    return np.stack([maps[j % len(maps)](x[:, j]) for j in range(x.shape[1])], axis=1)


class MixtureTruth(Source):
    """A Gaussian mixture's TC and terms by Monte Carlo: each set's ``-H(z_S)`` is the mean exact marginal log
    density over ``n_draws`` draws from the mixture (one draw for all sets, so the terms telescope)."""

    def __init__(self, mixture: GaussianMixture, n_draws: int = 400_000, seed: int = 12345):
        self.mixture, self.n_dims, self.label = mixture, mixture.means.shape[1], "mixture (Monte Carlo)"
        self.draws = mixture.sample(n_draws, np.random.default_rng(seed))

    def _set_stats(self, sets):
        per_sample = np.stack([self.mixture.log_density(self.draws, s) for s in sets], axis=1)
        return per_sample.mean(axis=0), per_sample


def correlation_sign_mixture(d: int, rho: float = 0.9) -> GaussianMixture:
    """The mixture task of ``benchmarks/tc_estimation.py`` in d dims: pairs (0, 1), (2, 3), ... correlated +rho
    in one component and -rho in the other, equal weights. Every covariance of the mixture is zero, so
    the Gaussian and copula plug-ins see no dependence; every margin is N(0, 1)."""
    cov = np.eye(d)
    for i in range(0, d - 1, 2):
        cov[i, i + 1] = cov[i + 1, i] = rho
    flipped = 2 * np.eye(d) - cov
    return GaussianMixture(np.array([0.5, 0.5]), np.zeros((2, d)), np.stack([cov, flipped]))


def sample_families(d: int, seed: int = 0) -> list[SampleFamily]:
    rng = np.random.default_rng(seed)
    t = StudentT(equicorrelated_cov(d, 1.0), df=5.0)
    t_copula = StudentT(block_cov(d), df=4.0)
    mixture = MixtureTruth(correlation_sign_mixture(d))
    return [
        gaussian_family("gaussian-random", random_cov(d, rng)),
        gaussian_family("gaussian-equicorrelated", equicorrelated_cov(d, 2.0)),
        gaussian_family("gaussian-blocks", block_cov(d)),
        SampleFamily("student-t(df=5)", t, t.sample),
        SampleFamily(
            "t-copula(df=4), skewed margins", t_copula, lambda n, rng: skew_margins(t_copula.sample(n, rng)), True
        ),
        SampleFamily("±0.9 correlation mixture", mixture, mixture.mixture.sample),
    ]


def mixture_posterior(N: int, D: int, seed: int = 0):
    """A mixture aggregate posterior with a known exact TC: q = (1/N) sum_n N(A u_n, diag sigma_n^2),
    u_n ~ N(0, I), A with unit-variance rows, sigma ~ U(0.1, 0.5). Returns float32 (mu, logvar)."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = A / A.norm(dim=1, keepdim=True)
    u = torch.randn(N, D, generator=g, dtype=torch.float64)
    sigma = torch.rand(N, D, generator=g, dtype=torch.float64) * 0.4 + 0.1
    return (u @ A.T).float(), (2 * torch.log(sigma)).float()


#: margins of :func:`independent_columns` ("mixed" cycles through the others, column by column)
INDEPENDENT_MARGINS = ("gaussian", "exponential", "t3", "discrete2", "discrete3", "discrete5", "mixed")


def independent_columns(margin: str, n: int, d: int, seed: int) -> np.ndarray:
    """n rows of d independent columns (TC = 0) with the named margin: Gaussian, exponential, Student t with df 3,
    discrete with k equally likely values ("discrete<k>"), or "mixed"."""
    if margin not in INDEPENDENT_MARGINS:
        raise ValueError(f"margin must be one of {INDEPENDENT_MARGINS}, got {margin!r}")
    rng = np.random.default_rng([seed, 20241204])

    def column(kind: str) -> np.ndarray:
        if kind == "gaussian":
            return rng.standard_normal(n)
        if kind == "exponential":
            return rng.exponential(size=n)
        if kind == "t3":
            return rng.standard_t(3, size=n)
        return rng.integers(0, int(kind.removeprefix("discrete")), size=n).astype(float)

    kinds = (
        [INDEPENDENT_MARGINS[j % (len(INDEPENDENT_MARGINS) - 1)] for j in range(d)]
        if margin == "mixed"
        else [margin] * d
    )
    return np.stack([column(kind) for kind in kinds], axis=1)
