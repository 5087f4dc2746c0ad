"""Samples(method="flow"): the log-density bookkeeping against float64 references, telescoping, independent data,
a dependence no copula sees, the missing extra."""

import math
import sys

import numpy as np
import pytest
import scipy.stats

pytest.importorskip("zuko")

from tcdecomp import Samples  # noqa: E402
from tcdecomp.flow import FlowConfig, SetFlow  # noqa: E402


def square(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    x[:, 1] = x[:, 0] ** 2 + 0.5 * rng.standard_normal(n)
    return x


def test_without_a_flow_the_density_is_the_gaussian_copula():
    rng = np.random.default_rng(0)
    corr = np.array([[1.0, 0.6], [0.6, 1.0]])
    z = rng.multivariate_normal(np.zeros(2), corr, 400)
    model = SetFlow(z, seed=0, config=FlowConfig(max_epochs=0))  # no epoch: the identity stands
    assert model.flow is None
    fitted = np.corrcoef(z, rowvar=False)
    reference = scipy.stats.multivariate_normal(np.zeros(2), fitted).logpdf(z)
    np.testing.assert_allclose(model.log_density(z), reference, rtol=1e-12, atol=1e-12)


def test_a_trained_flow_is_a_normalised_density():
    model = SetFlow(square(1500, 1)[:, :2], seed=1, config=FlowConfig(max_epochs=15))
    assert model.flow is not None
    grid = np.linspace(-7.0, 9.0, 321)
    step = grid[1] - grid[0]
    points = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    mass = float(np.exp(model.log_density(points)).sum() * step * step)
    assert mass == pytest.approx(1.0, abs=0.02)  # log |det L| and the flow's Jacobian are both counted


def test_flow_sees_a_dependence_the_copula_cannot_and_telescopes():
    x = square(1200, 2)
    copula = float(Samples(x, method="copula").total_correlation())
    s = Samples(x, method="flow")
    tc = s.total_correlation()
    assert abs(copula) < 0.05 and tc > 0.4 and tc > 10 * tc.stderr
    for path in ("line", "bottom_up", "top_down"):
        assert s.decompose(path).total == pytest.approx(float(tc), abs=1e-9)
    mi = s.multi_information([[0], [1]])
    assert mi == pytest.approx(float(s.multi_information([[0], [1]])), abs=0)  # the set's flow is fitted once
    assert any("every set of two or more columns takes its flows" in note for note in s.decompose("line").notes)


def test_errors_carry_the_two_flows_disagreement_and_their_optimism_once_per_set():
    # float64 bookkeeping of the flows' errors: per term (sum of sign x half the two flows' difference)^2 and
    # (sum of sign x half the in-sample less held-out gap)^2 on top of the rows' variance; along a path both
    # telescope, so the total carries the full set's only
    s = Samples(square(1200, 2), method="flow")
    with_noise = s.decompose("line")
    fitted = s.estimator.fitted
    deviation, gap = {k: v[3] for k, v in fitted.items()}, {k: v[4] for k, v in fitted.items()}
    assert any(abs(d) > 0 for d in deviation.values()) and any(g > 0 for g in gap.values())
    s.estimator.fitted = {k: (*v[:3], 0.0, 0.0) for k, v in fitted.items()}  # the flows are kept: nothing refits
    rows_only = s.decompose("line")
    assert [float(v) for _, v in with_noise.terms] == [float(v) for _, v in rows_only.terms]
    for (term, _), a, b in zip(with_noise.terms, with_noise.stderrs, rows_only.stderrs):
        expected = sum(sign * deviation.get(g, 0.0) for g, sign in term.signed_sets()) ** 2
        expected += sum(sign * gap.get(g, 0.0) for g, sign in term.signed_sets()) ** 2
        assert a * a - b * b == pytest.approx(expected, rel=1e-9, abs=1e-15)
    full, optimism = deviation[(0, 1, 2)], gap[(0, 1, 2)]
    assert with_noise.total_stderr**2 - rows_only.total_stderr**2 == pytest.approx(
        full * full + optimism * optimism, rel=1e-9, abs=1e-15
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_independent_data_within_three_standard_errors(seed):
    rng = np.random.default_rng(seed)
    x = np.c_[rng.standard_normal(300), rng.exponential(size=300), rng.standard_t(3, 300)]
    tc = Samples(x, method="flow").total_correlation()
    assert abs(float(tc)) <= 3 * tc.stderr


def test_too_few_rows_and_the_missing_extra_are_one_line_errors(monkeypatch):
    with pytest.raises(ValueError, match="needs n >= 200"):
        Samples(square(150, 3), method="flow")
    monkeypatch.setitem(sys.modules, "zuko", None)  # as if zuko were not installed
    with pytest.raises(ValueError, match=r"tcdecomp\[flows\]"):
        Samples(square(300, 3), method="flow")
    assert math.isfinite(float(Samples(square(300, 3), method="copula").total_correlation()))


def t_copula_rows(n, seed, df=3.0):
    rng = np.random.default_rng(seed)
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    t = scipy.stats.multivariate_t(np.zeros(3), corr, df=df).rvs(n, random_state=rng)
    return np.c_[np.exp(t[:, 0]), t[:, 1] ** 3, t[:, 2]]  # monotone margins: the copula is t's


def test_where_no_flow_is_kept_a_t_copula_base_gives_t_copula_exactly(monkeypatch):
    # the t copula's sets are carried into normal-score space column by column; the log Jacobians cancel within
    # every term, so with no flow kept, every term and standard error is t_copula's
    from tcdecomp.sample_methods import FlowTC, TCopula

    monkeypatch.setattr(FlowTC, "MARGIN", math.inf)
    x = t_copula_rows(800, 4)
    flow, reference = Samples(x, method="flow", random_state=0), Samples(x, method="t_copula", random_state=0)
    assert isinstance(flow.estimator.base, TCopula) and math.isfinite(flow.estimator.base.df)
    for path in ("line", "bottom_up"):
        got, want = flow.decompose(path), reference.decompose(path)
        np.testing.assert_allclose([float(v) for _, v in got.terms], [float(v) for _, v in want.terms], atol=1e-10)
        np.testing.assert_allclose(got.stderrs, want.stderrs, rtol=1e-9)
    assert any("t copula" in note for note in flow.decompose("line").notes)


def test_t_scores_to_normal_scores_log_jacobian_against_central_differences():
    from scipy.special import stdtrit

    from tcdecomp.sample_methods import _t_to_normal_log_jacobian

    z = np.linspace(-3.0, 3.0, 13)[:, None]
    df, h = 4.0, 1e-4
    w = stdtrit(df, scipy.stats.norm.cdf(z))
    slope = (stdtrit(df, scipy.stats.norm.cdf(z + h)) - stdtrit(df, scipy.stats.norm.cdf(z - h))) / (2 * h)
    np.testing.assert_allclose(_t_to_normal_log_jacobian(w, z, df), np.log(slope), rtol=1e-6, atol=1e-8)


def test_a_flow_kept_over_a_t_copula_base_telescopes():
    x = t_copula_rows(1200, 5)
    x[:, 2] = x[:, 0] ** 2 + 0.3 * np.random.default_rng(6).standard_normal(len(x))  # beyond any copula family
    s = Samples(x, method="flow", random_state=0)
    tc = s.total_correlation()
    assert math.isfinite(getattr(s.estimator.base, "df", math.inf))  # the t copula is the base
    for path in ("line", "bottom_up", "top_down"):
        assert s.decompose(path).total == pytest.approx(float(tc), abs=1e-9)
    s.multi_information([[0, 1], [2]])
    # the full set's flow beats the base, so every set takes its flows, [0, 1] too (whose own flow falls short of
    # the t copula there): a term's group and union stay in one model family
    assert s.estimator.fitted[(0, 1)][1] < 0 and all(rows is not None for rows, *_ in s.estimator.fitted.values())


def test_a_set_near_a_curve_is_refused_by_name():
    # (t, sin 3t) lies on a curve: its density is unbounded, and the flows' entropy of it runs off with their
    # capacity (I(x0, x1; x2) = log(2) / 2 came out 0.088 +- 0.205 and -0.206 +- 0.277 before this refusal)
    rng = np.random.default_rng(3)
    t = rng.standard_normal(1000)
    x = np.c_[t, np.sin(3 * t), t + rng.standard_normal(1000)]
    s = Samples(x, method="flow", columns=["t", "wave", "noisy"])
    with pytest.raises(ValueError, match=r"columns \['t', 'wave'(, 'noisy')?\] lie near a lower-dimensional set"):
        s.multi_information([["t", "wave"], ["noisy"]])


def test_the_draws_of_a_set_flow_follow_its_density():
    # the draws go through log |det L| and the flow's inverse: the share of them in a box must be the box's mass
    # under the model's own log density (integrated on a grid), within binomial noise
    x = square(1500, 1)[:, :2]
    x[:, 1] += x[:, 0]  # correlated, so that L is not the identity
    model = SetFlow(x, seed=1, config=FlowConfig(max_epochs=15))
    assert model.flow is not None
    draws = model.sample(20000, seed=2)
    assert np.all(np.isfinite(draws))
    residual = draws[:, 1] - draws[:, 0] ** 2 - draws[:, 0]  # they follow what it learned: x1 = x0^2 + x0 + noise
    assert abs(residual.mean()) < 0.1 and residual.std() == pytest.approx(0.5, abs=0.1)
    for (a0, b0), (a1, b1) in [((-1.0, 0.0), (-1.5, 1.0)), ((0.5, 1.5), (0.5, 4.0)), ((-3.0, -1.0), (-1.0, 7.0))]:
        g0, g1 = np.linspace(a0, b0, 201), np.linspace(a1, b1, 201)
        mid0, mid1 = (g0[1:] + g0[:-1]) / 2, (g1[1:] + g1[:-1]) / 2
        points = np.stack(np.meshgrid(mid0, mid1, indexing="ij"), axis=-1).reshape(-1, 2)
        mass = float(np.exp(model.log_density(points)).sum() * (g0[1] - g0[0]) * (g1[1] - g1[0]))
        inside = np.mean((draws[:, 0] > a0) & (draws[:, 0] < b0) & (draws[:, 1] > a1) & (draws[:, 1] < b1))
        assert inside == pytest.approx(mass, abs=4 * math.sqrt(mass * (1 - mass) / len(draws)) + 2e-3)


def test_repeated_rows_are_not_read_as_a_lower_dimensional_set():
    # a bootstrap resample repeats rows; their broken ties make near-identical pairs, which TWO-NN would read as
    # a dimension near 0 and refuse every refit of a flow that fits the rows
    x = square(600, 0)[:, :2]
    rows = np.random.default_rng(1).integers(0, len(x), len(x))
    s = Samples(x[rows], method="flow", random_state=0)
    assert s.total_correlation() > 0.3
    assert any(kept is not None for kept, *_ in s.estimator.fitted.values())  # the flow was kept and checked
