"""The estimators behind ``Samples(x, method=...)``: one small class per method, found by name in
:data:`METHODS` (POT-style dispatch). Each class gets data that :class:`tcdecomp.Samples` has
already checked (finite, no constant column, no linear dependence) and answers either per set of
dims (``set_stats``: plug-ins whose terms telescope exactly) or per term (``evaluate``).

Formulas: docs/math.md#the-wishart-log-det-correction, #copula, #multivariate-t, #ksg, #neural-bounds.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import digamma, ndtri
from scipy.stats import rankdata

from ._constants import LOG_2PI_E
from .decomposition import combine_stderr
from .knn import MAX_STRAY_TIES, break_ties, ksg_multi_information
from .neural import NEURAL_METHODS, NeuralConfig, neural_mi, pairwise_chain
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


def mixture_pseudo_observations(x: np.ndarray, random_state: int, method: str) -> np.ndarray:
    """Pseudo-observations for a density model of the copula (``gmm``, ``auto``). A column with more repeated
    values than stray ties (discrete or rounded data) has its ties broken at random: each atom is spread evenly
    over its share of (0, 1), the jittered continuous extension of a discrete margin. Averaged ranks would put
    the normal scores on a few atoms, and a mixture would then fit spikes whose held-out density is unbounded
    (an independent 3-valued grid gave TC = -3.9). Other columns are :func:`pseudo_observations`."""
    u = pseudo_observations(x)
    n = x.shape[0]
    rng = np.random.default_rng([random_state, 1])  # its own stream: tie-free data leaves the fit's draws alone
    tied = []
    for j in range(x.shape[1]):
        if n - len(np.unique(x[:, j])) > MAX_STRAY_TIES * n:
            order = np.lexsort((rng.random(n), x[:, j]))  # by value, ties in random order
            u[order, j] = np.arange(1, n + 1) / (n + 1.0)
            tied.append(j)
    if tied:
        warnings.warn(
            f"{method}: columns {tied} of x repeat many values (discrete or rounded data); their ties were broken at "
            "random in rank, so the estimate is the TC of the jittered (continuous) data",
            UserWarning,
            stacklevel=4,
        )
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


class SampleMethod:
    """Base class: a method prepared from :class:`SampleData`."""

    name: str = ""
    #: whether the method estimates each term on its own (a decomposition's total then depends on the path)
    per_term: bool = False
    #: whether the method needs more rows than dims (a full-rank covariance)
    needs_n_above_d: bool = False

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        self.n = data.x.shape[0]

    def set_stats(self, sets):
        """Per set S: ``-H(z_S)`` and each row's influence on it (for standard errors)."""
        raise NotImplementedError

    def evaluate(self, terms: list[Term]):
        """Per-term methods: values, standard errors and the standard error of their sum."""
        raise NotImplementedError

    def notes(self, plan: Plan) -> tuple[str, ...]:
        return ()


class GaussianPlugin(SampleMethod):
    """``gaussian``: plug-in entropies of the sample covariance with the exact Wishart correction of
    ``E[log det S]`` per set, so every term is unbiased for Gaussian data (docs/math.md#the-wishart-log-det-correction).

    Log-dets come from the R factor of a QR of the centred data, never from the covariance (whose
    rounding squares the condition number). Standard errors use each row's influence
    ``-1/2 (x_S - m)^T S_SS^-1 (x_S - m)``. Needs n > D.
    """

    name = "gaussian"
    needs_n_above_d = True

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        values = self.transform(data)
        self.centred = values - values.mean(axis=0)
        self.r = np.linalg.qr(self.centred, mode="r")

    def transform(self, data: SampleData) -> np.ndarray:
        return data.scaled

    def set_stats(self, sets):
        n = self.n
        values = np.empty(len(sets))
        per_sample = np.empty((n, len(sets)))
        for j, s in enumerate(sets):
            idx = np.asarray(s)
            d = len(idx)
            # cov_SS = R_S^T R_S / (n - 1) with R_S the R factor of the set's columns of R.
            r_set = np.linalg.qr(self.r[:, idx], mode="r")
            logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r_set))))) - d * math.log(n - 1)
            values[j] = -0.5 * (d * LOG_2PI_E + logdet - logdet_bias(n, d))
            # Influence of each row on -H(z_S): -1/2 (quadratic form - d); the constant drops out of the spread.
            whitened = solve_triangular(r_set.T, self.centred[:, idx].T, lower=True) * math.sqrt(n - 1)
            per_sample[:, j] = -0.5 * np.sum(whitened * whitened, axis=0)
        return values, per_sample


class GaussianCopula(GaussianPlugin):
    """``copula``: each column to normal scores of its ranks, then ``gaussian``. TC ignores monotone changes
    of each margin, so this is exact for Gaussian-copula data whatever the margins (docs/math.md#copula)."""

    name = "copula"

    def transform(self, data: SampleData) -> np.ndarray:
        return normal_scores(data.x)


def t_set_stats(x: np.ndarray, loc: np.ndarray, scale: np.ndarray, df: float, sets):
    """Per set S of a fitted t_df(loc, scale): ``-H(x_S)`` with the Wishart correction of its log det, and each
    row's log density of x_S as its influence (docs/math.md#multivariate-t)."""
    n = x.shape[0]
    values = np.empty(len(sets))
    per_sample = np.empty((n, len(sets)))
    for j, s in enumerate(sets):
        idx = np.asarray(s)
        d = len(idx)
        chol = np.linalg.cholesky(scale[np.ix_(idx, idx)])
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
        values[j] = -(0.5 * (logdet - logdet_bias(n, d)) + t_entropy_offset(d, df))
        per_sample[:, j] = t_log_density(x[:, idx], loc[idx], chol, df)
    return values, per_sample


class StudentTPlugin(SampleMethod):
    """``student_t``: a multivariate t fitted by maximum likelihood (ECME, df included), then the closed-form
    entropies of the t with the Wishart correction of each log det (docs/math.md#multivariate-t).

    Exact in the limit for elliptical t data, whose shared scale makes even uncorrelated coordinates
    dependent (which ``gaussian`` and ``copula`` cannot see); becomes ``gaussian`` as the fitted df grows.
    Standard errors use each row's fitted log density of the set (the parameters' own noise is left out).
    Needs n > D and continuous data: on a point mass the fit degenerates and is refused.
    """

    name = "student_t"
    needs_n_above_d = True

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        self.data = data.scaled
        try:
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                self.loc, self.scale, self.df = fit_student_t(self.data)
        except (np.linalg.LinAlgError, FloatingPointError):
            # On data with a point mass the likelihood grows without bound as the scale collapses onto it.
            raise ValueError(
                "x: the Student-t fit degenerates (its scale collapses onto repeated values); "
                "method='student_t' needs continuous data, use 'copula' or 'knn'"
            ) from None

    def set_stats(self, sets):
        return t_set_stats(self.data, self.loc, self.scale, self.df, sets)


def kendall_correlation(x: np.ndarray) -> np.ndarray:
    """The correlation matrix of an elliptical copula from Kendall's tau, ``R_jk = sin(pi tau_jk / 2)``
    (Lindskog, McNeil & Schmock 2003), projected onto the positive definite matrices with unit diagonal."""
    from scipy.stats import kendalltau

    d = x.shape[1]
    r = np.eye(d)
    for j in range(d):
        for k in range(j + 1, d):
            r[j, k] = r[k, j] = math.sin(0.5 * math.pi * kendalltau(x[:, j], x[:, k]).statistic)
    values, vectors = np.linalg.eigh(r)
    if values[0] < 1e-6:  # pairwise estimates need not be jointly consistent: clip, then rescale to unit diagonal
        r = (vectors * np.maximum(values, 1e-6)) @ vectors.T
        scale = 1.0 / np.sqrt(np.diag(r))
        r = r * scale[:, None] * scale[None, :]
    return r


def t_copula_log_likelihood(u: np.ndarray, corr: np.ndarray, df: float) -> float:
    """Log-likelihood of pseudo-observations ``u`` (n x d, in (0, 1)) under the t copula (corr, df):
    ``sum_i [log t_{df, corr}(x_i) - sum_j log t_df(x_ij)]`` with ``x = t_df^-1(u)`` (docs/math.md#t-copula)."""
    from scipy.special import stdtrit
    from scipy.stats import t as student

    x = stdtrit(df, u)
    joint = t_log_density(x, np.zeros(u.shape[1]), np.linalg.cholesky(corr), df)
    return float(np.sum(joint) - np.sum(student.logpdf(x, df)))


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


class TCopula(SampleMethod):
    """``t_copula``: ranks to pseudo-observations, a Student-t copula fitted to them (correlation from Kendall's
    tau, df by maximum likelihood), then the closed-form entropies of the multivariate t with that correlation
    and df, each log det with the Wishart correction (docs/math.md#t-copula).

    TC ignores monotone changes of each margin, so this is to t-copula data, whatever its margins, what
    ``student_t`` is to t data; a fitted df at the top of its range means a Gaussian copula. Standard errors
    use each row's fitted log density of the set. Needs n > D.
    """

    name = "t_copula"
    needs_n_above_d = True

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        u = pseudo_observations(data.x)
        self.corr = kendall_correlation(data.x)
        self.df = fit_t_copula(u, self.corr)
        from scipy.special import stdtrit

        self.values = stdtrit(self.df, u)

    def set_stats(self, sets):
        return t_set_stats(self.values, np.zeros(len(self.corr)), self.corr, self.df, sets)

    def notes(self, plan: Plan) -> tuple[str, ...]:
        return (f"t_copula: fitted df = {self.df:.3g}" + (" (a Gaussian copula)" if self.df > 1e3 else "") + ".",)


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
    telescope; standard errors use each row's averaged log density. ``components=K`` fixes K. Needs n > 2 D.
    """

    name = "gmm"
    needs_n_above_d = True
    #: the K tried when ``components`` is not given
    CANDIDATES = (1, 2, 3, 4, 6, 8)

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        from .mixture import fit_candidates, fit_gaussian_mixture

        super().__init__(data, k, neural)
        self.values = ndtri(mixture_pseudo_observations(data.x, data.random_state, "gmm"))
        d = data.x.shape[1]
        rng = np.random.default_rng(data.random_state)
        order = rng.permutation(self.n)
        self.halves = (order[: self.n // 2], order[self.n // 2 :])
        first, second = self.halves
        if len(first) <= d:
            raise ValueError(f"x has n={self.n} rows: method='gmm' needs more than 2 D = {2 * d} (half for each fit)")
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

    def set_stats(self, sets):
        per_sample = np.empty((self.n, len(sets)))
        for rows, own, other in ((self.halves[0], *self.mixtures), (self.halves[1], *self.mixtures[::-1])):
            x = self.values[rows]
            for j, s in enumerate(sets):
                per_sample[rows, j] = 0.5 * (own.log_density(x, s) + other.log_density(x, s))
        return per_sample.mean(axis=0), per_sample

    def notes(self, plan: Plan) -> tuple[str, ...]:
        tried = ", ".join(f"K={c}: {v:.3f}" for c, v in sorted(self.scores.items()))
        return (
            f"gmm: {self.components[0]} and {self.components[1]} components in the two halves (held-out "
            f"log-likelihood per row by the requested K, {tried}); entropies cross-fitted on two halves of "
            f"{self.n} rows.",
        )


#: the K of ``auto``'s mixture candidates (K = 1 is the Gaussian copula, already a candidate)
MIXTURE_CANDIDATES = (2, 3, 4, 6, 8)


def _copula_log_densities(u: np.ndarray, scores: np.ndarray, fit: np.ndarray, held: np.ndarray, rng):
    """Each held-out row's log density of its normal scores under each density model fitted on the rows
    ``fit``: the Gaussian copula, the t copula, and the best of Gaussian mixtures with K in MIXTURE_CANDIDATES
    (docs/math.md#auto), simplest first; and that best K (None where no mixture fits the rows)."""
    from scipy.special import stdtrit
    from scipy.stats import multivariate_normal, norm
    from scipy.stats import t as student

    from .mixture import fit_candidates

    d = u.shape[1]
    corr = np.corrcoef(scores[fit], rowvar=False).reshape(d, d)
    out = {"copula": multivariate_normal(np.zeros(d), corr).logpdf(scores[held]).reshape(-1)}
    t_corr = kendall_correlation(u[fit])
    df = fit_t_copula(u[fit], t_corr)
    x = stdtrit(df, u[held])
    copula = t_log_density(x, np.zeros(d), np.linalg.cholesky(t_corr), df) - student.logpdf(x, df).sum(1)
    out["t_copula"] = copula + norm.logpdf(scores[held]).sum(1)
    mixtures = fit_candidates(scores[fit], scores[held], MIXTURE_CANDIDATES, rng)
    if not mixtures:
        return out, None
    best = max(mixtures, key=lambda c: mixtures[c][0].mean())
    out["gmm"] = mixtures[best][0]
    return out, best


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
    """``auto``: fits the Gaussian copula, the t copula and Gaussian mixtures (K = 2 to 8) to 70% of the rows,
    scores each by the log density of the other 30% in copula space (normal scores), and runs on all the rows
    the simplest model that no more complex one beats by more than MARGIN standard errors (docs/math.md#auto).
    The decomposition's notes say which method was chosen and the scores. Needs n > D.
    """

    name = "auto"
    needs_n_above_d = True
    HELD_OUT = 0.3
    #: standard errors by which a more complex model must beat a simpler one on the held-out rows
    MARGIN = 2.0

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        u = mixture_pseudo_observations(data.x, data.random_state, "auto")
        scores = ndtri(u)
        rng = np.random.default_rng(data.random_state)
        order = rng.permutation(self.n)
        n_held = int(self.HELD_OUT * self.n)
        held, fit = order[:n_held], order[n_held:]
        if min(len(held), len(fit)) <= 2 * data.x.shape[1]:
            raise ValueError(f"x has n={self.n} rows: method='auto' needs more than 7 D = {7 * data.x.shape[1]}")
        per_row, self.mixture_components = _copula_log_densities(u, scores, fit, held, rng)
        self.scores = {name: float(values.mean()) for name, values in per_row.items()}
        self.choice = _simplest_adequate(per_row, self.MARGIN)
        if self.choice == "gmm":  # K is already chosen on held-out rows: gmm need not search again
            data = replace(data, components=self.mixture_components)
        with warnings.catch_warnings():  # auto has said so already for its own comparison
            warnings.filterwarnings("ignore", message="gmm: columns", category=UserWarning)
            self.chosen = METHODS[self.choice](data, k, neural)
        self.n = self.chosen.n

    def set_stats(self, sets):
        return self.chosen.set_stats(sets)

    def notes(self, plan: Plan) -> tuple[str, ...]:
        ranked = ", ".join(f"{name} {value:.3f}" for name, value in sorted(self.scores.items(), key=lambda t: -t[1]))
        return (
            f"auto chose {self.choice}: the simplest model that none beats by {self.MARGIN:g} standard errors of "
            f"held-out log-likelihood per row in copula space ({ranked}).",
            *self.chosen.notes(plan),
        )


class KSG(SampleMethod):
    """``knn``: Kraskov-Stoegbauer-Grassberger estimator 1 (max-norm) for each term on ``cKDTree``,
    O(n log n) (docs/math.md#ksg). Ties are handled first (:func:`tcdecomp.knn.break_ties`): grid data is
    dequantised with a warning, repeated rows are refused. Per-term estimates do not telescope."""

    name = "knn"
    per_term = True

    def __init__(self, data: SampleData, k: int, neural: NeuralConfig):
        super().__init__(data, k, neural)
        if self.n <= k:
            raise ValueError(f"k={k} must be below the number of samples n={self.n}")
        self.k = k
        # One scale for every column: KSG's max-norm neighbourhoods are unchanged by it.
        self.x = break_ties(data.x / np.max(np.abs(data.x)), data.epsilon, data.random_state)

    def evaluate(self, terms: list[Term]):
        per_term = np.stack([ksg_multi_information(self.x, t.groups, self.k) for t in terms], axis=1)
        errors = [_stderr(per_term[:, t]) for t in range(len(terms))]
        return list(per_term.mean(axis=0)), errors, _stderr(per_term.sum(axis=1))

    def notes(self, plan: Plan) -> tuple[str, ...]:
        return (f"knn (KSG, k={self.k}) estimates each term separately: the total depends on the path ({plan.name}).",)


class NeuralBound(SampleMethod):
    """``infonce``, ``nwj``, ``mine``, ``club``: a neural bound per pairwise term (:mod:`tcdecomp.neural`,
    docs/math.md#neural-bounds), on standardised columns; a term of m > 2 groups is split by the exact chain
    rule. One network per pairwise term, reused across paths."""

    per_term = True

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
        for term in terms:
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
DENSITY_METHODS = (GaussianPlugin, GaussianCopula, StudentTPlugin, TCopula, GaussianMixtureTC, AutoMethod)
METHODS = {cls.name: cls for cls in (*DENSITY_METHODS, KSG)}
METHODS.update({name: type(f"NeuralBound_{name}", (NeuralBound,), {"name": name}) for name in NEURAL_METHODS})
