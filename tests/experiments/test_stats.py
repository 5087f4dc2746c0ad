"""The paired percentile bootstrap against an exact enumeration of the bootstrap distribution, and its identities."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcdecomp.experiments.stats import paired_bootstrap


def test_interval_matches_the_exact_bootstrap_distribution():
    # n = 5 pairs: all 5^5 = 3125 resamples are equally likely, so the exact percentile interval is a weighted
    # quantile of their means; 200,000 Monte-Carlo resamples must land within a small fraction of its width.
    a = np.array([0.31, 0.12, 0.44, 0.27, 0.19])
    b = np.array([0.20, 0.15, 0.25, 0.21, 0.02])
    diff = a - b
    exact = np.sort([diff[list(p)].mean() for p in itertools.product(range(5), repeat=5)])
    low, high = np.quantile(exact, [0.05, 0.95])
    r = paired_bootstrap(a, b, level=0.9, resamples=200_000, seed=3)
    assert r["difference"] == pytest.approx(diff.mean(), abs=1e-15)
    assert r["low"] == pytest.approx(low, abs=0.004) and r["high"] == pytest.approx(high, abs=0.004)
    assert r["pairs"] == 5 and r["wins"] == pytest.approx(0.8)
    assert r["mean_a"] == pytest.approx(a.mean()) and r["mean_b"] == pytest.approx(b.mean())


values = st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=12)


@settings(max_examples=40, deadline=None)
@given(values, st.floats(-5, 5), st.integers(0, 2**31))
def test_shift_and_swap(a, shift, seed):
    a = np.array(a)
    b = np.roll(a, 1) * 0.5
    base = paired_bootstrap(a, b, resamples=500, seed=seed)
    shifted = paired_bootstrap(a + shift, b, resamples=500, seed=seed)
    assert shifted["low"] == pytest.approx(base["low"] + shift, abs=1e-9)
    assert shifted["high"] == pytest.approx(base["high"] + shift, abs=1e-9)
    swapped = paired_bootstrap(b, a, resamples=500, seed=seed)  # the same resamples, negated
    assert swapped["low"] == pytest.approx(-base["high"], abs=1e-9)
    assert swapped["high"] == pytest.approx(-base["low"], abs=1e-9)
    assert base["low"] <= base["high"]


@pytest.mark.parametrize(
    "a, b, kwargs, match",
    [
        ([1.0, 2.0], [1.0], {}, "same length"),
        ([1.0], [2.0], {}, "at least 2 pairs"),
        ([1.0, float("nan")], [1.0, 2.0], {}, "finite"),
        ([1.0, 2.0], [1.0, 2.0], {"level": 95}, "level"),
        ([1.0, 2.0], [1.0, 2.0], {"resamples": 0}, "resamples"),
    ],
)
def test_bad_arguments_are_named(a, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(a, b, **kwargs)
