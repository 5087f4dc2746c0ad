"""``Samples``: TC and decompositions of the distribution behind raw samples ``x`` (n x D).

The estimators themselves live in :mod:`tcdecomp.sample_methods`, one documented class per
``method``; this module checks the data the same way for every method and dispatches.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma

from ._checks import (
    as_float64_matrix,
    check_bool,
    check_choice,
    check_linearly_independent,
    check_no_monotone_pairs,
    check_not_constant,
    check_positive_int,
    check_seed,
    column_list,
    input_epsilon,
)
from .columns import split_table
from .decomposition import Estimate
from .neural import NeuralConfig
from .plans import PATH_NAMES, Plan, Term
from .sample_methods import METHODS as _METHOD_CLASSES
from .sample_methods import SampleData, copula_pseudo_observations, logdet_bias, normal_scores, tied_columns
from .source import Source

METHODS = tuple(_METHOD_CLASSES)
__all__ = ["METHODS", "Samples", "logdet_bias", "normal_scores", "tc_plugin_bias"]


def _check_interval(interval: str, resamples, confidence, cls):
    """``interval``, ``resamples`` and ``confidence`` checked together; the defaults filled in for the bootstrap."""
    from .bootstrap import MAX_RESAMPLES, MIN_RESAMPLES

    check_choice(interval, ("stderr", "bootstrap"), "interval")
    if interval == "stderr":
        for name, value in (("resamples", resamples), ("confidence", confidence)):
            if value is not None:
                raise ValueError(f"{name} applies to interval='bootstrap' only; pass interval='bootstrap' or drop it")
        return interval, None, None
    if cls.per_term:
        raise ValueError(
            f"interval='bootstrap' refits a density model on rows drawn with replacement; method={cls.name!r} "
            "estimates each term from neighbourhoods or networks that repeated rows break: use interval='stderr'"
        )
    resamples = 200 if resamples is None else check_positive_int(resamples, "resamples")
    if resamples < MIN_RESAMPLES:
        raise ValueError(f"resamples={resamples} is too few for a percentile interval; use at least {MIN_RESAMPLES}")
    if resamples > MAX_RESAMPLES:
        raise ValueError(f"resamples={resamples} is more than a percentile interval needs; use at most {MAX_RESAMPLES}")
    confidence = 0.95 if confidence is None else confidence
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    return interval, resamples, float(confidence)


def tc_plugin_bias(n: int, d: int) -> float:
    """``b(n, D)``: how much the uncorrected Gaussian plug-in TC is high on average (n rows > D dims).

    >>> round(tc_plugin_bias(100, 5), 4)  # about D (D - 1) / (4 (n - 1)) = 0.0505
    0.0518
    """
    d = check_positive_int(d, "d")
    n = check_positive_int(n, "n", minimum=d + 1)
    i = np.arange(1, d + 1)
    return float(0.5 * np.sum(digamma((n - 1) / 2.0) - digamma((n - i) / 2.0)))


class Samples(Source):
    """TC of the distribution behind raw samples ``x`` (n rows, D dims).

    ``method`` (each one a documented class in :mod:`tcdecomp.sample_methods`):
      * ``"gaussian"``: plug-in entropies of the sample covariance with the exact
        Wishart correction of ``E[log det S]`` per set (so every term is unbiased for
        Gaussian data); standard errors from the influence function
        ``-1/2 (x_S - m)^T S_SS^-1 (x_S - m)`` of each set and the exact variance at
        independence. Needs n >= D + 4.
      * ``"copula"``: columns to normal scores first (TC ignores monotone changes of
        each margin), then ``"gaussian"``: exact for Gaussian-copula data.
      * ``"student_t"``: a multivariate t fitted by maximum likelihood (ECME, degrees of freedom
        included; :func:`tcdecomp.student_t.fit_student_t`), then the closed-form entropies of
        :class:`StudentT` with the same Wishart correction of each ``log det`` as ``"gaussian"``.
        Exact in the limit for elliptical t data, whose shared scale makes even uncorrelated
        coordinates dependent (which ``"gaussian"`` and ``"copula"`` cannot see); reduces to
        ``"gaussian"`` when a likelihood-ratio test finds no evidence for a finite df, and refuses
        data whose independent t margins fit better than a multivariate t (their own heavy tails
        would be scored as dependence). Standard errors use each row's fitted log density of the
        set, the variance at independence and the df's own noise. Needs n >= D + 4.
      * ``"t_copula"``: ranks to pseudo-observations, a Student-t copula fitted to them
        (correlation from Kendall's tau, df by maximum likelihood), then the closed-form entropies
        of the multivariate t with that correlation and df: to t-copula data, whatever its margins,
        what ``"student_t"`` is to t data. The df stays finite only where a likelihood-ratio test
        prefers it to the Gaussian copula. Needs n >= 4 D.
      * ``"gmm"``: Gaussian mixtures (full covariances, EM) fitted in copula space to two halves of
        the rows; each set's entropy from the exact marginal mixtures, each row's log density the
        mean of its in-sample and held-out values (cross-fitting cancels the fitting noise to first
        order). ``components=K`` fixes K (default: chosen by held-out likelihood). Needs n >= 6 D + 12.
      * ``"flow"``: per set, the Gaussian copula followed by a neural spline flow (zuko), cross-fitted,
        on every set where the flow over all the columns beats the base copula on held-out rows (the t
        copula where its df test keeps a finite df, else the Gaussian copula); refuses a set whose rows
        lie near a curve or surface.
        Needs ``pip install 'tcdecomp[flows]'``.
      * ``"auto"``: fits ``"copula"``, ``"t_copula"``, ``"gmm"`` and (with zuko) a spline flow on 70% of
        the rows and runs the simplest that no more complex one beats by 2 standard errors of held-out
        likelihood in copula space; the notes say which and why. Needs about 7 D rows.
      * ``"knn"``: Kraskov-Stoegbauer-Grassberger (estimator 1, max-norm) for each
        term on ``scipy.spatial.cKDTree``, O(n log n), with delete-one jackknife standard
        errors. Per-term estimates do not telescope: a decomposition's total depends on the
        path. Needs n >= 10 (k + 1).

      * ``"infonce"``, ``"nwj"``, ``"mine"``, ``"club"``: a neural bound per pairwise term
        (:mod:`tcdecomp.neural`; ``neural=NeuralConfig(...)`` sets the networks and training).
        Columns are standardised first (TC ignores per-dim affine maps).

    Every method computes in float64 (float16, bfloat16 and float32 inputs are widened exactly) and first
    checks the data the same way: constant columns, exact linear relations (to the input's precision) and
    pairs of columns with the same rank order (strictly monotone functions of each other) have infinite TC
    and are refused, naming the columns. Copula-based methods (``copula``, ``t_copula``, ``gmm``, ``auto``)
    break the ties of discrete or rounded columns at random in rank, with a warning: they estimate the TC of
    the jittered (continuous) data (docs/math.md#ties). Each method needs :meth:`minimum_rows` rows, and its
    standard errors are meant to hold on independent data too (docs/math.md#variance-at-independence):
    there an estimate lies within 3 standard errors of 0 (docs/validation.md#independent-data).
    ``progress=True`` shows a progress bar over long loops of sets or terms when stderr is a terminal.

    ``x`` may be a pandas DataFrame (numeric columns) or come with ``columns=[names]``: the names then label every
    table, ``to_dict()`` and picture, and groups may be given by name (``multi_information([["age", "income"],
    ["score"]])``). :meth:`independence_test` asks whether the dependence is there at all, :meth:`mi_matrix` gives
    every pairwise MI.

    ``interval="bootstrap"`` (density methods) adds to every estimate a percentile interval from ``resamples``
    (default 200) refits on rows drawn with replacement, at level ``confidence`` (default 0.95), and makes its
    standard error the bootstrap's: the noise of what the method chooses from the data is then in it
    (docs/math.md#bootstrap). Each estimate's ``.interval`` and each decomposition's ``intervals`` and
    ``total_interval`` hold them; it costs ``resamples`` fits.

    ``total_path`` (per-term methods) is how ``total_correlation()`` is estimated: the sum of
    the per-term estimates along that path (default ``"bottom_up"``), or ``"direct"``
    for one D-variable KSG estimate. The direct estimate is biased low at high TC
    (measured: -0.39 nats at TC = 5, D = 10, n = 2000, k = 3) because its k-NN balls
    live in the full D-dim space; a tree's terms are smaller and lower-dimensional
    (same data: -0.03 nats along the bottom-up tree).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=20000)
    >>> round(float(Samples(x).total_correlation()), 2)  # exact: -1/2 log(1 - 0.8^2) = 0.5108
    0.51
    """

    def __init__(
        self,
        x,
        method: str = "gaussian",
        k: int = 3,
        random_state: int = 0,
        total_path: str = "bottom_up",
        neural: NeuralConfig | None = None,
        components: int | None = None,
        progress: bool = False,
        columns=None,
        interval: str = "stderr",
        resamples: int | None = None,
        confidence: float | None = None,
    ):
        x, self.columns = split_table(x, columns)
        self.x = as_float64_matrix(x, "x", self.columns)
        if self.columns is not None and len(self.columns) != self.x.shape[1]:
            raise ValueError(f"columns has {len(self.columns)} names for the {self.x.shape[1]} columns of x")
        self.progress = check_bool(progress, "progress")
        random_state = check_seed(random_state, "random_state")
        self._options = {"method": method, "k": k, "random_state": random_state, "total_path": total_path,
                         "neural": neural, "components": components, "interval": interval,
                         "resamples": resamples, "confidence": confidence}  # fmt: skip
        self.method = check_choice(method, METHODS, "method")
        self.k = check_positive_int(k, "k")
        n, d = self.x.shape
        self.n_samples, self.n_dims = n, d
        self.label = method
        cls = _METHOD_CLASSES[method]
        if neural is not None and not isinstance(neural, NeuralConfig):
            raise ValueError(f"neural must be a tcdecomp.neural.NeuralConfig, got {type(neural).__name__}")
        self.neural = neural or NeuralConfig(seed=random_state)
        fewest = cls.minimum_rows(d, self.k, self.neural)
        if n < fewest:
            copula_fits = method != "copula" and n >= _METHOD_CLASSES["copula"].minimum_rows(d)
            raise ValueError(
                f"x has n={n} rows for D={d} dims: method={method!r} needs n >= {fewest} "
                f"({cls.rows_reason_for(d, self.k, self.neural)}); use more rows"
                + (" or method='copula'" if copula_fits else "")
            )
        # The same data checks for every method: a degenerate dim, an exact linear relation, or two columns that
        # are strictly monotone functions of each other (the same rank order) has infinite TC.
        check_not_constant(self.x, columns=self.columns)
        # Rescaling a column changes no TC term (each set's entropy moves by the log scales of its dims,
        # which cancel in every term), and keeps squares of data near 1e300 or 1e-300 representable.
        scaled = self.x / np.max(np.abs(self.x), axis=0)
        check_linearly_independent(scaled, input_epsilon(x), columns=self.columns)
        tied = tied_columns(self.x)
        check_no_monotone_pairs(self.x, skip=tied, columns=self.columns)
        u = None
        if cls.copula_based:
            u = copula_pseudo_observations(self.x, random_state, tied)
            if tied:  # broken ties can line two columns up by chance in few rows: the copula is then degenerate
                check_no_monotone_pairs(u, name=f"x (its ties broken at random, n={n} rows)", columns=self.columns)
            if tied:
                warnings.warn(
                    f"{method}: columns {column_list(tied, self.columns)} of x repeat many values (discrete or "
                    "rounded data); their ties were broken at random in rank, so the estimate is the TC of the "
                    "jittered (continuous) data",
                    UserWarning,
                    stacklevel=2,
                )
        self.total_path = check_choice(total_path, PATH_NAMES[:3] + ("direct",), "total_path")
        if components is not None:
            if method != "gmm":
                raise ValueError(f"components applies to method='gmm' only, not {method!r}")
            components = check_positive_int(components, "components")
        self.interval, self.resamples, self.confidence = _check_interval(interval, resamples, confidence, cls)
        self.random_state = random_state
        self._bootstrapped: dict = {}
        data = SampleData(self.x, scaled, input_epsilon(x), random_state, components, u, bool(progress), self.columns)
        self.estimator = cls(data, k=self.k, neural=self.neural)
        if self.interval == "bootstrap" and self.estimator.per_term:  # auto may choose knn
            raise ValueError(
                f"interval='bootstrap': method={method!r} chose knn here, whose neighbourhoods repeated rows break; "
                "use interval='stderr'"
            )

    @staticmethod
    def minimum_rows(method: str, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        """The fewest rows ``method`` accepts for ``d`` dims (each method's docstring says why).

        >>> Samples.minimum_rows("gaussian", 10), Samples.minimum_rows("gmm", 10), Samples.minimum_rows("gaussian", 50)
        (30, 72, 54)
        """
        check_choice(method, METHODS, "method")
        return _METHOD_CLASSES[method].minimum_rows(check_positive_int(d, "d"), check_positive_int(k, "k"), neural)

    def refit(self, x, **options) -> Samples:
        """The same method with the same options (but those given) on other data ``x`` (its columns unnamed)."""
        return Samples(x, **{**self._options, **options})

    def independence_test(self, groups=None, permutations: int = 999, seed: int = 0):
        """A permutation test of H0: the ``groups`` (default: every single column; indices or names) are mutually
        independent. The statistic is this method's TC or multi-information of the groups, recomputed on
        ``permutations`` data sets whose groups' rows are shuffled independently (:mod:`tcdecomp.independence`).
        Returns an :class:`~tcdecomp.independence.IndependenceTest` with the p-value and the null draws.

        >>> import numpy as np
        >>> x = np.random.default_rng(0).multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], size=200)
        >>> Samples(x, method="copula").independence_test(permutations=99).p_value
        0.01
        """
        from .independence import permutation_test

        return permutation_test(self, groups, permutations, seed)

    @property
    def df_(self) -> float:
        """The fitted degrees of freedom (``method="student_t"``)."""
        if self.method != "student_t":
            raise AttributeError("df_ exists for method='student_t' only")
        return self.estimator.df

    def _set_stats(self, sets):
        return self.estimator.set_stats(sets)

    def total_correlation(self) -> Estimate:
        if not self.estimator.per_term or self.total_path == "direct" or self.n_dims < 3:
            return super().total_correlation()
        dec = self.decompose(self.total_path)
        return Estimate(float(dec.total), dec.total_stderr)

    def _evaluate(self, terms: list[Term]):
        if self.estimator.per_term:
            return self.estimator.evaluate(terms)
        values, errors, total_error = super()._evaluate(terms)
        if self.interval == "bootstrap" and terms:
            from .bootstrap import bootstrap_terms

            key = tuple(terms)
            if key not in self._bootstrapped:
                self._bootstrapped[key] = bootstrap_terms(
                    self, terms, self.resamples, self.confidence, self.random_state
                )
            errors, total_error, _, _ = self._bootstrapped[key]
        return values, errors, total_error

    def _intervals(self, terms: list[Term]):
        if self.interval != "bootstrap" or not terms:
            return None
        _, _, intervals, total_interval = self._bootstrapped[tuple(terms)]
        return intervals, total_interval

    def _extra_variances(self, terms: list[Term]):
        return self.estimator.extra_variances(terms)

    def _notes(self, plan: Plan) -> tuple[str, ...]:
        return self.estimator.notes(plan)

    def __repr__(self) -> str:
        names = f", columns={list(self.columns)}" if self.columns is not None else ""
        return f"Samples(n={self.n_samples}, D={self.n_dims}, method={self.method!r}{names})"
