"""The estimators behind ``Samples(x, method=...)``: one small class per method, found by name in
:data:`METHODS` (POT-style dispatch). Each class gets data that :class:`tcdecomp.Samples` has
already checked (finite, no constant column, no linear dependence) and answers either per set of
dims (``set_stats``: plug-ins whose terms telescope exactly) or per term (``evaluate``).

Formulas: docs/math.md#the-wishart-log-det-correction, #copula, #multivariate-t, #ksg, #neural-bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import digamma, gammaln, ndtri
from scipy.stats import rankdata

from ._checks import column_list
from ._constants import LOG_2PI, LOG_2PI_E
from .decomposition import combine_stderr
from .knn import MAX_STRAY_TIES, break_ties, ksg_with_influence
from .neighbour_check import MAX_ROWS as NEIGHBOUR_ROWS
from .neighbour_check import at_most, check_density_models, compare_dimensions
from .neural import NEURAL_METHODS, NeuralConfig, neural_mi, pairwise_chain
from .null_variance import kendall_variance_ratio, wilks_null_variance
from .plans import Plan, Term
from .source import _stderr
from .student_t import fit_student_t, t_entropy_offset, t_log_density


def logdet_bias(n: int, d: int) -> float:
    """``E[log det S] - log det Sigma`` for the unbiased sample covariance S of n Gaussian rows in d dims.

    S (n-1) ~ Wishart(Sigma, n-1), so ``E[log det S] = log det Sigma + sum_{i=1..d} psi((n-i)/2)
    + d log(2/(n-1))``. For TC this gives the plug-in bias
    ``b(n, D) = 1/2 sum_{i=1..D} [psi((n-1)/2) - psi((n-i)/2)] ~ D(D-1) / (4(n-1))``.
    """
    i = np.arange(1, d + 1)
    return float(np.sum(digamma((n - i) / 2.0)) + d * math.log(2.0 / (n - 1)))


def pseudo_observations(x: np.ndarray) -> np.ndarray:
    """Each column's ranks as ``rank / (n + 1)`` in (0, 1), ties averaged: the copula's sample."""
    return rankdata(x, axis=0) / (x.shape[0] + 1.0)


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Ranks of each column mapped to standard-normal quantiles ``Phi^-1(rank / (n + 1))`` (ties averaged)."""
    return ndtri(pseudo_observations(x))


def tied_columns(x: np.ndarray) -> list[int]:
    """Columns that repeat more values than stray ties allow (discrete or rounded data)."""
    n = x.shape[0]
    return [j for j in range(x.shape[1]) if n - len(np.unique(x[:, j])) > MAX_STRAY_TIES * n]


def copula_pseudo_observations(x: np.ndarray, random_state: int, tied=None) -> np.ndarray:
    """Pseudo-observations for every copula-based method (``copula``, ``t_copula``, ``gmm``, ``auto``;
    docs/math.md#ties). A column in ``tied`` (default :func:`tied_columns`) has its ties broken at random:
    each atom is spread evenly over its share of (0, 1), the jittered continuous extension of a discrete
    margin, whose TC is the TC of the data with independent uniform jitter inside each atom. Averaged ranks
    would put the normal scores on a few atoms: a mixture then fits spikes whose held-out density is unbounded
    (an independent 3-valued grid gave TC = -3.9), and a t copula reads the atoms as heavy tails (0.90 nats on
    independent 3-valued columns). Other columns are :func:`pseudo_observations` (a few stray ties averaged)."""
    u = pseudo_observations(x)
    n = x.shape[0]
    rng = np.random.default_rng([random_state, 1])  # its own stream: never the user's default_rng(random_state)
    for j in tied_columns(x) if tied is None else tied:
        order = np.lexsort((rng.random(n), x[:, j]))  # by value, ties in random order
        u[order, j] = np.arange(1, n + 1) / (n + 1.0)
    return u


@dataclass(frozen=True)
class SampleData:
    """Checked samples: ``x`` as given (float64), ``scaled`` with every column divided by its largest
    magnitude (which changes no TC term), the machine epsilon of the input's precision, a seed."""

    x: np.ndarray
    scaled: np.ndarray
    epsilon: float
    random_state: int
    #: ``gmm``'s number of components (None: chosen by held-out likelihood)
    components: int | None = None
    #: the copula-based methods' pseudo-observations (:func:`copula_pseudo_observations`), else None
    u: np.ndarray | None = None
    #: whether long loops over sets or terms show a progress bar (on a terminal)
    progress: bool = False
    #: the columns' names, for errors that name columns (None: their indices)
    columns: tuple | None = None


def steps(items, progress: bool, desc: str):
    """``items``, with a progress bar when asked for and stderr is a terminal (tqdm's own test)."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False, disable=None if progress else True)


#: every method needs at least this many rows: with fewer, no estimate's error is near enough to normal for a
#: standard error to describe it (on independent data with skewed or discrete margins, 0.3-0.6% of data sets of
#: 6-8 rows scored beyond 3 standard errors, none of 2000-4000 of 30 rows: docs/validation.md#independent-data)
MIN_ROWS = 30
MIN_ROWS_REASON = f"every method needs {MIN_ROWS}: with fewer, no standard error describes the estimate's error"


class SampleMethod:
    """Base class: a method prepared from :class:`SampleData`."""

    name: str = ""
    #: whether the method estimates each term on its own (a decomposition's total then depends on the path)
    per_term: bool = False
    #: why the method needs :meth:`minimum_rows` rows (said when it refuses fewer)
    rows_reason: str = "at least two rows"
    #: whether the method sees only the copula (ranks, ties broken by :func:`copula_pseudo_observations`)
    copula_based: bool = False

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        self.n = data.x.shape[0]
        self.progress = data.progress

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        """The fewest rows the method's own model needs for d dims (``k``: the neighbours of ``knn``; ``neural``:
        the neural bounds' configuration); :meth:`minimum_rows` adds the floor every method shares."""
        return 2

    @classmethod
    def minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        """The fewest rows the method accepts for d dims: its own model's need, and never fewer than MIN_ROWS."""
        return max(MIN_ROWS, cls.own_minimum_rows(d, k, neural))

    @classmethod
    def rows_reason_for(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> str:
        """Why :meth:`minimum_rows` is what it is (said when fewer rows are refused)."""
        if cls.own_minimum_rows(d, k, neural) <= MIN_ROWS:
            return MIN_ROWS_REASON
        return cls.rows_reason.format(k=k)

    def set_stats(self, sets):
        """Per set S: ``-H(z_S)`` and each row's influence on it (for standard errors)."""
        raise NotImplementedError

    def evaluate(self, terms: list[Term]):
        """Per-term methods: values, standard errors and the standard error of their sum."""
        raise NotImplementedError

    def extra_variances(self, terms: list[Term]):
        """Per term, variance that each row's influence leaves out (None: nothing); or (per term, the sum's)
        where the terms share that noise, so that the sum's is not the sum of the terms'."""
        return None

    def notes(self, plan: Plan) -> tuple[str, ...]:
        return ()


#: why the covariance-based methods need D + 4 rows: the TC's error is a sum of log-Beta variables, the smallest
#: with shape (n - D) / 2; from shape 2 on its tail is near normal (at n = D + 1, 0.5% of independent Gaussian
#: data sets scored beyond 3 standard errors; at D + 4, 0.1%: docs/validation.md#independent-data)
GAUSSIAN_ROWS_REASON = "D + 4: with fewer, the log det's error has a heavy tail that no standard error describes"


#: ``gaussian`` refuses where the Pearson correlations' Gaussian TC exceeds that of the ranks' normal scores by
#: more than RANK_AGREEMENT_MARGIN standard errors and is more than RANK_AGREEMENT_RATIO times it plus
#: RANK_AGREEMENT_FLOOR nats. On Gaussian data the two agree within a standard error at moderate dependence; at
#: strong dependence and few rows the ranks read low (up to 1.60 times lower over 400 random covariances with
#: n >= 30: benchmarks/rank_agreement.py), and on elliptical t data the two differ by about 10%; a few far rows
#: push the first to tens of nats.
RANK_AGREEMENT_MARGIN, RANK_AGREEMENT_RATIO, RANK_AGREEMENT_FLOOR = 4.0, 2.0, 0.05


def _standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / x.std(axis=0)


def rank_tc(x: np.ndarray) -> float:
    """The Gaussian TC of the correlation of the columns' normal scores, -1/2 log det (inf where singular)."""
    sign, logdet = np.linalg.slogdet(np.atleast_2d(np.corrcoef(normal_scores(x), rowvar=False)))
    return -0.5 * logdet if sign > 0 else math.inf


def pearson_tc_influence(x: np.ndarray) -> tuple[float, np.ndarray]:
    """The Gaussian TC of the Pearson correlation, -1/2 log det R (inf where R is singular), and each row's
    influence on it, 1/2 (sum_j z_ij^2 - z_i^T R^-1 z_i) with z the standardised values (docs/math.md#the-rank-
    agreement-check); moments with divisor n, so that the influence is the exact derivative in a row's weight."""
    n = len(x)
    z = _standardised(x)
    corr = (z.T @ z) / n
    sign, logdet = np.linalg.slogdet(corr)
    if sign <= 0:
        return math.inf, np.full(n, np.nan)
    return -0.5 * logdet, 0.5 * (np.sum(z * z, axis=1) - np.sum(z * np.linalg.solve(corr, z.T).T, axis=1))


def check_ranks_agree(x: np.ndarray) -> None:
    """Refuse data whose Pearson correlations show far more dependence than its ranks do: rows far from the rest
    (a missing-value code such as -999 in several columns of a row, one corrupted row) then set the covariance, and
    the Gaussian plug-in scores independent columns at tens of nats (docs/math.md#the-rank-agreement-check)."""
    n, d = x.shape
    if d < 2:  # one column: both TCs are 0
        return
    tc_ranks = rank_tc(x)
    tc_pearson, influence = pearson_tc_influence(x)
    if tc_pearson <= RANK_AGREEMENT_RATIO * tc_ranks + RANK_AGREEMENT_FLOOR:
        return
    if math.isfinite(tc_pearson):  # the variance at independence, which the influence misses there, added
        stderr = math.sqrt(influence.var(ddof=1) / n + wilks_null_variance(n, [[j] for j in range(d)]))
        if tc_pearson - tc_ranks <= RANK_AGREEMENT_MARGIN * stderr:
            return
    farthest = [int(i) for i in np.argsort(-np.sum(_standardised(x) ** 2, axis=1))[:3]]
    raise ValueError(
        f"x: its Pearson correlations give a Gaussian TC of {tc_pearson:.3g} nats but its ranks' normal scores "
        f"{tc_ranks:.3g}: a few rows far from the rest set the covariance (the farthest: rows {farthest}; heavy tails, "
        "a corrupted row or a missing-value code such as -999); fix or drop them, or use method='copula'"
    )


class GaussianPlugin(SampleMethod):
    """``gaussian``: plug-in entropies of the sample covariance with the exact Wishart correction of
    ``E[log det S]`` per set, so every term is unbiased for Gaussian data (docs/math.md#the-wishart-log-det-correction).

    Log-dets come from the R factor of a QR of the centred data, never from the covariance (whose
    rounding squares the condition number). Standard errors use each row's influence
    ``-1/2 (x_S - m)^T S_SS^-1 (x_S - m)`` plus the exact variance at independence
    (:mod:`tcdecomp.null_variance`), which the influence misses where the term is near 0. Needs n > D.
    """

    name = "gaussian"
    rows_reason = GAUSSIAN_ROWS_REASON

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return d + 4

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        if not self.copula_based:  # normal scores (copula) agree with their ranks by construction
            check_ranks_agree(data.scaled)
        values = self.transform(data)
        self.centred = values - values.mean(axis=0)
        self.r = np.linalg.qr(self.centred, mode="r")

    def transform(self, data: SampleData) -> np.ndarray:
        return data.scaled

    def set_stats(self, sets):
        n = self.n
        values = np.empty(len(sets))
        per_sample = np.empty((n, len(sets)))
        chain = PrefixChain(sets)
        if chain:  # nested sets (a line path): one QR in the chain's order gives every prefix's log det
            r_chain = np.linalg.qr(self.centred[:, chain.order], mode="r")
            log_diag = np.cumsum(np.log(np.abs(np.diag(r_chain))))
            white = solve_triangular(r_chain.T, self.centred[:, chain.order].T, lower=True) * math.sqrt(n - 1)
            quad = np.cumsum(white * white, axis=0)
        for j, s in enumerate(steps(sets, self.progress, "sets")):
            idx = np.asarray(s)
            d = len(idx)
            k = chain.prefix(s)
            if k:
                logdet, row_quad = 2.0 * float(log_diag[k - 1]), quad[k - 1]
            else:
                # cov_SS = R_S^T R_S / (n - 1) with R_S the R factor of the set's columns of R.
                r_set = np.linalg.qr(self.r[:, idx], mode="r")
                logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r_set)))))
                whitened = solve_triangular(r_set.T, self.centred[:, idx].T, lower=True) * math.sqrt(n - 1)
                row_quad = np.sum(whitened * whitened, axis=0)
            logdet -= d * math.log(n - 1)
            values[j] = -0.5 * (d * LOG_2PI_E + logdet - logdet_bias(n, d))
            # Influence of each row on -H(z_S): -1/2 (quadratic form - d); the constant drops out of the spread.
            per_sample[:, j] = -0.5 * row_quad
        return values, per_sample

    def extra_variances(self, terms: list[Term]):
        return [wilks_null_variance(self.n, t.groups) for t in terms]


class GaussianCopula(GaussianPlugin):
    """``copula``: each column to normal scores of its ranks (ties as in :func:`copula_pseudo_observations`),
    then ``gaussian``. TC ignores monotone changes of each margin, so this is exact for Gaussian-copula data
    whatever the margins (docs/math.md#copula). Normal scores of a random permutation have the null variance
    of a Pearson correlation, so the Gaussian variance at independence holds for them too."""

    name = "copula"
    copula_based = True

    def transform(self, data: SampleData) -> np.ndarray:
        return ndtri(data.u)


#: a likelihood-ratio statistic for a finite df against the Gaussian limit must exceed this to keep the df: the
#: limit lies on the boundary of the df's range, so the 5% test is chi2_1's 90% point (Self & Liang 1987)
DF_TEST_CRITICAL = 2.705543454095404


def entropy_offset(d: int, df: float) -> float:
    """c(d) of a d-dim t with ``df`` (``inf``: the Gaussian's d/2 log(2 pi e))."""
    return 0.5 * d * LOG_2PI_E if math.isinf(df) else t_entropy_offset(d, df)


def elliptical_log_density(x: np.ndarray, loc: np.ndarray, chol: np.ndarray, df: float) -> np.ndarray:
    """log t_df(x; loc, L L^T) per row; ``df = inf`` is the Gaussian N(loc, L L^T)."""
    if not math.isinf(df):
        return t_log_density(x, loc, chol, df)
    white = solve_triangular(chol, (x - loc).T, lower=True)
    return -0.5 * np.sum(white * white, axis=0) - np.sum(np.log(np.diag(chol))) - 0.5 * x.shape[1] * LOG_2PI


def elliptical_from_maha(maha: np.ndarray, logdet: float, d: int, df: float) -> np.ndarray:
    """log t_df (or Gaussian, df = inf) density per row from each row's Mahalanobis distance and log det."""
    if math.isinf(df):
        return -0.5 * (maha + logdet + d * LOG_2PI)
    return _t_log_normaliser(d, df) - 0.5 * logdet - 0.5 * (df + d) * np.log1p(maha / df)


def _t_log_normaliser(d: int, df: float) -> float:
    from .student_t import _log_gamma_ratio_excess

    return _log_gamma_ratio_excess(df / 2.0, d / 2.0) - 0.5 * d * LOG_2PI


def t_set_stats(
    x: np.ndarray, loc: np.ndarray, scale: np.ndarray, df: float, sets, correlation_bias=1.0, progress=False
):
    """Per set S of a fitted t_df(loc, scale): ``-H(x_S)`` with the Wishart correction of its log det, and each
    row's log density of x_S as its influence (docs/math.md#multivariate-t). ``correlation_bias`` scales the
    correction of the correlation part (a correlation estimated more noisily than Pearson's is biased more)."""
    n = x.shape[0]
    values = np.empty(len(sets))
    per_sample = np.empty((n, len(sets)))
    single = logdet_bias(n, 1)
    chain = PrefixChain(sets)
    if chain:  # nested sets: the leading blocks of one Cholesky factor in the chain's order
        order = chain.order
        chol_chain = np.linalg.cholesky(scale[np.ix_(order, order)])
        log_diag = np.cumsum(np.log(np.diag(chol_chain)))
        white = solve_triangular(chol_chain, (x[:, order] - loc[order]).T, lower=True)
        maha_chain = np.cumsum(white * white, axis=0)
    for j, s in enumerate(steps(sets, progress, "sets")):
        idx = np.asarray(s)
        d = len(idx)
        k = chain.prefix(s)
        if k:
            logdet, maha = 2.0 * float(log_diag[k - 1]), maha_chain[k - 1]
        else:
            chol = np.linalg.cholesky(scale[np.ix_(idx, idx)])
            logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
            white_set = solve_triangular(chol, (x[:, idx] - loc[idx]).T, lower=True)
            maha = np.sum(white_set * white_set, axis=0)
        bias = d * single + correlation_bias * (logdet_bias(n, d) - d * single)
        values[j] = -(0.5 * (logdet - bias) + entropy_offset(d, df))
        per_sample[:, j] = elliptical_from_maha(maha, logdet, d, df)
    return values, per_sample


class PrefixChain:
    """The longest run of nested sets S1 < S2 < ... among ``sets`` (taken by size), as an order of dims in which
    each is a prefix: a line path's sets, a bottom-up path's left spine. A covariance factored once in that order
    gives every one of them, where factoring each set alone costs D^4 over a line path (hours at D = 2000).
    False when it holds fewer than MIN_SETS sets (nothing to gain)."""

    MIN_SETS = 3

    def __init__(self, sets):
        order, members, self._prefix = [], set(), {}
        for key in sorted({tuple(sorted(int(d) for d in s)) for s in sets}, key=lambda t: (len(t), t)):
            if members < set(key) or not members:
                order += sorted(set(key) - members)
                members = set(key)
                self._prefix[key] = len(order)
        self.order = np.asarray(order, dtype=np.int64)

    def __bool__(self) -> bool:
        return len(self._prefix) >= self.MIN_SETS

    def prefix(self, s) -> int:
        """The prefix length that is set ``s`` in the chain's order, or 0 when it is not on the chain."""
        return self._prefix.get(tuple(sorted(int(d) for d in s)), 0) if self else 0


def log_df_variance(log_likelihood, df: float) -> float:
    """The variance of log df from the curvature of ``log_likelihood(log df)`` at the fitted df (0 for df = inf,
    or where the likelihood is flat or not concave there: the df is then at a bound of its range)."""
    if math.isinf(df):
        return 0.0
    step = 0.05
    centre = math.log(df)
    curvature = (log_likelihood(centre + step) - 2 * log_likelihood(centre) + log_likelihood(centre - step)) / step**2
    return 1.0 / -curvature if curvature < 0 else 0.0


def df_term_variances(terms: list[Term], df: float, variance: float) -> list[float]:
    """Each term's variance from the fitted df's own noise: (d term / d log df)^2 Var(log df), by central
    differences of the terms' df-dependent part ``sum_j c(|G_j|) - c(|union|)``."""
    if math.isinf(df) or variance == 0.0:
        return [0.0] * len(terms)
    step = 1e-3

    def offset_part(term, v):
        return sum(t_entropy_offset(len(g), v) for g in term.groups) - t_entropy_offset(len(term.union), v)

    up, down = df * math.exp(step), df * math.exp(-step)
    return [((offset_part(t, up) - offset_part(t, down)) / (2 * step)) ** 2 * variance for t in terms]


def gaussian_log_likelihood(x: np.ndarray) -> float:
    """The maximised log-likelihood of a multivariate Gaussian (mean and covariance by maximum likelihood)."""
    n, d = x.shape
    r = np.linalg.qr(x - x.mean(axis=0), mode="r")
    logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r))))) - d * math.log(n)
    return -0.5 * n * (d * LOG_2PI_E + logdet)


class StudentTPlugin(SampleMethod):
    """``student_t``: a multivariate t fitted by maximum likelihood (ECME, df included), then the closed-form
    entropies of the t with the Wishart correction of each log det (docs/math.md#multivariate-t).

    Exact in the limit for elliptical t data, whose shared scale makes even uncorrelated coordinates
    dependent (which ``gaussian`` and ``copula`` cannot see). Two checks keep that shared scale from being
    read into data that do not have it (docs/math.md#student-t-checks): the df stays finite only where a
    likelihood-ratio test prefers it to the Gaussian limit (else the method is ``gaussian``, with a note), and a
    finite-df fit must beat independent t margins by BIC, or the call is refused (independent heavy-tailed or
    skewed columns would otherwise score their tails as dependence). Standard errors use each row's fitted log
    density of the set, the variance at independence, and the fitted df's own noise. Needs n > D and
    continuous data: on a point mass the fit degenerates and is refused.
    """

    name = "student_t"
    rows_reason = GAUSSIAN_ROWS_REASON

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return d + 4

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        self.data = data.scaled
        self.loc, self.scale, self.df = self._fit(self.data)
        d = self.data.shape[1]
        chol = np.linalg.cholesky(self.scale)
        fitted = float(np.sum(t_log_density(self.data, self.loc, chol, self.df)))
        self.df_statistic = 2.0 * (fitted - gaussian_log_likelihood(self.data))
        self.log_df_var = 0.0
        if self.df_statistic < DF_TEST_CRITICAL:  # no evidence for tails beyond the Gaussian's
            self.df, self.loc = math.inf, self.data.mean(axis=0)
            self.scale = np.cov(self.data, rowvar=False).reshape(d, d)
            self.gaussian = GaussianPlugin(data, k, neural)
            return
        self.gaussian = None
        independent = sum(float(np.sum(t_log_density(col, *self._fit_column(col)))) for col in self.data.T[:, :, None])
        joint_bic = -2.0 * fitted + (d + d * (d + 1) / 2 + 1) * math.log(self.n)
        margins_bic = -2.0 * independent + 3 * d * math.log(self.n)
        if margins_bic <= joint_bic:
            raise ValueError(
                f"x: independent t margins fit better than a multivariate t (BIC {margins_bic:.1f} against "
                f"{joint_bic:.1f}), so its shared scale would score the columns' own tails as dependence; "
                "use 'copula', 't_copula' or 'auto'"
            )
        centred = np.linalg.solve(chol, (self.data - self.loc).T)
        maha = np.sum(centred * centred, axis=0)

        def log_likelihood(log_df):
            v = math.exp(log_df)
            return float(
                np.sum(
                    gammaln((v + d) / 2) - gammaln(v / 2) - 0.5 * d * math.log(v) - 0.5 * (v + d) * np.log1p(maha / v)
                )
            )

        self.log_df_var = log_df_variance(log_likelihood, self.df)

    @staticmethod
    def _fit(x: np.ndarray):
        try:
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                return fit_student_t(x)
        except (np.linalg.LinAlgError, FloatingPointError):
            # On data with a point mass the likelihood grows without bound as the scale collapses onto it.
            raise ValueError(
                "x: the Student-t fit degenerates (its scale collapses onto repeated values); "
                "method='student_t' needs continuous data, use 'copula' or 'knn'"
            ) from None

    def _fit_column(self, column: np.ndarray):
        loc, scale, df = self._fit(column)
        return loc, np.sqrt(scale), df

    def set_stats(self, sets):
        if self.gaussian is not None:
            return self.gaussian.set_stats(sets)
        return t_set_stats(self.data, self.loc, self.scale, self.df, sets, progress=self.progress)

    def extra_variances(self, terms: list[Term]):
        df_part = df_term_variances(terms, self.df, self.log_df_var)
        return [wilks_null_variance(self.n, t.groups) + v for t, v in zip(terms, df_part)]

    def notes(self, plan: Plan) -> tuple[str, ...]:
        if math.isinf(self.df):
            return (
                f"student_t: no evidence for a finite df (likelihood ratio {self.df_statistic:.2f} against the "
                f"Gaussian limit, below {DF_TEST_CRITICAL:.2f}): the Gaussian plug-in ('gaussian') was used.",
            )
        return (f"student_t: fitted df = {self.df:.3g}.",)


def kendall_correlation(x: np.ndarray) -> np.ndarray:
    """The correlation matrix of an elliptical copula from Kendall's tau, ``R_jk = sin(pi tau_jk / 2)``
    (Lindskog, McNeil & Schmock 2003). Pairwise estimates need not be jointly consistent: the matrix may fail
    to be positive definite (:func:`check_kendall_correlation`)."""
    from scipy.stats import kendalltau

    d = x.shape[1]
    r = np.eye(d)
    for j in range(d):
        for k in range(j + 1, d):
            r[j, k] = r[k, j] = math.sin(0.5 * math.pi * kendalltau(x[:, j], x[:, k]).statistic)
    return r


def check_kendall_correlation(r: np.ndarray, n: int, method: str) -> None:
    """Refuse a Kendall correlation that is not positive definite (its log det, and the TC, would be made up)."""
    smallest = float(np.linalg.eigvalsh(r)[0])
    if smallest <= 0.0:
        raise ValueError(
            f"x has n={n} rows for D={len(r)} dims: method={method!r}'s correlation from Kendall's tau is not "
            f"positive definite (smallest eigenvalue {smallest:.2g}); use more rows or method='copula'"
        )


def t_copula_log_likelihood(u: np.ndarray, corr: np.ndarray, df: float) -> float:
    """Log-likelihood of pseudo-observations ``u`` (n x d, in (0, 1)) under the t copula (corr, df):
    ``sum_i [log t_{df, corr}(x_i) - sum_j log t_df(x_ij)]`` with ``x = t_df^-1(u)`` (docs/math.md#t-copula);
    ``df = inf`` is the Gaussian copula."""
    from scipy.special import stdtrit
    from scipy.stats import norm
    from scipy.stats import t as student

    x = ndtri(u) if math.isinf(df) else stdtrit(df, u)
    joint = elliptical_log_density(x, np.zeros(u.shape[1]), np.linalg.cholesky(corr), df)
    margins = norm.logpdf(x) if math.isinf(df) else student.logpdf(x, df)
    return float(np.sum(joint) - np.sum(margins))


def fit_t_copula(u: np.ndarray, corr: np.ndarray) -> float:
    """The df maximising the t copula's likelihood given its correlation (Demarta & McNeil 2005's two-step fit)."""
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(
        lambda log_df: -t_copula_log_likelihood(u, corr, math.exp(log_df)),
        bounds=(math.log(T_COPULA_DF_RANGE[0]), math.log(T_COPULA_DF_RANGE[1])),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return math.exp(found.x)


#: the df searched by ``t_copula``: from very heavy tails to a copula indistinguishable from the Gaussian one
T_COPULA_DF_RANGE = (0.5, 1e4)
#: ``t_copula`` needs this many rows per dim: below it the pairwise Kendall correlations are too noisy for the
#: first-order bias correction (measured on independent data: docs/validation.md#independent-data)
T_COPULA_ROWS_PER_DIM = 4


class TCopula(SampleMethod):
    """``t_copula``: ranks to pseudo-observations, a Student-t copula fitted to them (correlation from Kendall's
    tau, df by maximum likelihood), then the closed-form entropies of the multivariate t with that correlation
    and df, each log det with the Wishart correction scaled to Kendall's larger variance (docs/math.md#t-copula).

    TC ignores monotone changes of each margin, so this is to t-copula data, whatever its margins, what
    ``student_t`` is to t data. The df stays finite only where a likelihood-ratio test prefers it to the Gaussian
    copula (else df = inf, with a note). Standard errors use each row's fitted log density of the set, the
    variance at independence (Kendall's) and the df's own noise. Needs n >= T_COPULA_ROWS_PER_DIM D and a
    positive definite Kendall correlation.
    """

    name = "t_copula"
    copula_based = True
    rows_reason = f"{T_COPULA_ROWS_PER_DIM} D: below that its Kendall correlations are too noisy to correct"

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return max(T_COPULA_ROWS_PER_DIM * d, d + 4)

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        from scipy.special import stdtrit

        super().__init__(data, k, neural)
        u = data.u
        self.corr = kendall_correlation(u)
        check_kendall_correlation(self.corr, self.n, self.name)
        self.df = fit_t_copula(u, self.corr)
        fitted = t_copula_log_likelihood(u, self.corr, self.df)
        self.df_statistic = 2.0 * (fitted - t_copula_log_likelihood(u, self.corr, math.inf))
        if self.df_statistic < DF_TEST_CRITICAL:
            self.df = math.inf
        self.log_df_var = log_df_variance(lambda v: t_copula_log_likelihood(u, self.corr, math.exp(v)), self.df)
        self.bias_scale = kendall_variance_ratio(self.n)
        self.values = ndtri(u) if math.isinf(self.df) else stdtrit(self.df, u)

    def set_stats(self, sets):
        return t_set_stats(
            self.values, np.zeros(len(self.corr)), self.corr, self.df, sets, self.bias_scale, self.progress
        )

    def extra_variances(self, terms: list[Term]):
        df_part = df_term_variances(terms, self.df, self.log_df_var)
        null = [self.bias_scale**2 * wilks_null_variance(self.n, t.groups) for t in terms]
        return [a + b for a, b in zip(null, df_part)]

    def notes(self, plan: Plan) -> tuple[str, ...]:
        if math.isinf(self.df):
            return (
                f"t_copula: no evidence for a finite df (likelihood ratio {self.df_statistic:.2f} against the "
                f"Gaussian copula, below {DF_TEST_CRITICAL:.2f}): a Gaussian copula with Kendall's correlation.",
            )
        return (f"t_copula: fitted df = {self.df:.3g}.",)


def cross_fit_gaussian_bias(m: int, d: int) -> float:
    """The expected error of ``gmm``'s estimate of ``-H(x_S)`` (d dims) when each half's model is one Gaussian
    fitted on m rows: the mean of the in-sample and held-out log-likelihoods, less the truth
    (docs/math.md#gaussian-mixture). With ``S ~ Wishart(Sigma, m - 1)`` and the fit's ``Sigma^ = S / m``,
    ``E log det Sigma^ - log det Sigma = sum_i psi((m - i) / 2) + d log(2 / m)`` and a new row's expected
    Mahalanobis distance is ``d (m + 1) / (m - d - 2)``, so the error is
    ``-1/2 [sum_i psi((m - i) / 2) + d log(2 / m) + d (d + 3) / (2 (m - d - 2))]``: of order 1/m for each set,
    cancelling in a term to first order, not beyond (-0.52 nats on a 10-dim TC from 60 rows)."""
    i = np.arange(1, d + 1)
    return -0.5 * (float(np.sum(digamma((m - i) / 2.0))) + d * math.log(2.0 / m) + d * (d + 3) / (2.0 * (m - d - 2)))


class GaussianMixtureTC(SampleMethod):
    """``gmm``: columns to normal scores (copula space, so marginal shapes cost no components), then Gaussian
    mixtures with full covariances fitted by EM, cross-fitted on two halves of the rows
    (docs/math.md#gaussian-mixture).

    K is chosen on the first half (fit) against the second (held out), then the same K is fitted to the second
    half too. Each row's log density of a set is the mean of its in-sample value (the mixture fitted to its own
    half) and its held-out value (the other half's mixture): the in-sample mean log-likelihood is optimistic and
    the held-out one pessimistic by the same amount to first order, for the joint and for every marginal alike,
    so their mean cancels the fitting noise that a held-out estimate alone leaves in the TC (the joint, with the
    most parameters, pays the most). Every term comes from the same models on the same rows, so decompositions
    telescope. Where both halves fit one component, the cross-fitting's second-order bias is removed exactly
    (:func:`cross_fit_gaussian_bias`). Standard errors use each row's averaged log density and the variance at
    independence of a half's models. ``components=K`` fixes K. Needs n >= 6 D + 12.
    """

    name = "gmm"
    copula_based = True
    rows_reason = (
        "6 D + 12: with fewer than 3 (D + 2) rows a half, its held-out densities vary beyond what the standard "
        "error says"
    )
    #: the K tried when ``components`` is not given
    CANDIDATES = (1, 2, 3, 4, 6, 8)

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        from .mixture import fit_candidates, fit_gaussian_mixture

        super().__init__(data, k, neural)
        self.values = ndtri(data.u)
        rng = np.random.default_rng(data.random_state)
        order = rng.permutation(self.n)
        self.halves = (order[: self.n // 2], order[self.n // 2 :])
        first, second = self.halves
        candidates = (data.components,) if data.components is not None else self.CANDIDATES
        fitted = fit_candidates(self.values[first], self.values[second], candidates, rng)
        if not fitted:
            raise ValueError(f"components={data.components} is too many for n={self.n}; lower it")
        self.scores = {c: float(per_row.mean()) for c, (per_row, _) in fitted.items()}
        requested = max(self.scores, key=self.scores.get)
        first_fit = fitted[requested][1]
        second_fit = fit_gaussian_mixture(self.values[second], requested, rng, held_out=self.values[first])
        self.mixtures = (first_fit, second_fit)
        self.components = (len(first_fit.weights), len(second_fit.weights))

    def extra_variances(self, terms: list[Term]):
        # Each model sees half the rows, and K components carry K Gaussian copulas' worth of parameters: the
        # Gaussian variance at independence of a half, K times (measured to cover the spread at independence:
        # docs/validation.md#independent-data).
        half = len(self.halves[0])
        return [max(self.components) * wilks_null_variance(half, t.groups) for t in terms]

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return 6 * d + 12

    def set_stats(self, sets):
        per_sample = np.empty((self.n, len(sets)))
        for rows, own, other in ((self.halves[0], *self.mixtures), (self.halves[1], *self.mixtures[::-1])):
            x = self.values[rows]
            for j, s in enumerate(steps(sets, self.progress, "sets")):
                per_sample[rows, j] = 0.5 * (own.log_density(x, s) + other.log_density(x, s))
        values = per_sample.mean(axis=0)
        if max(self.components) == 1:  # one Gaussian a half: the cross-fitting's remaining bias is known exactly
            sizes = [len(h) for h in self.halves]
            values = values - [np.mean([cross_fit_gaussian_bias(m, len(s)) for m in sizes]) for s in sets]
        return values, per_sample

    def notes(self, plan: Plan) -> tuple[str, ...]:
        tried = ", ".join(f"K={c}: {v:.3f}" for c, v in sorted(self.scores.items()))
        return (
            f"gmm: {self.components[0]} and {self.components[1]} components in the two halves (held-out "
            f"log-likelihood per row by the requested K, {tried}); entropies cross-fitted on two halves of "
            f"{self.n} rows.",
        )


#: the fewest distinct rows on a set's columns for ``flow``'s dimension check; below, the set's columns repeat a
#: few values, whose broken ties spread them over full-dimensional boxes
MIN_DISTINCT_ROWS = 100


class FlowTC(SampleMethod):
    """``flow``: columns to normal scores, then per set of two or more columns the Gaussian copula of the set
    followed by a neural spline flow (zuko), cross-fitted on two halves of the rows as ``gmm`` is
    (docs/math.md#flow). The flows are measured against a base copula: the t copula of ``t_copula`` where its
    df test prefers a finite df, else the Gaussian copula. Every set of two or more columns takes its flows where
    the flow over all the columns beats the base on the held-out halves by MARGIN standard errors of the paired
    per-row difference; otherwise every set, and always each single column, takes the base's value (``copula``,
    or ``t_copula`` carried into normal-score space), exact for those copulas. Each row's log density of a flow
    set is the mean of its in-sample and held-out values.
    Standard errors use each row's log density, the base's variance at independence (and the df's noise) and the
    flows' fitting noise. A set that keeps a flow but whose rows lie near a lower-dimensional set (their TWO-NN
    dimension well below that of the flows' own draws) is refused: no density's entropy holds there. Needs zuko
    (``pip install 'tcdecomp[flows]'``) and n >= max(200, 6 D + 12)."""

    name = "flow"
    copula_based = True
    rows_reason = "max(200, 6 D + 12): each half trains and early-stops a flow"
    #: standard errors of the held-out gain a set's flow must reach to replace its base copula
    MARGIN = 2.0

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        from .flow import FlowConfig, require_zuko

        require_zuko()
        super().__init__(data, k, neural)
        self.u = data.u
        self.values = ndtri(data.u)
        self.seed = data.random_state
        self.columns = data.columns
        self.x = data.x
        order = np.random.default_rng(data.random_state).permutation(self.n)
        self.halves = (order[: self.n // 2], order[self.n // 2 :])
        self.base = _finite_df_t_copula(data, k, neural) or GaussianCopula(data, k, neural)
        if isinstance(self.base, TCopula):
            self._t_scores_to_normal = _t_to_normal_log_jacobian(self.base.values, self.values, self.base.df)
            self._half_kendall = [_kendall_or(self.u[h], self.base.corr) for h in self.halves]
        self.config = FlowConfig()
        self.fitted: dict[tuple, tuple] = {}  # set -> (per-row log densities or None, held-out gain, its SE,
        #     half the two flows' difference in mean log density, half the in-sample less the held-out mean)

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return max(200, 6 * d + 12)

    def _flows_everywhere(self) -> bool:
        """Whether the flows replace the base on every set of two or more columns: where the full set's flow beats
        the base. One choice for all the sets keeps each term's sets in one model family, so that a misfit of a
        group's structure is shared by the group and the union and cancels (a group on the base and its union on
        a flow leave the difference of two models' misfits in the term)."""
        full = tuple(range(self.values.shape[1]))
        if full not in self.fitted:
            self._fit_set(full, keep=None)
        return self.fitted[full][0] is not None

    def _flow_rows(self, s: tuple):
        """Each row's cross-fitted log density of set ``s`` under its flows, or None where the sets keep the base
        copula (then no flow of ``s`` is fitted); memoised per set."""
        if s not in self.fitted:
            if not self._flows_everywhere():
                return None
            self._fit_set(s, keep=True)
        return self.fitted[s][0]

    def _fit_set(self, s: tuple, keep: bool | None) -> None:
        """Fit set ``s``'s two flows and record its per-row values where ``keep`` (None: where the flows beat the
        base copula on the held-out halves by MARGIN standard errors), its held-out gain over the base and that
        gain's standard error, and its two fitting errors (see extra_variances)."""
        from .flow import SetFlow

        idx = list(s)
        models = [SetFlow(self.values[h][:, idx], self.seed + 7919 * i + len(s), self.config)
                  for i, h in enumerate(self.halves)]  # fmt: skip
        own, held, base = np.empty(self.n), np.empty(self.n), np.empty(self.n)
        for rows, model, other, other_half in zip(self.halves, models, models[::-1], (1, 0)):
            z = self.values[rows][:, idx]
            own[rows], held[rows] = model.log_density(z), other.log_density(z)
            base[rows] = self._held_out_base(rows, idx, other, other_half)  # for the paired gain
        gain = held - base
        se = float(gain.std(ddof=1) / math.sqrt(self.n))
        if keep is None:
            keep = any(m.flow is not None for m in models) and gain.mean() > self.MARGIN * se
        if keep:
            self._check_full_dimension(idx, models)
        # each model's mean log density over all the rows (its own half and the other); the set's value is their
        # mean, and half their difference is the fitting noise of that mean (see extra_variances)
        first, second = self.halves
        by_model = (
            np.concatenate([own[first], held[second]]).mean(),
            np.concatenate([held[first], own[second]]).mean(),
        )
        self.fitted[s] = (0.5 * (own + held) if keep else None, float(gain.mean()), se,
                          0.5 * float(by_model[0] - by_model[1]) if keep else 0.0,
                          0.5 * float(own.mean() - held.mean()) if keep else 0.0)  # fmt: skip

    def _check_full_dimension(self, idx: list, models) -> None:
        """Refuse a set whose rows lie near a lower-dimensional set (docs/math.md#flow): their density is
        unbounded, so the flows' entropies of it grow with their capacity and a term that pairs it with a set of
        another dimension is far off with a narrow interval. The rows' TWO-NN dimension is compared with that of
        a draw of the set's two flows (up to NEIGHBOUR_ROWS rows each). Rows that repeat on the set's columns
        (a bootstrap resample's, or discrete columns') count once: broken ties turn a repeat into a pair of
        near-identical rows, which TWO-NN reads as a dimension near 0."""
        rng = np.random.default_rng(self.seed)
        distinct = np.sort(np.unique(self.x[:, idx], axis=0, return_index=True)[1])
        if len(distinct) < MIN_DISTINCT_ROWS:  # a few repeated values: the broken ties fill the set's box
            return
        rows = at_most(np.arange(len(distinct)), NEIGHBOUR_ROWS, rng, self.values[distinct][:, idx])
        half = len(rows) // 2
        draw = np.concatenate([models[0].sample(half, self.seed), models[1].sample(len(rows) - half, self.seed + 1)])
        dimension, reference, singular = compare_dimensions(rows, draw, self.MARGIN)
        if singular:
            raise ValueError(
                f"method='flow': x columns {column_list(idx, self.columns)} lie near a lower-dimensional set (TWO-NN "
                f"intrinsic dimension {dimension:.2f}, where draws of their fitted flows have {reference:.2f}): their "
                "density is unbounded and a flow's entropies grow with its capacity; use method='knn' for mutual "
                "information between groups, or method='auto', which checks this"
            )

    def _held_out_base(self, rows, idx: list, flow_model, other_half: int) -> np.ndarray:
        """Each row's log density of its set's normal scores under the base copula fitted on the other half: the
        Gaussian copula of that half's flow model, or the t copula with that half's Kendall correlation."""
        if not isinstance(self.base, TCopula):
            return flow_model.gaussian_log_density(self.values[rows][:, idx])
        corr = self._half_kendall[other_half][np.ix_(idx, idx)]
        return _t_copula_score_rows(self.u[rows][:, idx], self.values[rows][:, idx], corr, self.base.df)

    def _base_set_stats(self, sets):
        """The base copula's ``-H`` and per-row log density of each set, in normal-score space (the t copula's are
        in t-score space: each column adds its log Jacobian, which cancels within every term)."""
        values, per_sample = self.base.set_stats(sets)
        values, per_sample = np.array(values, dtype=np.float64), np.array(per_sample, dtype=np.float64)
        if isinstance(self.base, TCopula):
            for j, s in enumerate(sets):
                shift = self._t_scores_to_normal[:, list(s)].sum(axis=1)
                values[j] += shift.mean()
                per_sample[:, j] += shift
        return values, per_sample

    def set_stats(self, sets):
        values, per_sample = self._base_set_stats(sets)
        for j, s in enumerate(steps(sets, self.progress, "flows")):
            if len(s) > 1:
                rows = self._flow_rows(tuple(s))
                if rows is not None:
                    values[j], per_sample[:, j] = rows.mean(), rows
        return values, per_sample

    def extra_variances(self, terms: list[Term]):
        """The base copula's variance at independence (and its df's noise), plus two errors of the flows
        (docs/math.md#flow). Fitting noise: two flows trained on different halves disagree about a set's mean log
        density by more than the rows' noise, and the set's value is the mean of the two; half their difference
        is a one-degree-of-freedom estimate of that mean's fitting error. Fitting bias: a row's value is the mean
        of its in-sample (optimistic) and held-out (pessimistic) log densities, and the set's true mean log
        density lies between the two in expectation; half their gap stands for that bias. Each, signed as the
        term uses the set, is squared per term, and for the total over the summed values, since one set enters
        several terms."""
        base = self.base.extra_variances(terms)

        def signed(position: int) -> list[float]:
            return [sum(sign * self.fitted[g][position] if g in self.fitted else 0.0 for g, sign in t.signed_sets())
                    for t in terms]  # fmt: skip

        deviations, gaps = signed(3), signed(4)
        per_term = [v + d * d + g * g for v, d, g in zip(base, deviations, gaps)]
        return per_term, float(np.sum(base)) + float(np.sum(deviations)) ** 2 + float(np.sum(gaps)) ** 2

    def notes(self, plan: Plan) -> tuple[str, ...]:
        if not self.fitted:
            return ()
        full = tuple(range(self.values.shape[1]))
        everywhere = self.fitted[full][0] is not None
        _, full_gain, full_se, *_ = self.fitted[full]
        base = (f"the t copula (df = {self.base.df:.3g}, preferred to the Gaussian copula by its likelihood-ratio "
                "test)" if isinstance(self.base, TCopula) else "the Gaussian copula")  # fmt: skip
        gains = ", ".join(f"{list(s)}: {g:+.3f} ± {se:.3f}" for s, (_, g, se, *_) in self.fitted.items())
        verdict = ("beats it by 2 standard errors, so every set of two or more columns takes its flows"
                   if everywhere else "does not beat it by 2 standard errors, so every set takes the base")  # fmt: skip
        return (
            f"flow: the base copula is {base}; the flow over all {len(full)} columns ({full_gain:+.3f} ± "
            f"{full_se:.3f} nats per held-out row) {verdict} (held-out gains: {gains}); single columns are the "
            "base's.",
        )


def _finite_df_t_copula(data: SampleData, k: int, neural: NeuralConfig):
    """``t_copula`` fitted to the rows where it can be and its df test keeps a finite df, else None (flow's own
    minimum rows, max(200, 6 D + 12), exceed the t copula's)."""
    try:
        fitted = TCopula(data, k, neural)
    except ValueError:  # its Kendall correlation is not positive definite
        return None
    return None if math.isinf(fitted.df) else fitted


def _t_to_normal_log_jacobian(t_scores: np.ndarray, normal_scores: np.ndarray, df: float) -> np.ndarray:
    """Per row and column, log |dw/dz| for t scores w = T_df^-1(Phi(z)): log phi(z) - log t_df(w)."""
    from scipy.stats import norm
    from scipy.stats import t as student

    return norm.logpdf(normal_scores) - student.logpdf(t_scores, df)


def _kendall_or(u: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Kendall's correlation of some rows, or ``fallback`` where it is not positive definite there."""
    corr = kendall_correlation(u)
    try:
        np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        return fallback
    return corr


#: the K of ``auto``'s mixture candidates (K = 1 is the Gaussian copula, already a candidate)
MIXTURE_CANDIDATES = (2, 3, 4, 6, 8)


def _copula_log_densities(u: np.ndarray, scores: np.ndarray, fit: np.ndarray, held: np.ndarray, rng, seed: int):
    """Each held-out row's log density of its normal scores under each density model fitted on the rows
    ``fit``: the Gaussian copula, the t copula, the best of Gaussian mixtures with K in MIXTURE_CANDIDATES and a
    spline flow over the Gaussian copula (docs/math.md#auto), simplest first; that best mixture (None where no
    mixture fits the rows); and why a candidate was left out."""

    from .mixture import fit_candidates

    d = u.shape[1]
    out, skipped = {}, {}
    corr = np.corrcoef(scores[fit], rowvar=False).reshape(d, d)
    try:
        out["copula"] = elliptical_log_density(scores[held], np.zeros(d), np.linalg.cholesky(corr), math.inf)
    except np.linalg.LinAlgError:
        skipped["copula"] = "its correlation is singular on the fitting rows"
    t_corr = kendall_correlation(u[fit])
    try:
        check_kendall_correlation(t_corr, len(fit), "t_copula")
        out["t_copula"] = _t_copula_score_rows(u[held], scores[held], t_corr, fit_t_copula(u[fit], t_corr))
    except ValueError:
        skipped["t_copula"] = "its Kendall correlation is not positive definite on the fitting rows"
    mixtures = fit_candidates(scores[fit], scores[held], MIXTURE_CANDIDATES, rng)
    best = max(mixtures, key=lambda c: mixtures[c][0].mean()) if mixtures else None
    if best is not None:
        out["gmm"] = mixtures[best][0]
    flow, why_not = _flow_log_densities(scores, fit, held, seed)
    if flow is None:
        skipped["flow"] = why_not
    else:
        out["flow"] = flow
    return out, None if best is None else mixtures[best][1], skipped


def _flow_log_densities(scores: np.ndarray, fit: np.ndarray, held: np.ndarray, seed: int):
    """The held-out rows' log densities under a spline flow over the Gaussian copula fitted on the rows ``fit``
    (the goodness-of-fit check of the cheaper models: they pass unless this flexible model beats them), or None
    and why it was not fitted."""
    from .flow import FlowConfig, SetFlow

    try:
        import zuko  # noqa: F401  (the optional ``flows`` extra)
    except ImportError:
        return None, "zuko is not installed (pip install 'tcdecomp[flows]')"
    d = scores.shape[1]
    if len(fit) < FlowTC.own_minimum_rows(d):
        return None, f"{len(fit)} fitting rows, fewer than a flow's {FlowTC.own_minimum_rows(d)}"
    try:
        model = SetFlow(scores[fit], seed, FlowConfig())
    except np.linalg.LinAlgError:
        return None, "its correlation is singular on the fitting rows"
    if model.flow is None:
        return None, "no training epoch beat the Gaussian copula on its validation rows"
    return model.log_density(scores[held]), ""


def _t_copula_score_rows(u: np.ndarray, scores: np.ndarray, corr: np.ndarray, df: float) -> np.ndarray:
    """Each row's log density of its normal scores ``scores`` = Phi^-1(u) under a t copula (finite df): the
    copula's density of u plus each column's standard normal log density."""
    from scipy.special import stdtrit
    from scipy.stats import norm
    from scipy.stats import t as student

    x = stdtrit(df, u)
    copula = t_log_density(x, np.zeros(u.shape[1]), np.linalg.cholesky(corr), df) - student.logpdf(x, df).sum(1)
    return copula + norm.logpdf(scores).sum(1)


def _simplest_adequate(per_row: dict, margin: float) -> str:
    """The simplest model that no more complex one beats by more than ``margin`` standard errors of the paired
    per-row difference (held-out noise alone must not buy a model extra parameters)."""
    names = list(per_row)
    for i, name in enumerate(names):
        beaten = False
        for other in names[i + 1 :]:
            diff = per_row[other] - per_row[name]
            if diff.mean() > margin * diff.std(ddof=1) / math.sqrt(len(diff)):
                beaten = True
                break
        if not beaten:
            return name
    return names[-1]


class AutoMethod(SampleMethod):
    """``auto``: fits the Gaussian copula, the t copula, Gaussian mixtures (K = 2 to 8) and, where zuko is
    installed and the rows suffice, a spline flow over the Gaussian copula to 70% of the rows, scores each by the
    log density of the other 30% in copula space (normal scores), and runs on all the rows the simplest model
    that no more complex one beats by more than MARGIN standard errors (docs/math.md#auto). The flow is the
    held-out goodness-of-fit check of the cheaper models: one of them is kept unless the flow beats it. The
    decomposition's notes say which method was chosen, the scores, and why a candidate was left out. A
    nearest-neighbour check then runs ``knn`` instead where a model-free log density beats every model by more
    than 0.1 nats per row, or the rows lie near a lower-dimensional set (:mod:`tcdecomp.neighbour_check`,
    docs/math.md#the-nearest-neighbour-check). Needs :meth:`minimum_rows` rows (6 D + 12 from D = 3 on, as gmm).
    """

    name = "auto"
    copula_based = True
    rows_reason = "30% held out and more than 2 D rows in each part, and what each candidate needs"
    HELD_OUT = 0.3
    #: standard errors by which a more complex model must beat a simpler one on the held-out rows
    MARGIN = 2.0

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        u = data.u
        scores = ndtri(u)
        rng = np.random.default_rng(data.random_state)
        order = rng.permutation(self.n)
        n_held = int(self.HELD_OUT * self.n)
        held, fit = order[:n_held], order[n_held:]
        per_row, mixture, self.skipped = _copula_log_densities(u, scores, fit, held, rng, data.random_state)
        self.mixture_components = None if mixture is None else len(mixture.weights)
        if not per_row:
            raise ValueError("x: no copula model fits the rows (every correlation is singular); drop dependent columns")
        self.scores = {name: float(values.mean()) for name, values in per_row.items()}
        self.choice = _simplest_adequate(per_row, self.MARGIN)
        self.check = check_density_models(scores, fit, held, per_row, mixture, k, self.MARGIN, rng)
        self.knn_refused = ""
        if self.check.verdict is not None:
            try:
                self.chosen = METHODS["knn"](data, k, neural)
                self.choice = "knn"
            except ValueError as exc:  # e.g. repeated rows, which KSG cannot take
                self.knn_refused = str(exc)
        if self.choice != "knn":
            if self.choice == "gmm":  # K is already chosen on held-out rows: gmm need not search again
                data = replace(data, components=self.mixture_components)
            self.chosen = METHODS[self.choice](data, k, neural)
        # a chosen knn estimates each term on its own
        self.per_term = self.chosen.per_term
        self.n = self.chosen.n

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        """More than 2 D rows in both the held-out and the fitting part, and what every candidate needs."""
        n = max(2 * d + 1, *(METHODS[name].own_minimum_rows(d, k) for name in ("copula", "t_copula", "gmm")))
        while int(cls.HELD_OUT * n) <= 2 * d or n - int(cls.HELD_OUT * n) <= 2 * d:
            n += 1
        return n

    def set_stats(self, sets):
        return self.chosen.set_stats(sets)

    def evaluate(self, terms: list[Term]):
        return self.chosen.evaluate(terms)

    def extra_variances(self, terms: list[Term]):
        return self.chosen.extra_variances(terms)

    def notes(self, plan: Plan) -> tuple[str, ...]:
        ranked = ", ".join(f"{name} {value:.3f}" for name, value in sorted(self.scores.items(), key=lambda t: -t[1]))
        left_out = "".join(f" {name} was left out: {why}." for name, why in self.skipped.items())
        if self.choice == "knn":
            why = f"auto chose knn: {self.check.reason()} (held-out log-likelihood per row in copula space: {ranked})."
        else:
            why = (
                f"auto chose {self.choice}: the simplest model that none beats by {self.MARGIN:g} standard errors "
                f"of held-out log-likelihood per row in copula space ({ranked}); {self.check.summary()}."
            )
            if self.knn_refused:
                why += f" The check found that {self.check.reason()}, but knn refused the rows: {self.knn_refused}."
        return (why + left_out, *self.chosen.notes(plan))


class KSG(SampleMethod):
    """``knn``: Kraskov-Stoegbauer-Grassberger estimator 1 (max-norm) for each term on ``cKDTree``,
    O(n log n) (docs/math.md#ksg). Ties are handled first (:func:`tcdecomp.knn.break_ties`): grid data is
    dequantised with a warning, repeated rows are refused. Per-term estimates do not telescope."""

    name = "knn"
    per_term = True
    rows_reason = (
        "10 (k + 1) with k={k}: with fewer, each neighbourhood is a large share of the sample and the jackknife's "
        "standard error is unreliable"
    )

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        return 10 * (k + 1)

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        self.k = k
        # One scale for every column: KSG's max-norm neighbourhoods are unchanged by it.
        self.x = break_ties(data.x / np.max(np.abs(data.x)), data.epsilon, data.random_state)

    def evaluate(self, terms: list[Term]):
        # Standard errors from each row's delete-one jackknife pseudo-value (the per-row terms alone
        # leave out how a row moves the other rows' counts, and under-state the spread).
        fits = [ksg_with_influence(self.x, t.groups, self.k) for t in steps(terms, self.progress, "terms")]
        values = [float(per_row.mean()) for per_row, _ in fits]
        influence = np.stack([pseudo for _, pseudo in fits], axis=1)
        errors = [_stderr(influence[:, t]) for t in range(len(terms))]
        return values, errors, _stderr(influence.sum(axis=1))

    def notes(self, plan: Plan) -> tuple[str, ...]:
        return (f"knn (KSG, k={self.k}) estimates each term separately: the total depends on the path ({plan.name}).",)


class NeuralBound(SampleMethod):
    """``infonce``, ``nwj``, ``mine``, ``club``: a neural bound per pairwise term (:mod:`tcdecomp.neural`,
    docs/math.md#neural-bounds), on standardised columns; a term of m > 2 groups is split by the exact chain
    rule. One network per pairwise term, reused across paths."""

    per_term = True
    rows_reason = "two held-out and four training batches"

    @classmethod
    def own_minimum_rows(cls, d: int, k: int = 3, neural: NeuralConfig | None = None) -> int:
        from .neural import minimum_rows

        return minimum_rows(neural or NeuralConfig())

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        self.neural = neural
        self.x = (data.scaled - data.scaled.mean(0)) / data.scaled.std(0)
        self.pairs: dict = {}

    def _pair(self, a: tuple, b: tuple):
        if (a, b) not in self.pairs:
            self.pairs[a, b] = neural_mi(self.x[:, list(a)], self.x[:, list(b)], self.name, self.neural)
        return self.pairs[a, b]

    def evaluate(self, terms: list[Term]):
        values, errors = [], []
        for term in steps(terms, self.progress, "terms"):
            pairs = [self._pair(a, b) for a, b in pairwise_chain(term.groups)]
            values.append(sum(v for v, _ in pairs))
            errors.append(combine_stderr([e for _, e in pairs]))
        return values, errors, combine_stderr(errors)

    def notes(self, plan: Plan) -> tuple[str, ...]:
        notes = [
            f"{self.name} (neural bound) estimates each term separately: the total depends on the path ({plan.name})."
        ]
        if self.name == "infonce":
            notes.append(
                f"infonce is capped at log(batch) = {math.log(self.neural.batch_size):.3f} nats per pairwise "
                "term: a term near the cap is only a lower bound."
            )
        return tuple(notes)


#: ``Samples(x, method=...)``'s methods by name; each neural bound is NeuralBound named after it
DENSITY_METHODS = (GaussianPlugin, GaussianCopula, StudentTPlugin, TCopula, GaussianMixtureTC, AutoMethod, FlowTC)
METHODS = {cls.name: cls for cls in (*DENSITY_METHODS, KSG)}
METHODS.update({name: type(f"NeuralBound_{name}", (NeuralBound,), {"name": name}) for name in NEURAL_METHODS})
