"""method="t_copula": the copula likelihood against scipy in float64, Kendall's-tau correlation, recovery of
t-copula TC under skewed margins, standard errors against the spread over draws, and bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from tcdecomp import Samples, grouped_plan
from tcdecomp.sample_methods import kendall_correlation, t_copula_log_likelihood
from tcdecomp.student_t import StudentT


def _corr(d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + np.eye(d)
    s = 1 / np.sqrt(np.diag(cov))
    return cov * s[:, None] * s[None, :]


def _skew(x):
    """Monotone, very non-Gaussian margins: the copula (and so the TC) is unchanged."""
    x = x.copy()
    x[:, 0] = np.exp(x[:, 0])
    x[:, 1] = x[:, 1] ** 3
    x[:, 2] = np.arcsinh(5 * x[:, 2])
    return x


def test_copula_log_likelihood_matches_scipy_in_float64():
    rng = np.random.default_rng(0)
    corr, df = _corr(3, 1), 3.7
    u = rng.uniform(0.01, 0.99, size=(50, 3))
    x = stats.t.ppf(u, df)
    want = np.sum(stats.multivariate_t(np.zeros(3), corr, df=df).logpdf(x)) - np.sum(stats.t.logpdf(x, df))
    assert t_copula_log_likelihood(u, corr, df) == pytest.approx(want, rel=1e-10)


def test_kendall_correlation_recovers_an_elliptical_correlation_and_ignores_margins():
    corr = _corr(4, 2)
    x = StudentT(corr, 5.0).sample(20000, np.random.default_rng(3))
    r = kendall_correlation(x)
    assert np.allclose(np.diag(r), 1.0) and np.abs(r - corr).max() < 0.03
    assert np.array_equal(kendall_correlation(_skew(x)), r)  # ranks only


def test_t_copula_recovers_tc_under_skewed_margins_where_copula_cannot():
    corr, df = _corr(6, 4), 4.0
    truth = float(StudentT(corr, df).total_correlation())
    x = _skew(StudentT(corr, df).sample(4000, np.random.default_rng(5)))
    tc = Samples(x, method="t_copula").total_correlation()
    assert abs(float(tc) - truth) < 4 * tc.stderr
    # copula misses the shared scale: its estimate lies far outside both estimates' joint uncertainty (the
    # t copula's standard error now carries its df's noise and matches the spread over draws, 0.026 nats)
    gaussian = Samples(x, method="copula").total_correlation()
    assert abs(float(gaussian) - truth) > 0.2
    assert abs(float(gaussian) - float(tc)) > 6 * math.hypot(tc.stderr, gaussian.stderr)
    # the terms telescope: a grouped decomposition sums to the same total
    src = Samples(x, method="t_copula")
    assert float(src.decompose(grouped_plan([[0, 1, 2], [3, 4, 5]])).total) == pytest.approx(float(tc), rel=1e-9)


def test_t_copula_on_gaussian_copula_data_fits_a_large_df():
    corr = _corr(4, 6)
    x = _skew(np.random.default_rng(7).multivariate_normal(np.zeros(4), corr, size=4000))
    src = Samples(x, method="t_copula")
    truth = -0.5 * math.log(np.linalg.det(corr))
    assert src.estimator.df > 30
    tc = src.total_correlation()
    assert abs(float(tc) - truth) < 4 * tc.stderr + 0.01


@pytest.mark.slow
def test_t_copula_standard_error_matches_the_spread_over_draws():
    corr, df = _corr(4, 8), 3.0
    estimates, errors = [], []
    for seed in range(12):
        x = _skew(StudentT(corr, df).sample(2000, np.random.default_rng(100 + seed)))
        tc = Samples(x, method="t_copula").total_correlation()
        estimates.append(float(tc))
        errors.append(tc.stderr)
    spread = np.std(estimates, ddof=1)
    assert 0.5 < np.mean(errors) / spread < 2.0, (np.mean(errors), spread)
    truth = float(StudentT(corr, df).total_correlation())
    assert abs(np.mean(estimates) - truth) < 3 * spread / math.sqrt(len(estimates)) + 0.01


def test_t_copula_bad_input():
    x = np.random.default_rng(9).standard_normal((40, 3))
    with pytest.raises(ValueError, match="n > D|needs n"):
        Samples(x[:3], method="t_copula")
    constant = x.copy()
    constant[:, 1] = 2.0
    with pytest.raises(ValueError, match="x"):
        Samples(constant, method="t_copula")
