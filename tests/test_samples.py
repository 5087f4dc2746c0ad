import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from tcdecomp import Gaussian, Samples, line_plan, tc_plugin_bias
from tcdecomp.samples import logdet_bias

from .conftest import draw_plan, equicorrelated, random_spd


def equicorrelated_tc(n, rho):
    return -0.5 * ((n - 1) * np.log(1 - rho) + np.log(1 + (n - 1) * rho))


def rho_for_tc(n, tc):
    return brentq(lambda r: equicorrelated_tc(n, r) - tc, 1e-9, 1 - 1e-9)


def test_plugin_bias_formula_matches_its_approximation():
    # b(n, D) = 1/2 sum_i [psi((n-1)/2) - psi((n-i)/2)] ~ D(D-1) / (4(n-1))
    # (docs/math.md#the-wishart-log-det-correction).
    for n, d in [(2000, 10), (500, 5), (10000, 30)]:
        assert tc_plugin_bias(n, d) == pytest.approx(d * (d - 1) / (4 * (n - 1)), rel=0.05)


def test_logdet_bias_against_monte_carlo(rng):
    # E[log det S] - log det Sigma for Wishart samples, checked by simulation in float64.
    n, d = 12, 3
    cov = random_spd(d, rng)
    draws = []
    for _ in range(20000):
        x = rng.multivariate_normal(np.zeros(d), cov, size=n)
        draws.append(np.linalg.slogdet(np.cov(x, rowvar=False))[1])
    assert np.mean(draws) - np.linalg.slogdet(cov)[1] == pytest.approx(logdet_bias(n, d), abs=0.02)


@pytest.mark.parametrize("rho, seeds", [(0.2, 20), (0.5, 200)])
def test_corrected_gaussian_is_unbiased_on_equicorrelated_d10(rho, seeds):
    # The project's target: D=10, n=2000, |mean bias| <= 0.01 nats over 20 seeds. The spread of one
    # estimate grows with TC (0.08 nats at rho=0.5), so the strong case averages 200 seeds to keep
    # the noise of the mean (0.006) below the bar; the raw plug-in would be 0.011 high.
    d, n = 10, 2000
    truth = equicorrelated_tc(d, rho)
    cov = equicorrelated(d, rho)
    estimates = [
        float(Samples(np.random.default_rng(seed).multivariate_normal(np.zeros(d), cov, size=n)).total_correlation())
        for seed in range(seeds)
    ]
    assert abs(np.mean(estimates) - truth) <= 0.01


def test_uncorrected_plugin_would_be_biased_by_b():
    # The correction is what removes the bias: the raw plug-in is high by about b(n, D).
    d, n = 10, 200  # independent dims: TC = 0
    raw, corrected = [], []
    for seed in range(200):
        x = np.random.default_rng(seed).standard_normal((n, d))
        c = np.cov(x, rowvar=False)
        raw.append(0.5 * (np.sum(np.log(np.diag(c))) - np.linalg.slogdet(c)[1]))
        corrected.append(float(Samples(x).total_correlation()))
    assert np.mean(raw) == pytest.approx(tc_plugin_bias(n, d), abs=0.01)
    assert abs(np.mean(corrected)) < 0.01


def test_standard_error_is_calibrated(rng):
    d, n = 4, 400
    cov = random_spd(d, rng)
    results = [Samples(rng.multivariate_normal(np.zeros(d), cov, size=n)).total_correlation() for _ in range(300)]
    values = np.array([float(r) for r in results])
    mean_se = np.mean([r.stderr for r in results])
    assert mean_se == pytest.approx(np.std(values), rel=0.2)


def test_copula_is_invariant_to_monotone_margins(rng):
    cov = random_spd(5, rng)
    x = rng.multivariate_normal(np.zeros(5), cov, size=1500)
    y = x.copy()
    y[:, 0] = np.exp(y[:, 0])
    y[:, 2] = y[:, 2] ** 3
    y[:, 4] = -1.0 / (1.0 + np.exp(-y[:, 4]))  # decreasing: TC unchanged, ranks reversed
    a, b = Samples(x, method="copula"), Samples(y, method="copula")
    assert float(a.total_correlation()) == pytest.approx(float(b.total_correlation()), abs=1e-12)
    assert float(b.total_correlation()) == pytest.approx(float(Gaussian(cov).total_correlation()), abs=0.1)


@st.composite
def samples_and_plan(draw):
    n_dims = draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    fewest = max(Samples.minimum_rows(m, n_dims) for m in ("gaussian", "copula", "t_copula", "gmm", "auto"))
    x = rng.multivariate_normal(np.zeros(n_dims), random_spd(n_dims, rng), size=fewest + draw(st.integers(0, 200)))
    plan = draw_plan(draw, n_dims, rng)
    return x, plan


@given(samples_and_plan(), st.sampled_from(["gaussian", "copula", "t_copula", "gmm", "auto"]))
def test_plugin_decompositions_telescope(case, method):
    x, plan = case
    src = Samples(x, method=method)
    tc = float(src.total_correlation())
    total = float(src.decompose(plan).total)
    assert total == pytest.approx(tc, rel=1e-6, abs=1e-9)


def test_gaussian_per_term_values_match_closed_form_for_large_n(rng):
    cov = random_spd(6, rng)
    x = rng.multivariate_normal(np.zeros(6), cov, size=200000)
    est = Samples(x).decompose("top_down")
    ref = Gaussian(cov).decompose("top_down")
    for (_, v), (_, r), se in zip(est.terms, ref.terms, est.stderrs):
        assert abs(v - r) < 5 * se + 1e-3


# -- knn --------------------------------------------------------------------------------------------
def test_knn_bivariate_mi_matches_closed_form():
    rho = 0.8
    truth = -0.5 * np.log(1 - rho**2)
    est = [
        float(
            Samples(
                np.random.default_rng(s).multivariate_normal([0, 0], [[1, rho], [rho, 1]], 3000), "knn"
            ).total_correlation()
        )
        for s in range(5)
    ]
    assert np.mean(est) == pytest.approx(truth, abs=0.03)


def test_knn_within_035_nats_at_tc_5():
    # The project's target: D=10, n=2000, TC=5 nats.
    d = 10
    cov = equicorrelated(d, rho_for_tc(d, 5.0))
    for seed in range(3):
        x = np.random.default_rng(seed).multivariate_normal(np.zeros(d), cov, size=2000)
        assert abs(float(Samples(x, method="knn").total_correlation()) - 5.0) <= 0.35


def test_knn_independent_is_near_zero(rng):
    x = rng.standard_t(df=3, size=(2000, 4))
    tc = Samples(x, method="knn").total_correlation()
    assert abs(float(tc)) < 0.05
    assert tc.stderr > 0


def test_knn_non_gaussian_margins_do_not_matter(rng):
    cov = equicorrelated(3, 0.6)
    x = rng.multivariate_normal(np.zeros(3), cov, size=3000)
    y = np.exp(x)
    a = float(Samples(x, "knn").total_correlation())
    b = float(Samples(y, "knn").total_correlation())
    assert a == pytest.approx(b, abs=0.08)
    assert a == pytest.approx(equicorrelated_tc(3, 0.6), abs=0.1)


def test_knn_decomposition_notes_path_dependence(rng):
    x = rng.standard_normal((300, 4))
    dec = Samples(x, "knn").decompose("line")
    assert any("depends on the path (line)" in n for n in dec.notes)
    table = dec.table()
    assert all(str(term) in table for term in line_plan(4).terms)
    assert dec.total == pytest.approx(sum(v for _, v in dec.terms))


def test_student_t_method_recovers_t_dependence_that_gaussian_misses():
    from tcdecomp import StudentT

    rng = np.random.default_rng(4)
    scale = random_spd(8, rng)
    source = StudentT(scale, 5.0)
    truth = source.decompose("bottom_up")
    x = source.sample(6000, rng)
    est = Samples(x, method="student_t").decompose("bottom_up")
    assert abs(float(est.total) - float(truth.total)) < 0.1
    np.testing.assert_allclose([float(v) for _, v in est.terms], [float(v) for _, v in truth.terms], atol=0.06)
    assert 0 < est.total_stderr < 0.1
    # The shared scale's dependence is invisible to a Gaussian plug-in.
    assert float(truth.total) - float(Samples(x).total_correlation()) > 0.3


def test_student_t_method_reduces_to_gaussian_on_gaussian_data(rng):
    cov = equicorrelated(6, 0.4)
    x = rng.multivariate_normal(np.zeros(6), cov, 4000)
    t_fit = Samples(x, method="student_t")
    assert t_fit.df_ > 50
    assert float(t_fit.total_correlation()) == pytest.approx(float(Samples(x).total_correlation()), abs=0.02)


def test_student_t_method_bad_input(rng):
    with pytest.raises(ValueError, match=r"method='student_t' needs n >= 30 \(every method needs 30"):
        Samples(rng.standard_normal((29, 8)), method="student_t")
    with pytest.raises(ValueError, match=r"method='student_t' needs n >= 44 \(D \+ 4"):
        Samples(rng.standard_normal((43, 40)), method="student_t")
    x = rng.standard_normal((100, 3))
    x[:, 1] = 2.0
    with pytest.raises(ValueError, match="constant columns"):
        Samples(x, method="student_t")
    x = rng.standard_normal((100, 3))
    x[:, 2] = x[:, 0] - 2 * x[:, 1]
    with pytest.raises(ValueError, match="linearly dependent"):
        Samples(x, method="student_t")


# -- the rank-agreement check of the Gaussian plug-in (docs/math.md#the-rank-agreement-check) --


def test_pearson_tc_influence_is_the_derivative_in_a_row_weight(rng):
    # float64 reference: the Gateaux derivative of -1/2 log det R of the weighted moments, by central differences
    from tcdecomp.sample_methods import pearson_tc_influence

    x = rng.standard_normal((40, 3)) @ random_spd(3, rng)

    def weighted_tc(w):
        mean = w @ x
        cov = (x - mean).T @ ((x - mean) * w[:, None])
        sd = np.sqrt(np.diag(cov))
        return -0.5 * np.linalg.slogdet(cov / np.outer(sd, sd))[1]

    tc, influence = pearson_tc_influence(x)
    base = np.full(len(x), 1 / len(x))
    assert tc == pytest.approx(weighted_tc(base), rel=1e-12)
    for i in (0, 17, 39):
        step = 1e-6
        bump = np.eye(len(x))[i] - base
        derivative = (weighted_tc(base + step * bump) - weighted_tc(base - step * bump)) / (2 * step)
        assert influence[i] == pytest.approx(derivative, rel=1e-6, abs=1e-9)


def test_rank_tc_is_the_gaussian_tc_of_the_normal_scores():
    # closed form: a bivariate Gaussian of correlation 0.6 has TC -1/2 log(1 - 0.36); normal scores keep it
    from tcdecomp.sample_methods import rank_tc

    x = np.random.default_rng(7).multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], 20000)
    assert rank_tc(np.exp(x)) == pytest.approx(-0.5 * np.log(1 - 0.36), abs=0.01)  # monotone maps: the same
    assert rank_tc(np.c_[x[:, 0], 2 * x[:, 0]]) == np.inf


def _far_rows(case):
    x = np.random.default_rng(1).standard_normal((500, 4))
    if case == "one corrupted row":  # 31.5 +- 1.5 nats before the check
        x[499] = [1e6, -1e6, 1e6, 1e6]
    elif case == "missing-value code in every column":  # 15.2 +- 0.3
        x[:20] = -999
    else:  # a code in two columns of five rows
        x[:5, :2] = -999
    return x


@pytest.mark.filterwarnings("ignore:copula. columns")  # the copula's tie warning on the repeated code
@pytest.mark.parametrize("case", ["one corrupted row", "missing-value code in every column", "code in two columns"])
def test_gaussian_refuses_rows_that_set_the_covariance(case):
    with pytest.raises(ValueError, match=r"a few rows far from the rest set the covariance \(the farthest: rows \["):
        Samples(_far_rows(case), method="gaussian")
    Samples(_far_rows(case), method="copula")  # the ranks do not see how far a row lies
    Samples(_far_rows(case)[:, :1], method="gaussian")  # one column has no dependence to misread


@pytest.mark.parametrize("seed", range(6))
def test_gaussian_keeps_data_without_far_rows(seed):
    # Gaussian (weak to strong dependence), heavy-tailed elliptical and skewed margins: never refused
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 8))
    n = int(rng.choice([40, 300, 5000]))
    x = rng.multivariate_normal(np.zeros(d), random_spd(d, rng), n)
    for data in (x, x / np.sqrt(rng.chisquare(3, (n, 1)) / 3), np.exp(2 * x), rng.standard_cauchy((n, d))):
        Samples(data, method="gaussian")
