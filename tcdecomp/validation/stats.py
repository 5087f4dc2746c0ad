"""Paired comparisons of trained models over seeds: the percentile bootstrap of a mean difference
(docs/math.md#paired-bootstrap)."""

from __future__ import annotations

import numpy as np

from .._checks import check_positive_int


def check_interval(level, resamples) -> int:
    """A bootstrap interval's ``level`` in (0, 1) and ``resamples`` >= 1; returns ``resamples``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    return check_positive_int(resamples, "resamples")


def paired_bootstrap(a, b, level: float = 0.95, resamples: int = 10000, seed: int = 0) -> dict:
    """The mean of ``a - b`` over pairs (a[s], b[s] from the same seed s) and its percentile bootstrap interval.

    The pairs are resampled with replacement ``resamples`` times; the interval holds the central ``level`` of
    the resampled means (Efron & Tibshirani 1993, ch. 13). ``wins`` is the share of pairs with a > b.

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
    picks = np.random.default_rng(seed).integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[picks].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
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
