"""The permutation test of independence: its p-value by hand, groups by index and name, its calibration on
independent data at small sizes (the full calibration is benchmarks/independence_test.py), bad arguments."""

import numpy as np
import pytest
import scipy.stats

from tcdecomp import Samples
from tcdecomp.independence import IndependenceTest


def correlated(n, rho, seed, d=3):
    x = np.random.default_rng(seed).standard_normal((n, d))
    x[:, 1] = rho * x[:, 0] + np.sqrt(1 - rho**2) * x[:, 1]
    return x


def test_p_value_counts_the_null_draws_at_or_above_the_statistic():
    x = correlated(120, 0.6, seed=0)
    source = Samples(x, method="copula")
    test = source.independence_test(permutations=39, seed=3)
    assert isinstance(test, IndependenceTest) and test.null.shape == (39,)
    assert test.statistic == pytest.approx(float(source.total_correlation()), rel=1e-12)
    assert test.p_value == (1 + np.sum(test.null >= test.statistic)) / 40
    assert test.p_value == 1 / 40  # a correlation of 0.6 in 120 rows: no permutation comes near
    again = source.independence_test(permutations=39, seed=3)
    np.testing.assert_array_equal(again.null, test.null)  # the seed fixes the permutations
    assert set(test.to_dict()) >= {"statistic", "p_value", "permutations", "groups", "method"}


def test_groups_keep_their_own_dependence_and_test_only_between_them():
    x = correlated(150, 0.9, seed=1)  # columns 0 and 1 strongly dependent, column 2 independent of both
    source = Samples(x, method="copula")
    within = source.independence_test(groups=[[0, 1], [2]], permutations=99, seed=0)
    assert within.statistic == pytest.approx(float(source.multi_information([[0, 1], [2]])), rel=1e-12)
    assert within.p_value > 0.05 and within.groups == ((0, 1), (2,))
    between = source.independence_test(groups=[[0], [1, 2]], permutations=99, seed=0)
    assert between.p_value == 0.01


@pytest.mark.parametrize("method", ["copula", "gaussian", "knn"])
def test_p_values_are_uniform_on_independent_data(method):
    rng = np.random.default_rng(7)
    p = []
    for seed in range(40):
        x = rng.standard_normal((60, 3)) ** (1 + seed % 2)  # Gaussian and skewed margins
        p.append(Samples(x, method=method).independence_test(permutations=19, seed=seed).p_value)
    assert scipy.stats.kstest(p, "uniform").pvalue > 0.01
    assert min(p) >= 1 / 20


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"permutations": 5}, "permutations"),
        ({"permutations": 1.5}, "permutations"),
        ({"permutations": 10**9}, "use at most 1000000"),  # was an 8 GB null array and days of refits
        ({"seed": -1}, "seed"),
        ({"groups": [[0, 1], [1, 2]]}, "disjoint"),
        ({"groups": [[0, 1, 2]]}, "at least 2"),
        ({"groups": [[0], [7]]}, "out of range"),
        ({"groups": [["a"], [1]]}, "no column named"),
        ({"groups": "01"}, "groups"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Samples(correlated(60, 0.3, seed=2), method="copula").independence_test(**kwargs)


def test_a_long_test_is_forecast_after_its_first_permutation(caplog, monkeypatch):
    # a forecast above SLOW_SECONDS is a logged warning naming the duration and the fix (the library never prints)
    monkeypatch.setattr("tcdecomp._resources.SLOW_SECONDS", 0.0)
    with caplog.at_level("WARNING", logger="tcdecomp.independence"):
        Samples(correlated(60, 0.3, seed=2), method="copula").independence_test(permutations=19)
    (record,) = [r for r in caplog.records if "more permutations" in r.getMessage()]
    assert record.levelname == "WARNING" and "18 more permutations" in record.getMessage()
    assert "pass fewer" in record.getMessage()
