"""Percentile bootstrap intervals for ``Samples(x, method=..., interval="bootstrap")`` (docs/math.md#bootstrap).

Each resample draws n rows with replacement and refits the method on them from scratch, so the noise of what the
method chooses from the data (a copula's df, a mixture's K, ``auto``'s model, a flow's training) is in the spread;
the analytic standard errors hold that choice fixed. The resampling, the percentile interval and the standard
error of the replicates are :func:`scipy.stats.bootstrap`'s.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings

import numpy as np

from ._resources import check_fits, forecast
from .plans import Term

logger = logging.getLogger(__name__)

#: fewest resamples: below this the 2.5% and 97.5% percentiles rest on one or two replicates
MIN_RESAMPLES = 50
#: most resamples: a percentile's Monte-Carlo error is then far below the sampling error it describes, and each
#: resample is a refit
MAX_RESAMPLES = 100_000
#: row indices scipy draws at once (resamples x n of them): bounds the index arrays to 64 MiB at any n and B
INDEX_BATCH = 2**23


def bootstrap_terms(samples, terms: list[Term], resamples: int, confidence: float, seed: int):
    """Per term and for their sum: the bootstrap standard error and the percentile interval, each from
    ``resamples`` refits of ``samples``' method on rows drawn with replacement."""
    from scipy.stats import bootstrap

    n = samples.n_samples
    check_fits(8.0 * resamples * (len(terms) + 1), f"{resamples} bootstrap replicates", "use fewer resamples")
    first = []  # the first refit's seconds, for the forecast

    def statistic(rows):
        started = time.perf_counter()
        with warnings.catch_warnings():  # repeated rows are ties by design here: the copula methods break them
            warnings.simplefilter("ignore")
            refit = samples.refit(samples.x[rows], interval="stderr", resamples=None, confidence=None)
            values, _, _ = refit._evaluate(terms)
        if not first:
            first.append(time.perf_counter() - started)
            forecast(logger, first[0], resamples - 1, "bootstrap refits")
        values = np.asarray([float(v) for v in values])
        return np.append(values, values.sum())

    logger.info("bootstrap: %d refits of %s on %d rows", resamples, samples.method, n)
    generator = np.random.default_rng(seed)
    seeding = {"rng": generator} if "rng" in inspect.signature(bootstrap).parameters else {"random_state": generator}
    try:
        result = bootstrap(
            (np.arange(n),),
            statistic,
            n_resamples=resamples,
            batch=max(1, min(resamples, INDEX_BATCH // n)),
            confidence_level=confidence,
            method="percentile",
            vectorized=False,
            **seeding,
        )
    except ValueError as exc:  # a resample's repeated rows can line two columns up, or leave too few distinct rows
        raise ValueError(f"interval='bootstrap': a resample was refused ({exc}); use interval='stderr'") from None
    low, high = np.atleast_1d(result.confidence_interval.low), np.atleast_1d(result.confidence_interval.high)
    errors = np.atleast_1d(result.standard_error)
    intervals = [(float(a), float(b)) for a, b in zip(low, high)]
    return [float(e) for e in errors[:-1]], float(errors[-1]), intervals[:-1], intervals[-1]
