"""auto's nearest-neighbour check: the Kozachenko-Leonenko log density, the TWO-NN dimension, and auto running
knn where every density model misses the joint's structure or the rows lie near a lower-dimensional set."""

import math

import numpy as np
import pytest
from scipy.integrate import trapezoid
from scipy.special import digamma, gammaln
from scipy.stats import norm

from tcdecomp import Samples
from tcdecomp.neighbour_check import (
    DIMENSION_RATIO,
    NeighbourCheck,
    kozachenko_leonenko,
    model_parameters,
    two_nn_dimension,
)


def test_kozachenko_leonenko_matches_brute_force_in_float64():
    rng = np.random.default_rng(0)
    fit, held = rng.standard_normal((300, 3)), rng.standard_normal((50, 3))
    dist = np.sort(np.linalg.norm(held[:, None, :] - fit[None, :, :], axis=2), axis=1)[:, 2]  # 3rd nearest
    ball = 1.5 * math.log(math.pi) - gammaln(2.5)  # log volume of the unit ball in 3 dims
    expected = digamma(3) - digamma(300) - ball - 3 * np.log(dist)
    np.testing.assert_allclose(kozachenko_leonenko(fit, held, 3), expected, rtol=1e-12)


def test_kozachenko_leonenko_mean_is_the_negative_entropy():
    # 2 dims, correlation 0.6: -H = -log(2 pi e) - 0.5 log(1 - 0.36)
    rng = np.random.default_rng(1)
    z = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], 6000)
    minus_entropy = -math.log(2 * math.pi * math.e) - 0.5 * math.log(1 - 0.36)
    assert kozachenko_leonenko(z[:4000], z[4000:], 3).mean() == pytest.approx(minus_entropy, abs=0.05)


def test_two_nn_dimension_of_a_curve_a_surface_and_a_volume():
    rng = np.random.default_rng(2)
    t = rng.uniform(0, 2 * math.pi, 3000)
    circle = np.c_[np.cos(t), np.sin(t), np.zeros_like(t)]
    sheet = np.c_[rng.uniform(size=(3000, 2)), np.zeros(3000)]
    volume = rng.standard_normal((3000, 3))
    for points, dimension in ((circle, 1), (sheet, 2), (volume, 3)):
        estimate, se = two_nn_dimension(points)
        assert estimate == pytest.approx(dimension, rel=0.1)
        assert se == pytest.approx(estimate / math.sqrt(3000))


def test_two_nn_dimension_matches_its_formula_in_float64():
    z = np.random.default_rng(3).standard_normal((200, 4))
    dist = np.sort(np.linalg.norm(z[:, None] - z[None], axis=2), axis=1)  # column 0: the row itself
    expected = 200 / np.sum(np.log(dist[:, 2] / dist[:, 1]))
    assert two_nn_dimension(z)[0] == pytest.approx(expected, rel=1e-12)


def test_model_parameters():
    assert model_parameters("copula", 4, None) == 6
    assert model_parameters("t_copula", 4, None) == 7
    assert model_parameters("gmm", 4, 3) == 3 * (4 + 10) + 2
    assert model_parameters("flow", 4, None) == 0


def swiss_roll(n, seed):
    """BMI's Swiss roll: X = the spiral (t cos t, t sin t) of t = 1.5 pi (1 + 2 Phi(g1)), Y = g2, with (g1, g2)
    Gaussian of correlation 0.75, so I(X; Y) = -0.5 log(1 - 0.75^2) (Czyz et al. 2023); X lies on a curve."""
    rng = np.random.default_rng(seed)
    g = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], n)
    t = 1.5 * math.pi * (1 + 2 * norm.cdf(g[:, 0]))
    return np.c_[t * np.cos(t), t * np.sin(t), g[:, 1]]


def auto_on(x, verdict):
    """``Samples(x, method="auto")`` and its check, asserting that the check gave ``verdict`` and auto ran knn."""
    pytest.importorskip("zuko")  # the flow is auto's most flexible candidate: the check must beat it too
    src = Samples(x, method="auto")
    check = src.estimator.check
    assert src.estimator.choice == "knn" and check.verdict == verdict, check
    return src, check


def test_auto_runs_knn_where_the_rows_lie_on_a_curve():
    x = swiss_roll(2000, 0)
    src, check = auto_on(x, "singular")
    assert check.dimension < DIMENSION_RATIO * check.reference_dimension
    mi = src.multi_information([[0, 1], [2]])
    truth = -0.5 * math.log(1 - 0.75**2)
    assert abs(float(mi) - truth) < 3 * mi.stderr
    assert float(mi) == pytest.approx(float(Samples(x, method="knn").multi_information([[0, 1], [2]])), rel=1e-12)
    # a chosen knn estimates each term on its own: the total goes along knn's default path, as knn's does
    assert src.estimator.per_term
    assert float(src.total_correlation()) == pytest.approx(float(Samples(x, method="knn").total_correlation()))
    notes = src.decompose().notes
    assert notes[0].startswith("auto chose knn: the rows lie near a lower-dimensional set")
    assert notes[1].startswith("knn (KSG")


def sine_wave(n, seed, frequency=2, noise=0.1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return np.c_[x, np.sin(2 * math.pi * frequency * x) + noise * rng.standard_normal(n)]


def sine_wave_mi(noise):
    """I(X; Y) = H(Y) - H(noise) for Y = sin(2 pi f X) + noise, X ~ U(0, 1) (any whole f), H(Y) by quadrature."""
    x = (np.arange(20000) + 0.5) / 20000
    y = np.linspace(-1 - 8 * noise, 1 + 8 * noise, 4001)
    density = norm.pdf(y[:, None], np.sin(2 * math.pi * x)[None, :], noise).mean(axis=1)
    return -trapezoid(density * np.log(density), y) - 0.5 * math.log(2 * math.pi * math.e * noise**2)


def test_auto_runs_knn_where_every_density_model_misses_the_joint():
    x = sine_wave(2000, 0)
    src, check = auto_on(x, "missed")
    assert check.gain - 2 * check.gain_se > 0.1
    truth = sine_wave_mi(0.1)  # 1.699
    assert float(src.multi_information([[0], [1]])) == pytest.approx(truth, rel=0.05)
    assert float(Samples(x, method="flow").multi_information([[0], [1]])) < 0.92 * truth  # what auto chose before
    assert "beats the best density model (flow)" in src.decompose().notes[0]


@pytest.mark.parametrize("seed", range(6))
def test_the_check_stays_quiet_where_a_model_fits(seed):
    rng = np.random.default_rng(seed)
    independent = rng.standard_normal((1000, 3)) ** 3
    correlated = rng.multivariate_normal(np.zeros(4), 0.5 * np.eye(4) + 0.5, 1000)
    for x in (independent, correlated):
        src = Samples(x, method="auto")
        assert src.estimator.check.verdict is None, src.estimator.check
        assert src.estimator.choice != "knn" and not src.estimator.per_term
        assert "nearest-neighbour check: log density" in src.decompose().notes[0]


def test_a_mixture_of_elongated_gaussians_is_not_a_lower_dimensional_set():
    # the ±0.9 correlation mixture in 10 dims (zero covariance, so a Gaussian of its correlation is isotropic):
    # at n = 500 its TWO-NN dimension is 7.3 against that Gaussian's 10.2, and auto ran knn, 2.29 against the
    # true 3.47; its own fitted mixture's draw is the reference that says "full-dimensional"
    from tcdecomp.validation.families import MixtureTruth, correlation_sign_mixture

    mixture = correlation_sign_mixture(10)
    truth = float(MixtureTruth(mixture, n_draws=100_000).total_correlation())
    x = mixture.sample(500, np.random.default_rng(0))
    src = Samples(x, method="auto")
    assert src.estimator.check.verdict is None and src.estimator.choice == "gmm", src.estimator.check
    tc = src.total_correlation()
    assert abs(float(tc) - truth) < 3 * tc.stderr


def test_one_column_is_not_checked():
    src = Samples(np.random.default_rng(6).standard_normal((300, 1)), method="auto")
    assert src.estimator.check.verdict is None and "not run on a single column" in src.decompose().notes[0]


def forced(verdict):
    def check(*args, **kwargs):
        return NeighbourCheck("copula", 0.5, 0.01, 3.0, 3.0, verdict)

    return check


def test_auto_keeps_its_model_where_knn_refuses_the_rows(monkeypatch):
    monkeypatch.setattr("tcdecomp.sample_methods.check_density_models", forced("missed"))
    x = np.random.default_rng(4).standard_normal((400, 3))
    x = np.vstack([x, x[:40]])  # 10% repeated rows: KSG refuses them
    with pytest.warns(UserWarning, match="repeat many values"):
        src = Samples(x, method="auto")
    assert src.estimator.choice == "copula"
    assert "but knn refused the rows: x column 0 repeats 40" in src.decompose().notes[0]


def test_bootstrap_is_refused_where_auto_chose_knn(monkeypatch):
    monkeypatch.setattr("tcdecomp.sample_methods.check_density_models", forced("missed"))
    x = np.random.default_rng(5).standard_normal((400, 3))
    with pytest.raises(ValueError, match=r"^interval='bootstrap': method='auto' chose knn here"):
        Samples(x, method="auto", interval="bootstrap", resamples=50)
    assert Samples(x, method="auto").estimator.per_term
