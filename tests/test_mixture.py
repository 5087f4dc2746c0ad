"""Gaussian mixtures (tcdecomp.mixture) and Samples(method="gmm"): marginal densities against scipy in float64,
EM recovering a mixture whose components share a mean, and TC of mixture data."""

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from tcdecomp import Gaussian, Samples, grouped_plan
from tcdecomp.mixture import TOLERANCE, GaussianMixture, _em, _kmeans_start, fit_candidates, fit_gaussian_mixture
from tcdecomp.sample_methods import copula_pseudo_observations, pseudo_observations
from tcdecomp.validation.families import MixtureTruth

D, RHO = 4, 0.8
C1 = (1 - RHO) * np.eye(D) + RHO * np.ones((D, D))
SIGNS = np.where(np.arange(D) % 2 == 0, 1.0, -1.0)
C2 = C1 * np.outer(SIGNS, SIGNS)  # the same margins, the odd dims' correlations flipped


def sample(n, seed):
    rng = np.random.default_rng(seed)
    pick = rng.random(n) < 0.5
    a = rng.multivariate_normal(np.zeros(D), C1, n)
    b = rng.multivariate_normal(np.zeros(D), C2, n)
    return np.where(pick[:, None], a, b)


def true_tc():
    # TC = E[log p(x) - sum_k log p(x_k)]; every margin is N(0, 1). Monte Carlo with 400,000 draws.
    x = sample(400_000, 99)
    log_p = np.logaddexp(multivariate_normal(np.zeros(D), C1).logpdf(x), multivariate_normal(np.zeros(D), C2).logpdf(x))
    return float(np.mean(log_p - math.log(2) - norm.logpdf(x).sum(1)))


def test_marginal_log_density_matches_scipy_in_float64():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 5))
    covs = np.stack([a @ a.T + np.eye(5) for a in rng.standard_normal((3, 5, 5))])
    mix = GaussianMixture(np.array([0.2, 0.5, 0.3]), means, covs)
    x = rng.standard_normal((20, 5))
    dims = [0, 3, 4]
    parts = zip(mix.weights, mix.means, mix.covariances)
    want = np.log(sum(w * multivariate_normal(m[dims], c[np.ix_(dims, dims)]).pdf(x[:, dims]) for w, m, c in parts))
    np.testing.assert_allclose(mix.log_density(x, dims), want, rtol=1e-12)


def test_sampling_matches_the_mixture_moments_in_float64():
    # closed form: mean sum_k w_k mu_k, covariance sum_k w_k (Sigma_k + mu_k mu_k^T) - mean mean^T
    rng = np.random.default_rng(10)
    means = rng.standard_normal((3, 4))
    covs = np.stack([a @ a.T + np.eye(4) for a in rng.standard_normal((3, 4, 4))])
    mix = GaussianMixture(np.array([0.2, 0.5, 0.3]), means, covs)
    x = mix.sample(400_000, rng)
    mean = mix.weights @ means
    cov = np.einsum("k,kij->ij", mix.weights, covs + np.einsum("ki,kj->kij", means, means)) - np.outer(mean, mean)
    assert x.dtype == np.float64 and x.shape == (400_000, 4)
    np.testing.assert_allclose(x.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), cov, rtol=0.02, atol=0.02)


def test_candidate_search_stops_after_two_k_without_gain_and_skips_k_without_rows():
    x = np.random.default_rng(11).multivariate_normal(np.zeros(3), C1[:3, :3], 3000)
    fitted = fit_candidates(x[:1500], x[1500:], (1, 2, 3, 4, 6, 8), np.random.default_rng(0))
    best = max(fitted, key=lambda k: fitted[k][0].mean())
    assert best == 1 and list(fitted) == [1, 2, 3]  # Gaussian data: K = 2 and 3 gain nothing, so 4.. are not fitted
    for per_row, mixture in fitted.values():
        np.testing.assert_array_equal(per_row, mixture.log_density(x[1500:], np.arange(3)))
    assert list(fit_candidates(x[:20], x[20:40], (1, 6), np.random.default_rng(0))) == [1]  # 6 x (3 + 1) > 20 rows


def test_monte_carlo_truth_of_a_one_component_mixture_is_the_gaussian_closed_form():
    cov = C1[:3, :3]
    truth = MixtureTruth(GaussianMixture(np.array([1.0]), np.zeros((1, 3)), cov[None]), n_draws=200_000)
    tc = truth.total_correlation()
    assert abs(float(tc) - float(Gaussian(cov).total_correlation())) < 4 * tc.stderr
    assert float(truth.decompose("line").total) == pytest.approx(float(tc), rel=1e-12)


def test_em_separates_components_that_share_their_mean():
    mix = fit_gaussian_mixture(sample(20000, 1), 2, np.random.default_rng(0))
    np.testing.assert_allclose(np.sort(mix.weights), [0.5, 0.5], atol=0.03)
    found = sorted(float(c[0, 1]) for c in mix.covariances)
    np.testing.assert_allclose(found, [-RHO, RHO], atol=0.05)


@pytest.mark.slow
def test_gmm_tc_of_a_correlation_mixture_where_the_gaussian_plugins_fail():
    truth = true_tc()
    x = sample(12000, 2)
    src = Samples(x, method="gmm")
    tc = src.total_correlation()
    assert min(src.estimator.components) >= 2
    assert abs(float(tc) - truth) < 4 * tc.stderr + 0.03, (float(tc), truth)
    assert float(Samples(x, method="copula").total_correlation()) < truth - 0.3
    assert float(src.decompose(grouped_plan([[0, 1], [2, 3]])).total) == pytest.approx(float(tc), rel=1e-9)


@pytest.mark.slow
def test_gmm_standard_error_matches_the_spread_over_draws_and_the_mean_is_unbiased():
    # The cross-fitted estimate's per-row standard error leaves the fits' own noise out; measured here it is still
    # within a few percent of the spread over fresh draws (0.040 against 0.041 at n = 2000).
    estimates, errors = [], []
    for seed in range(16):
        tc = Samples(sample(2000, 100 + seed), method="gmm").total_correlation()
        estimates.append(float(tc))
        errors.append(tc.stderr)
    spread = np.std(estimates, ddof=1)
    assert 0.6 < np.mean(errors) / spread < 1.6, (np.mean(errors), spread)
    assert abs(np.mean(estimates) - true_tc()) < 3 * spread / math.sqrt(len(estimates)) + 0.02


def test_gmm_on_gaussian_data_picks_one_component():
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.3], [0.2, 0.3, 1.0]])
    x = np.random.default_rng(3).multivariate_normal(np.zeros(3), cov, 4000)
    src = Samples(x, method="gmm")
    tc = src.total_correlation()
    assert src.estimator.components == (1, 1)
    assert abs(float(tc) - (-0.5 * math.log(np.linalg.det(cov)))) < 4 * tc.stderr
    assert "gmm: 1 and 1 components" in src.estimator.notes(None)[0]


def test_em_removes_a_component_on_fewer_rows_than_a_covariance_needs():
    # A start that gives the second component 3 rows in 5 dims: its covariance would be singular (the in-sample
    # likelihood unbounded), so EM goes on without it.
    x = np.random.default_rng(5).standard_normal((2000, 5))
    resp = np.zeros((2000, 2))
    resp[:3, 1], resp[3:, 0] = 1.0, 1.0
    mixture, loglik = _em(x, resp, 300, 1e-9)
    assert len(mixture.weights) == 1 and mixture.weights[0] == pytest.approx(1.0)
    assert loglik == pytest.approx(multivariate_normal(x.mean(0), np.cov(x.T, bias=True)).logpdf(x).mean(), abs=1e-5)


def test_held_out_rows_choose_among_the_starts():
    # On the rows it was fitted to, an over-fitted start can score best; on held-out rows the chosen fit must be
    # at least as good as every start's (the k-means start and two random ones, drawn as the fit draws them).
    x, held = sample(600, 6), sample(4000, 7)
    chosen = fit_gaussian_mixture(x, 4, np.random.default_rng(1), held_out=held)
    rng = np.random.default_rng(1)
    starts = [_kmeans_start(x, 4, rng)] + [rng.dirichlet(np.ones(4), size=600) for _ in range(2)]
    scores = [_em(x, resp, 300, TOLERANCE)[0].log_density(held, np.arange(D)).mean() for resp in starts]
    assert chosen.log_density(held, np.arange(D)).mean() == pytest.approx(max(scores), abs=1e-9)


@pytest.mark.parametrize("method", ["copula", "t_copula", "gmm", "auto"])
def test_discrete_columns_are_jittered_not_fitted_as_spikes(method):
    # Every copula-based method breaks ties the same documented way (a t copula read the atoms as heavy tails:
    # 0.90 nats on independent 3-valued columns before).
    # Independent 3-valued columns: averaged ranks put the normal scores on 3 atoms each and the mixture fitted
    # spikes (TC = -3.9 before); with ties broken at random in rank the TC of the jittered data is 0.
    x = np.random.default_rng(8).integers(0, 3, size=(2000, 3)).astype(float)
    with pytest.warns(UserWarning, match=rf"{method}: columns \[0, 1, 2\] of x repeat many values") as caught:
        tc = Samples(x, method=method).total_correlation()
    assert len(caught) == 1
    assert abs(float(tc)) < 4 * tc.stderr + 0.01


def test_stray_ties_keep_the_averaged_ranks():
    x = sample(2000, 9)
    x[:5, 0] = x[5, 0]  # five repeats: float32 rounding does this, and it is no discrete margin
    np.testing.assert_array_equal(copula_pseudo_observations(x, 0), pseudo_observations(x))


def test_gmm_arguments():
    x = np.random.default_rng(4).standard_normal((200, 3))
    with pytest.raises(ValueError, match="components applies to method='gmm'"):
        Samples(x, method="gaussian", components=2)
    with pytest.raises(ValueError, match="components must be an integer"):
        Samples(x, method="gmm", components=0)
    with pytest.raises(ValueError, match="too many"):
        Samples(x, method="gmm", components=40)
    with pytest.raises(ValueError, match=r"method='gmm' needs n >= 30 \(every method"):
        Samples(x[:29], method="gmm")
    Samples(x[:30], method="gmm")
    wide = np.random.default_rng(5).standard_normal((60, 8))
    with pytest.raises(ValueError, match=r"method='gmm' needs n >= 60 \(6 D \+ 12"):
        Samples(wide[:59], method="gmm")
    Samples(wide, method="gmm")
