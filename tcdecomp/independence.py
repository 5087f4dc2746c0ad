"""A permutation test of mutual independence for any ``Samples`` method (docs/math.md#independence-test).

H0: the groups (default: every single column) are mutually independent. The statistic is the method's TC (single
columns) or multi-information of the groups; each null draw recomputes it, with the same method and options, on
the data with the rows of every group but the first permuted independently. Under H0 the permuted data sets have
the observed one's distribution, so the p-value ``(1 + #{null >= observed}) / (1 + permutations)`` is valid at
every n whatever the estimator's bias (Phipson & Smyth 2010 for the +1s); NPEET's ``shuffle_test`` is the same
idea for pairs. Only the columns of the groups take part: others could depend on a group and would break the
exchangeability the test rests on.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_positive_int, check_seed
from ._resources import forecast

log = logging.getLogger(__name__)

#: the fewest permutations: with fewer, no p-value can fall below 5%
MIN_PERMUTATIONS = 19
#: the most permutations: the p-value is then resolved to 1e-6, finer than any multiple-testing correction of a few
#: thousand tests needs; more only costs time (each permutation is a refit)
MAX_PERMUTATIONS = 10**6


@dataclass(frozen=True)
class IndependenceTest:
    """The outcome of :meth:`tcdecomp.Samples.independence_test`: the observed statistic (nats), the p-value, the
    null draws (one per permutation, nats), and what was tested."""

    statistic: float
    p_value: float
    null: np.ndarray = field(repr=False)
    permutations: int
    groups: tuple[tuple, ...]
    method: str

    def to_dict(self) -> dict:
        return {
            "statistic": self.statistic,
            "p_value": self.p_value,
            "permutations": self.permutations,
            "groups": [list(g) for g in self.groups],
            "method": self.method,
            "null_mean": float(np.mean(self.null)),
            "null_quantile_95": float(np.quantile(self.null, 0.95)),
        }

    def __str__(self) -> str:
        return (
            f"independence test ({self.method}, {self.permutations} permutations): statistic "
            f"{self.statistic:.4f} nats, p = {self.p_value:.4g}"
        )


def permutation_test(samples, groups=None, permutations: int = 999, seed: int = 0) -> IndependenceTest:
    """The test behind :meth:`tcdecomp.Samples.independence_test` (this module's docstring)."""
    permutations = check_positive_int(permutations, "permutations", minimum=MIN_PERMUTATIONS)
    if permutations > MAX_PERMUTATIONS:
        raise ValueError(
            f"permutations={permutations} is more than the {MAX_PERMUTATIONS} that resolve a p-value to "
            f"{1 / MAX_PERMUTATIONS:g}; use at most {MAX_PERMUTATIONS}"
        )
    seed = check_seed(seed, "seed")
    # the groups' checks (names, range, at least 2, disjoint) are those of any term of the source
    groups = tuple((k,) for k in range(samples.n_dims)) if groups is None else samples.check_term(groups).groups
    union = [c for g in groups for c in g]
    local = tuple(tuple(range(start, start + len(g))) for start, g in zip(np.cumsum([0, *map(len, groups)]), groups))
    x = samples.x[:, union]
    observed = _statistic(samples, x, local)
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    steps = range(permutations)
    if samples.progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="permutations", unit="fit", leave=False)
    for b in steps:
        started = time.perf_counter()
        shuffled = x.copy()
        for g in local[1:]:  # the first group stays in place: permuting every group adds nothing
            shuffled[:, list(g)] = x[rng.permutation(len(x))][:, list(g)]
        null[b] = _statistic(samples, shuffled, local)
        if b == 0:
            forecast(log, time.perf_counter() - started, permutations - 1, "permutations")
    p_value = (1 + int(np.sum(null >= observed))) / (1 + permutations)
    return IndependenceTest(observed, p_value, null, permutations, _named(groups, samples), samples.method)


def _statistic(samples, x: np.ndarray, local: tuple[tuple, ...]) -> float:
    """The method's TC (single columns) or multi-information of ``local`` groups on ``x``, as ``samples`` fits it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tie warning, said once for the observed data already
        fitted = samples.refit(x, interval="stderr", resamples=None, confidence=None)  # the statistic needs no interval
        value = fitted.total_correlation() if all(len(g) == 1 for g in local) else fitted.multi_information(local)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"method={samples.method!r} gave a non-finite statistic; the test needs a finite one")
    return value


def _named(groups, samples) -> tuple[tuple, ...]:
    columns = getattr(samples, "columns", None)
    return groups if columns is None else tuple(tuple(columns[c] for c in g) for g in groups)
