"""TC estimators for raw samples ``x`` (n x D): corrected Gaussian plug-in, Gaussian copula, Student-t, KSG, neural.

Formulas: docs/math.md#the-wishart-log-det-correction, #copula, #multivariate-t, #ksg, #neural-bounds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import digamma, ndtri
from scipy.stats import rankdata

from ._checks import (
    as_float64_matrix,
    check_choice,
    check_linearly_independent,
    check_not_constant,
    check_positive_int,
    input_epsilon,
)
from ._constants import LOG_2PI_E
from .decomposition import Estimate, combine_stderr
from .knn import break_ties, ksg_multi_information
from .neural import NEURAL_METHODS, NeuralConfig, neural_mi, pairwise_chain
from .plans import PATH_NAMES, Plan, Term
from .source import Source, _stderr
from .student_t import fit_student_t, t_entropy_offset, t_log_density

METHODS = ("gaussian", "copula", "student_t", "knn") + NEURAL_METHODS
#: methods that estimate each term on its own (totals depend on the path)
PER_TERM_METHODS = ("knn",) + NEURAL_METHODS


def logdet_bias(n: int, d: int) -> float:
    """``E[log det S] - log det Sigma`` for the unbiased sample covariance S of n Gaussian rows in d dims.

    S (n-1) ~ Wishart(Sigma, n-1), so ``E[log det S] = log det Sigma + sum_{i=1..d} psi((n-i)/2)
    + d log(2/(n-1))``. For TC this gives the plug-in bias
    ``b(n, D) = 1/2 sum_{i=1..D} [psi((n-1)/2) - psi((n-i)/2)] ~ D(D-1) / (4(n-1))``.
    """
    i = np.arange(1, d + 1)
    return float(np.sum(digamma((n - i) / 2.0)) + d * math.log(2.0 / (n - 1)))


def tc_plugin_bias(n: int, d: int) -> float:
    """``b(n, D)``: how much the uncorrected Gaussian plug-in TC is high on average (n rows > D dims).

    >>> round(tc_plugin_bias(100, 5), 4)  # about D (D - 1) / (4 (n - 1)) = 0.0505
    0.0518
    """
    d = check_positive_int(d, "d")
    n = check_positive_int(n, "n", minimum=d + 1)
    i = np.arange(1, d + 1)
    return float(0.5 * np.sum(digamma((n - 1) / 2.0) - digamma((n - i) / 2.0)))


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Ranks of each column mapped to standard-normal quantiles ``Phi^-1(rank / (n + 1))`` (ties averaged)."""
    ranks = rankdata(x, axis=0)
    return ndtri(ranks / (x.shape[0] + 1.0))


class Samples(Source):
    """TC of the distribution behind raw samples ``x`` (n rows, D dims).

    ``method``:
      * ``"gaussian"``: plug-in entropies of the sample covariance with the exact
        Wishart correction of ``E[log det S]`` per set (so every term is unbiased for
        Gaussian data); standard errors from the influence function
        ``-1/2 (x_S - m)^T S_SS^-1 (x_S - m)`` of each set. Needs n > D.
      * ``"copula"``: columns to normal scores first (TC ignores monotone changes of
        each margin), then ``"gaussian"``: exact for Gaussian-copula data.
      * ``"student_t"``: a multivariate t fitted by maximum likelihood (ECME, degrees of freedom
        included; :func:`tcdecomp.student_t.fit_student_t`), then the closed-form entropies of
        :class:`StudentT` with the same Wishart correction of each ``log det`` as ``"gaussian"``.
        Exact in the limit for elliptical t data, whose shared scale makes even uncorrelated
        coordinates dependent (which ``"gaussian"`` and ``"copula"`` cannot see); reduces to
        ``"gaussian"`` as the fitted df grows. Standard errors use each row's fitted log density
        of the set as its influence (the parameters' own noise is left out). Needs n > D.
      * ``"knn"``: Kraskov-Stoegbauer-Grassberger (estimator 1, max-norm) for each
        term on ``scipy.spatial.cKDTree``, O(n log n). Per-term estimates do not
        telescope: a decomposition's total depends on the path.

      * ``"infonce"``, ``"nwj"``, ``"mine"``, ``"club"``: a neural bound per pairwise term
        (:mod:`tcdecomp.neural`; ``neural=NeuralConfig(...)`` sets the networks and training).
        Columns are standardised first (TC ignores per-dim affine maps).

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
    ):
        self.x = as_float64_matrix(x, "x")
        self.method = check_choice(method, METHODS, "method")
        self.k = check_positive_int(k, "k")
        n, d = self.x.shape
        self.n_samples, self.n_dims = n, d
        self.label = method
        if method in ("gaussian", "copula", "student_t") and n <= d:
            raise ValueError(f"x has n={n} rows for D={d} dims; method={method!r} needs n > D (use more samples)")
        # The same data checks for every method: a degenerate dim or an exact linear relation has infinite TC.
        check_not_constant(self.x)
        # Rescaling a column changes no TC term (each set's entropy moves by the log scales of its dims,
        # which cancel in every term), and keeps squares of data near 1e300 or 1e-300 representable.
        self._scaled = self.x / np.max(np.abs(self.x), axis=0)
        check_linearly_independent(self._scaled, input_epsilon(x))
        self.total_path = check_choice(total_path, PATH_NAMES[:3] + ("direct",), "total_path")
        if neural is not None and not isinstance(neural, NeuralConfig):
            raise ValueError(f"neural must be a tcdecomp.neural.NeuralConfig, got {type(neural).__name__}")
        self.neural = neural or NeuralConfig(seed=random_state)
        if method in NEURAL_METHODS:
            self._neural_x = (self._scaled - self._scaled.mean(0)) / self._scaled.std(0)
            self._pair_cache: dict = {}
        if method == "knn":
            if n <= self.k:
                raise ValueError(f"k={self.k} must be below the number of samples n={n}")
            # One scale for every column: KSG's max-norm neighbourhoods are unchanged by it.
            self._knn_x = break_ties(self.x / np.max(np.abs(self.x)), input_epsilon(x), random_state)
        if method == "student_t":
            try:
                with np.errstate(over="raise", divide="raise", invalid="raise"):
                    self._loc, self._cov, self.df_ = fit_student_t(self._scaled)
            except (np.linalg.LinAlgError, FloatingPointError):
                # On data with a point mass (many repeated values) the likelihood grows without bound as the
                # scale collapses onto it: there is no maximum to report.
                raise ValueError(
                    "x: the Student-t fit degenerates (its scale collapses onto repeated values); "
                    "method='student_t' needs continuous data, use 'copula' or 'knn'"
                ) from None
        if method in ("gaussian", "copula"):
            data = normal_scores(self.x) if method == "copula" else self._scaled
            self._centred = data - data.mean(axis=0)
            # R of a QR of the centred data: every covariance block's log det and whitening, without
            # forming the covariance (which squares the condition number).
            self._r = np.linalg.qr(self._centred, mode="r")

    # -- set-based plug-ins -------------------------------------------------------------
    def _set_stats(self, sets):
        n = self.n_samples
        values = np.empty(len(sets))
        per_sample = np.empty((n, len(sets)))
        for j, s in enumerate(sets):
            idx = np.asarray(s)
            d = len(idx)
            if self.method == "student_t":
                chol = np.linalg.cholesky(self._cov[np.ix_(idx, idx)])
                logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
                values[j] = -(0.5 * (logdet - logdet_bias(n, d)) + t_entropy_offset(d, self.df_))
                per_sample[:, j] = t_log_density(self._scaled[:, idx], self._loc[idx], chol, self.df_)
                continue
            # cov_SS = R_S^T R_S / (n - 1) with R_S the R factor of the set's columns of R.
            r_set = np.linalg.qr(self._r[:, idx], mode="r")
            logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r_set))))) - d * math.log(n - 1)
            values[j] = -0.5 * (d * LOG_2PI_E + logdet - logdet_bias(n, d))
            # Influence of each row on -H(z_S): -1/2 (quadratic form - d); the constant drops out of the spread.
            whitened = solve_triangular(r_set.T, self._centred[:, idx].T, lower=True) * math.sqrt(n - 1)
            per_sample[:, j] = -0.5 * np.sum(whitened * whitened, axis=0)
        return values, per_sample

    # -- per-term estimators --------------------------------------------------------------
    def total_correlation(self) -> Estimate:
        if self.method not in PER_TERM_METHODS or self.total_path == "direct" or self.n_dims < 3:
            return super().total_correlation()
        dec = self.decompose(self.total_path)
        return Estimate(float(dec.total), dec.total_stderr)

    def _evaluate(self, terms: list[Term]):
        if self.method in NEURAL_METHODS:
            return self._evaluate_neural(terms)
        if self.method != "knn":
            return super()._evaluate(terms)
        per_term = np.stack([ksg_multi_information(self._knn_x, t.groups, self.k) for t in terms], axis=1)
        values = list(per_term.mean(axis=0))
        errors = [_stderr(per_term[:, t]) for t in range(len(terms))]
        return values, errors, _stderr(per_term.sum(axis=1))

    def _pair(self, a: tuple, b: tuple):
        # One network per pairwise term; a path reuses a pair's estimate instead of retraining.
        key = (a, b)
        if key not in self._pair_cache:
            x = self._neural_x
            self._pair_cache[key] = neural_mi(x[:, list(a)], x[:, list(b)], self.method, self.neural)
        return self._pair_cache[key]

    def _evaluate_neural(self, terms: list[Term]):
        values, errors = [], []
        for term in terms:
            pairs = [self._pair(a, b) for a, b in pairwise_chain(term.groups)]
            values.append(sum(v for v, _ in pairs))
            errors.append(combine_stderr([e for _, e in pairs]))
        return values, errors, combine_stderr(errors)

    def _notes(self, plan: Plan) -> tuple[str, ...]:
        if self.method in PER_TERM_METHODS:
            name = f"knn (KSG, k={self.k})" if self.method == "knn" else f"{self.method} (neural bound)"
            notes = [f"{name} estimates each term separately: the total depends on the path ({plan.name})."]
            if self.method == "infonce":
                notes.append(
                    f"infonce is capped at log(batch) = {math.log(self.neural.batch_size):.3f} nats per pairwise "
                    "term: a term near the cap is only a lower bound."
                )
            return tuple(notes)
        return ()

    def __repr__(self) -> str:
        return f"Samples(n={self.n_samples}, D={self.n_dims}, method={self.method!r})"
