"""Paired comparisons of trained models over seeds: the percentile bootstrap of a mean difference
(docs/math.md#paired-bootstrap)."""

from __future__ import annotations

import inspect

import numpy as np
import scipy.stats

from .._checks import check_positive_int


def _seeded(seed: int) -> dict:
    """The seed under the name this scipy takes (``rng`` from 1.15, ``random_state`` before)."""
    name = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def check_interval(level, resamples) -> int:
    """A bootstrap interval's ``level`` in (0, 1) and ``resamples`` >= 1; returns ``resamples``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    return check_positive_int(resamples, "resamples")


def paired_bootstrap(a, b, level: float = 0.95, resamples: int = 10000, seed: int = 0) -> dict:
    """The mean of ``a - b`` over pairs (a[s], b[s] from the same seed s) and its percentile bootstrap interval.

    The pairs are resampled with replacement ``resamples`` times; the interval holds the central ``level`` of
    the resampled means (Efron & Tibshirani 1993, ch. 13), by ``scipy.stats.bootstrap(paired=True,
    method="percentile")``. ``wins`` is the share of pairs with a > b.

    >>> r = paired_bootstrap([0.3, 0.4, 0.5, 0.6], [0.1, 0.2, 0.3, 0.4])
    >>> round(r["difference"], 3), round(r["low"], 3), round(r["high"], 3), r["wins"]
    (0.2, 0.2, 0.2, 1.0)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D and paired (same length), got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 pairs, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite; drop the runs that failed before comparing")
    resamples = check_interval(level, resamples)
    diff = a - b
    if np.ptp(diff) == 0:  # every pair differs alike: the bootstrap distribution is that one value
        low = high = float(diff[0])
    else:
        result = scipy.stats.bootstrap(
            (a, b),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            paired=True,
            vectorized=True,
            method="percentile",
            confidence_level=level,
            n_resamples=resamples,
            **_seeded(seed),
        )
        low, high = result.confidence_interval
    return {
        "difference": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "level": level,
        "pairs": len(diff),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "wins": float(np.mean(diff > 0)),
    }
