"""MIG, the mutual information gap (docs/math.md#mig), in both published variants.

MIG (Chen et al. 2018): for each factor v_k with H(v_k) > 0, the gap between the two
largest I(z_j; v_k), divided by H(v_k), averaged over factors. Choices, since published
codes differ:
  * ``mig_sampled``: I(z_j; v_k) = H(z_j) - sum_v p(v) H(z_j | v_k = v), each entropy
    estimated on draws from the aggregate posterior of all examples (or of those with
    v_k = v), with exact mixture densities; latents are indexed [sample, dim] throughout
    (no reshaping of factor-major arrays), and every factor with more than one value is
    used (shape included).
  * ``mig_discrete``: the disentanglement_lib variant: encoder means of ``num_points``
    examples, each dim cut into 20 equal-width bins over its range, discrete MI.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch

from ..._checks import (
    check_choice,
    check_dims,
    check_finite_tensor,
    check_float_matrix,
    check_positive_int,
    check_seed,
    input_epsilon,
    refuse_silent_conversion,
)
from ...posterior import Posterior, sample_aggregate
from .results import MIGResult, MIGScore


# -- MIG ---------------------------------------------------------------------------------------------
def _factor_entropy(labels: np.ndarray) -> float:
    """H(v) in nats of the empirical distribution of one factor's classes."""
    _, counts = np.unique(labels, return_counts=True)
    return float(scipy.stats.entropy(counts))


def _gap(mi: np.ndarray, entropies: np.ndarray, factors=None) -> tuple[float, np.ndarray]:
    """MIG from a (variables x factors) MI matrix; factors with zero entropy, or outside ``factors``, are skipped."""
    keep = entropies > 0
    if factors is not None:
        keep &= np.isin(np.arange(len(entropies)), factors)
    top = np.sort(mi[:, keep], axis=0)[::-1]
    second = top[1] if mi.shape[0] > 1 else np.zeros(top.shape[1])
    gaps = (top[0] - second) / entropies[keep]
    return float(np.mean(gaps)), gaps


def _marginal_entropies(mu, logvar, num_samples: int, g: torch.Generator, variables) -> torch.Tensor:
    """H(z_G) of the aggregate posterior of (mu, logvar) for every variable G (a set of dims), in one pass."""
    z, _ = sample_aggregate(mu, logvar, num_samples, g)
    log_q = Posterior(mu, logvar, z=z, estimator="exact").log_density(variables)
    return -log_q.double().mean(0).cpu()  # posteriors may live on a GPU; the MI table is assembled on the CPU


#: which factors count in MIG. Chen et al. (2018) leave dSprites' shape out of their MIG;
#: disentanglement_lib (Locatello et al. 2019) keeps every factor.
FACTOR_CONVENTIONS = ("all", "chen2018")


def factor_selection(factor_names, convention: str = "all") -> list[int]:
    """The indices of the factors MIG counts under a named ``convention``."""
    check_choice(convention, FACTOR_CONVENTIONS, "convention")
    names = list(factor_names)
    if convention == "chen2018":
        return [f for f, name in enumerate(names) if name != "shape"]
    return list(range(len(names)))


def mig_under(result: MIGResult, factors) -> MIGScore:
    """A MIG result re-scored with only ``factors`` counting (the MI matrix is the same)."""
    score, gaps = _gap(np.asarray(result.mi), np.asarray(result.factor_entropy), list(factors))
    return MIGScore(mig=score, per_factor=gaps.tolist(), factors=list(factors))


def _check_variables(groups, n_dims: int) -> list[list[int]]:
    if groups is None:
        return [[k] for k in range(n_dims)]
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise ValueError(f"groups must be a list of groups of dims, got {groups!r}")
    variables = [check_dims(g, n_dims, f"groups[{i}]") for i, g in enumerate(groups)]
    seen: set[int] = set()
    for g in variables:
        if seen.intersection(g):
            raise ValueError(f"groups must be disjoint; dims {sorted(seen.intersection(g))} repeat")
        seen.update(g)
    return variables


#: below these magnitudes float32 holds the sampled z and the exact densities (as in the kernel's float64
#: promotion test); beyond them MIG is computed in float64, so that no value of the user's becomes inf
FLOAT32_MAGNITUDE_LIMIT = 1e15
FLOAT32_LOGVAR_LIMIT = 80.0


def mig_dtype(mu, logvar=None) -> torch.dtype:
    """float32 where the values fit it comfortably, float64 where a float32 cast would overflow."""
    mu = np.asarray(mu.detach().cpu() if isinstance(mu, torch.Tensor) else mu, dtype=np.float64)
    wide = np.isfinite(mu).all() and np.abs(mu).max(initial=0.0) > FLOAT32_MAGNITUDE_LIMIT
    if logvar is not None:
        lv = np.asarray(logvar.detach().cpu() if isinstance(logvar, torch.Tensor) else logvar, dtype=np.float64)
        wide = wide or (np.isfinite(lv).all() and np.abs(lv).max(initial=0.0) > FLOAT32_LOGVAR_LIMIT)
    return torch.float64 if wide else torch.float32


def _check_counted(factors, F: int) -> list[int]:
    """The counted factors: all by default; else a non-empty list of distinct factor indices."""
    if factors is None:
        return list(range(F))
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__iter__"):
        raise ValueError(f"factors must be a list of factor indices, got {factors!r}")
    return check_dims(factors, F, "factors")


def _check_varying(entropies: np.ndarray, counted: list[int]) -> None:
    if not any(entropies[f] > 0 for f in counted):
        raise ValueError(
            f"classes: none of the counted factors {counted} takes two classes in these rows, so MIG is undefined; "
            "pass rows where the factors vary"
        )


def _check_mig_inputs(mu, classes, logvar=None, dtype=torch.float32):
    if hasattr(mu, "__len__") and len(mu) < 2:
        raise ValueError(f"mu has {len(mu)} row; MIG needs at least 2 encoded examples")
    mu = _finite_matrix(mu, "mu", dtype)
    classes = np.asarray(classes)
    if classes.dtype.kind not in "iu" and not (
        classes.dtype.kind == "f" and np.all(np.isfinite(classes)) and np.all(classes == np.round(classes))
    ):
        raise ValueError(f"classes must hold integer factor classes, got dtype {classes.dtype}")
    if classes.ndim != 2 or len(classes) != len(mu):
        raise ValueError(f"classes must be N x F with N = {len(mu)} rows like mu, got shape {classes.shape}")
    if logvar is not None:
        logvar = _finite_matrix(logvar, "logvar", dtype)
        if logvar.shape != mu.shape:
            raise ValueError(f"logvar must have mu's shape {tuple(mu.shape)}, got {tuple(logvar.shape)}")
    return mu, classes, logvar


def _finite_matrix(value, name: str, dtype) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        refuse_silent_conversion(value, name)
        value = torch.as_tensor(np.asarray(value, dtype=np.float64))
    value = check_float_matrix(value, name).to(dtype)
    check_finite_tensor(value, name)
    return value


def mig_sampled(mu, logvar, classes, num_samples: int = 10000, seed: int = 0, groups=None, factors=None) -> MIGResult:
    """MIG of Chen et al. (2018) from posteriors (N x D) and factor classes (N x F) (docs/math.md#mig).

    ``groups``: None scores every single dim as a latent variable; a list of disjoint groups of dims
    (e.g. ``contiguous_groups(D, i)`` for a grouped model) scores each group as one variable, with
    ``I(z_G; v_k) = H(z_G) - sum_v p(v) H(z_G | v_k = v)`` from the exact aggregate-posterior mixture
    density over the group's dims. ``factors``: the indices of the factors that count (all by default;
    :func:`factor_selection` names the published conventions).

    Returns a :class:`MIGResult`: ``mig``, ``per_factor`` (the normalised gaps of the counted factors), ``mi``
    (the variables x factors MI matrix, every factor), ``factor_entropy``, ``variables`` and ``factors``.
    Degenerate inputs: a collapsed encoder scores 0; fewer than 2 rows, an empty or repeating ``factors``, or
    counted factors that never vary are refused. Inputs beyond float32's comfortable range are computed in float64.
    """
    num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
    seed = check_seed(seed, "seed")
    mu, classes, logvar = _check_mig_inputs(mu, classes, logvar, dtype=mig_dtype(mu, logvar))
    variables = _check_variables(groups, mu.shape[1])
    F = classes.shape[1]
    counted = _check_counted(factors, F)
    h_v = np.array([_factor_entropy(classes[:, f]) for f in range(F)])
    _check_varying(h_v, counted)
    g = torch.Generator().manual_seed(seed)
    h_z = _marginal_entropies(mu, logvar, num_samples, g, variables)
    mi = np.zeros((len(variables), F))
    for f in range(F):
        if h_v[f] == 0:
            continue
        values, counts = np.unique(classes[:, f], return_counts=True)
        cond = torch.zeros(len(variables), dtype=torch.float64)
        for v, count in zip(values, counts):
            rows = torch.from_numpy(np.flatnonzero(classes[:, f] == v))
            per_value = max(2, math.ceil(num_samples * count / len(classes)))
            cond += (count / len(classes)) * _marginal_entropies(mu[rows], logvar[rows], per_value, g, variables)
        mi[:, f] = (h_z - cond).numpy()
    score, gaps = _gap(mi, h_v, counted)
    return MIGResult(
        mig=score,
        per_factor=gaps.tolist(),
        mi=mi.tolist(),
        factor_entropy=h_v.tolist(),
        variables=variables,
        factors=counted,
    )


def _discrete_mi(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two integer label arrays, from their contingency table."""
    _, a_idx = np.unique(a, return_inverse=True)
    _, b_idx = np.unique(b, return_inverse=True)
    table = np.zeros((a_idx.max() + 1, b_idx.max() + 1))
    np.add.at(table, (a_idx, b_idx), 1)
    p = table / table.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def _bin_latent(values: np.ndarray, bins: int, epsilon: float) -> np.ndarray:
    """Equal-width bin indices over the latent's range, in float64; a latent whose spread is within a few
    steps of its input precision (a dead latent, e.g. 0.37 + 1e-8 noise in float32) is one bin."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low <= 8.0 * epsilon * max(abs(low), abs(high), np.finfo(np.float64).tiny):
        return np.zeros(len(values), dtype=np.int64)
    return np.digitize(values, np.histogram_bin_edges(values, bins)[:-1])


def mig_discrete(mu, classes, bins: int = 20, num_points: int | None = 10000, seed: int = 0) -> MIGResult:
    """MIG of disentanglement_lib: 20-bin histogram discretisation of the encoder means. A collapsed encoder
    (every latent constant) scores 0; classes in which no factor varies are refused.

    A code whose first latent is the factor and whose second is noise scores close to 1:

    >>> classes = np.repeat(np.arange(4), 50)[:, None]
    >>> mu = np.c_[classes[:, 0] + 0.01 * np.sin(np.arange(200)), np.cos(np.arange(200))]
    >>> round(mig_discrete(torch.tensor(mu, dtype=torch.float32), classes).mig, 3)
    0.958
    """
    bins = check_positive_int(bins, "bins")
    seed = check_seed(seed, "seed")
    epsilon = input_epsilon(mu)
    mu, classes, _ = _check_mig_inputs(mu, classes, dtype=torch.float64)
    mu = mu.numpy()
    if num_points is not None and num_points < len(mu):
        rows = np.random.default_rng(seed).choice(len(mu), num_points, replace=False)
        mu, classes = mu[rows], classes[rows]
    D, F = mu.shape[1], classes.shape[1]
    h_v = np.array([_factor_entropy(classes[:, f]) for f in range(F)])
    _check_varying(h_v, list(range(F)))
    binned = np.stack([_bin_latent(col, bins, epsilon) for col in mu.T], axis=1)
    mi = np.array([[_discrete_mi(binned[:, j], classes[:, f]) for f in range(F)] for j in range(D)])
    score, gaps = _gap(mi, h_v)
    return MIGResult(mig=score, per_factor=gaps.tolist(), mi=mi.tolist(), factor_entropy=h_v.tolist())
