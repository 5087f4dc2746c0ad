"""method="auto": the model chosen by held-out likelihood in copula space, and the chosen method's estimate."""

import numpy as np
import pytest

from tcdecomp import Samples, line_plan
from tcdecomp.student_t import StudentT

from . import test_mixture, test_t_copula


@pytest.mark.parametrize("family, expected", [("gaussian", "copula"), ("t", "t_copula"), ("mixture", "gmm")])
def test_auto_picks_the_family_of_the_data(family, expected):
    corr = test_t_copula._corr(5, 1)
    if family == "gaussian":
        x = test_t_copula._skew(np.random.default_rng(3).multivariate_normal(np.zeros(5), corr, 4000))
    elif family == "t":
        x = test_t_copula._skew(StudentT(corr, 3.0).sample(4000, np.random.default_rng(4)))
    else:
        x = test_mixture.sample(4000, 5)
    src = Samples(x, method="auto")
    assert src.estimator.choice == expected, src.estimator.scores
    note = src.decompose(line_plan(x.shape[1])).notes[0]
    assert note.startswith(f"auto chose {expected}")
    # auto's estimate is its choice's, run on every row (a chosen gmm keeps the K that won auto's comparison)
    kwargs = {"components": src.estimator.mixture_components} if expected == "gmm" else {}
    direct = Samples(x, method=expected, **kwargs).total_correlation()
    assert float(src.total_correlation()) == pytest.approx(float(direct), rel=1e-12)


def test_auto_needs_rows():
    # The message says the true minimum (it said "more than 7 D" before, for a rule it did not apply).
    x = np.random.default_rng(0).standard_normal((137, 20))
    assert Samples.minimum_rows("auto", 20) == 137
    with pytest.raises(ValueError, match=r"method='auto' needs n >= 137 \(30% held out"):
        Samples(x[:136], method="auto")
    Samples(x, method="auto").total_correlation()


def uniform_additive_noise(n, noise, seed):
    """BMI's additive-noise task: X ~ U(0, 1), Y = X + U(-noise, noise); edges no Gaussian mixture draws well."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, n)
    return np.c_[x, x + rng.uniform(-noise, noise, n)]


def test_auto_runs_a_flow_where_it_beats_every_cheaper_model():
    pytest.importorskip("zuko")
    x = uniform_additive_noise(2000, 0.1, 1)
    src = Samples(x, method="auto")
    scores = src.estimator.scores
    assert src.estimator.choice == "flow", scores
    assert scores["flow"] > max(scores["copula"], scores["t_copula"], scores["gmm"])
    notes = src.decompose(line_plan(2)).notes
    assert notes[0].startswith("auto chose flow") and "takes its flows" in notes[1]
    # auto's estimate is flow's own, run on every row
    assert float(src.total_correlation()) == pytest.approx(float(Samples(x, method="flow").total_correlation()))


def test_auto_says_why_the_flow_was_not_considered(monkeypatch):
    x = test_mixture.sample(400, 3)
    few = Samples(x[:250], method="auto").decompose().notes[0]
    assert "flow was left out: 175 fitting rows, fewer than a flow's 200" in few
    monkeypatch.setitem(__import__("sys").modules, "zuko", None)  # as if zuko were not installed
    src = Samples(x, method="auto")
    assert "flow" not in src.estimator.scores and src.estimator.choice in ("copula", "t_copula", "gmm")
    assert "flow was left out: zuko is not installed (pip install 'tcdecomp[flows]')" in src.decompose().notes[0]
