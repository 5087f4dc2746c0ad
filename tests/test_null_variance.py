"""The variance at independence (docs/math.md#variance-at-independence), Kendall's ratio and gmm's cross-fitting
bias against simulation, their limits, and the symmetry of Wilks' Lambda (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from tcdecomp import Samples
from tcdecomp.null_variance import kendall_variance_ratio, wilks_null_variance
from tcdecomp.sample_methods import cross_fit_gaussian_bias


@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), st.integers(0, 60), st.randoms())
@settings(max_examples=60, deadline=None)
def test_wilks_variance_does_not_depend_on_the_order_of_the_groups(sizes, extra, random):
    # Lambda(p, m, q) and Lambda(q, m + q - p, p) have one distribution (Anderson 2003, 8.4): any order of the
    # groups gives the same statistic, so the same variance.
    n = sum(sizes) + 2 + extra
    groups, start = [], 0
    for size in sizes:
        groups.append(list(range(start, start + size)))
        start += size
    shuffled = groups[:]
    random.shuffle(shuffled)
    assert wilks_null_variance(n, shuffled) == pytest.approx(wilks_null_variance(n, groups), rel=1e-10)


def test_wilks_variance_tends_to_the_chi_square_limit():
    # 2 n I ~ chi2 with p q degrees of freedom at independence: variance p q / (2 n^2)
    n = 10**6
    assert wilks_null_variance(n, [[0, 1], [2, 3, 4]]) * n**2 == pytest.approx(6 / 2, rel=1e-4)


@pytest.mark.parametrize("n,d,draws", [(30, 3, 600), pytest.param(40, 10, 1500, marks=pytest.mark.slow)])
def test_wilks_variance_matches_the_spread_of_the_gaussian_estimate(n, d, draws):
    estimates = [
        float(Samples(np.random.default_rng(seed).standard_normal((n, d))).total_correlation()) for seed in range(draws)
    ]
    want = wilks_null_variance(n, [[j] for j in range(d)])
    assert np.var(estimates) == pytest.approx(want, rel=4 * math.sqrt(2 / draws))  # 4 sd of a sample variance
    assert abs(np.mean(estimates)) < 4 * math.sqrt(want / draws)  # unbiased: the Wishart correction's mean


def test_kendall_ratio_matches_simulation():
    rng = np.random.default_rng(0)
    n = 40
    r = [math.sin(math.pi / 2 * kendalltau(rng.random(n), rng.random(n)).statistic) for _ in range(4000)]
    assert np.var(r) * (n - 1) == pytest.approx(kendall_variance_ratio(n), rel=0.08)


def test_cross_fit_bias_matches_simulation():
    # One Gaussian fitted on m rows: mean of in-sample and held-out log-likelihood, less the truth
    rng = np.random.default_rng(1)
    m, d, errors = 30, 4, []
    for _ in range(3000):
        fit, new = rng.standard_normal((m, d)), rng.standard_normal((2000, d))
        mean, cov = fit.mean(0), np.cov(fit, rowvar=False, bias=True)
        inv, logdet = np.linalg.inv(cov), np.linalg.slogdet(cov)[1]
        const = -0.5 * (d * math.log(2 * math.pi) + logdet)
        inside = const - 0.5 * d
        outside = const - 0.5 * np.mean(np.einsum("ij,jk,ik->i", new - mean, inv, new - mean))
        truth = -0.5 * d * math.log(2 * math.pi * math.e)
        errors.append(0.5 * (inside + outside) - truth)
    assert np.mean(errors) == pytest.approx(cross_fit_gaussian_bias(m, d), abs=4 * np.std(errors) / math.sqrt(3000))
