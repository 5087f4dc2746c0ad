"""The fused grouped log-density logsumexp at the heart of every posterior estimate.

:func:`group_logsumexp` validates its arguments and dispatches: CUDA tensors run the
Triton kernel (``triton_glse.py``); CPU tensors, float64, or a machine without Triton
run the chunked torch path (``chunked.py``). Neither materialises the B x M x D
tensor of per-dim densities. ``backend=`` or the environment variable
``TCDECOMP_BACKEND`` (``auto``, ``torch``, ``triton``) forces a path; with
``TRITON_INTERPRET=1`` (set before triton is imported) the Triton kernel runs on CPU
tensors, which is how the tests check it.
"""

from __future__ import annotations

import functools
import logging
import math
import os

import torch

from .._checks import check_finite_tensor, check_float_matrix
from .chunked import chunked_group_logsumexp
from .reference import naive_group_logsumexp
from .weights import StructuredLogWeights, bank_log_weights, mss_log_weights

__all__ = [
    "group_logsumexp",
    "naive_group_logsumexp",
    "sets_to_membership",
    "StructuredLogWeights",
    "mss_log_weights",
    "bank_log_weights",
    "BACKENDS",
    "triton_available",
]

BACKENDS = ("auto", "torch", "triton")
log = logging.getLogger(__name__)

#: exp(-logvar) leaves float64's normal range beyond this |logvar|: such inputs are refused.
LOGVAR_LIMIT = 700.0
#: the bound on D * max (z - mu)^2 / var that float64 evaluates without overflow (as a log).
FLOAT64_QUADRATIC_LIMIT = math.log(1e300)
#: below these, float32 neither overflows (exp(80) = 5.5e34) nor loses exp(-logvar) to subnormals,
#: so float32 inputs are computed in float32; beyond them they are promoted to float64.
FLOAT32_LOGVAR_LIMIT = 80.0
FLOAT32_QUADRATIC_LIMIT = math.log(1e30)


@functools.cache
def triton_available() -> bool:
    """Whether the Triton kernel can be imported here."""
    try:
        from . import triton_glse  # noqa: F401
    except Exception as exc:  # no triton, or a triton that fails to load: fall back to torch
        log.info("Triton kernel unavailable (%s); using the chunked torch path", exc)
        return False
    return True


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def resolve_backend(z: torch.Tensor, backend: str | None, needs_float64: bool = False) -> str:
    """Which implementation runs for ``z``: "torch" or "triton" (float32 only)."""
    backend = backend or os.environ.get("TCDECOMP_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} (argument or TCDECOMP_BACKEND), got {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "auto":
        use = z.is_cuda and z.dtype != torch.float64 and not needs_float64 and triton_available()
        return "triton" if use else "torch"
    if not triton_available():
        raise ValueError("backend='triton' needs the triton package (pip install triton, Linux); use backend='torch'")
    if z.dtype == torch.float64:
        raise ValueError(
            "backend='triton' computes in float32; pass float32/16 inputs or use backend='torch' for float64"
        )
    if needs_float64:
        raise ValueError(
            "backend='triton' computes in float32, but these logvar/z/mu magnitudes need float64; "
            "use backend='torch' (or auto)"
        )
    if not z.is_cuda and not _interpreting():
        raise ValueError("backend='triton' needs CUDA tensors (or TRITON_INTERPRET=1 set before importing triton)")
    return "triton"


def sets_to_membership(sets, n_dims: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The ``n_dims x S`` 0/1 matrix whose column s marks the dims of ``sets[s]``."""
    if isinstance(sets, (str, bytes)) or not hasattr(sets, "__iter__"):
        raise ValueError(f"sets must be a sequence of sets of dims, got {sets!r}")
    sets = list(sets)
    if not sets:
        raise ValueError("sets is empty; pass at least one set of dims")
    member = torch.zeros(n_dims, len(sets), dtype=dtype, device=device)
    for s, dims in enumerate(sets):
        if isinstance(dims, (int,)) or not hasattr(dims, "__iter__"):
            raise ValueError(f"sets[{s}] must be an iterable of dims, got {dims!r}")
        dims = list(dims)
        if not dims:
            raise ValueError(f"sets[{s}] is empty; every set needs at least one dim")
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, int) and not hasattr(d, "__index__"):
                raise ValueError(f"sets[{s}] holds {d!r}, not an integer dim")
            if not 0 <= int(d) < n_dims:
                raise ValueError(f"sets[{s}] holds dim {int(d)}, out of range for D={n_dims} (0..{n_dims - 1})")
        if len(set(int(d) for d in dims)) != len(dims):
            raise ValueError(f"sets[{s}] repeats a dim: {dims}")
        member[[int(d) for d in dims], s] = 1.0
    return member


def _check_inputs(z, mu, logvar, log_w):
    for name, t in (("z", z), ("mu", mu), ("logvar", logvar)):
        check_float_matrix(t, name)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if z.shape[1] != mu.shape[1]:
        raise ValueError(f"z has {z.shape[1]} dims but mu has {mu.shape[1]}; they must match")
    if z.shape[0] == 0 or mu.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z ({tuple(z.shape)}) and mu ({tuple(mu.shape)}) must be non-empty")
    if not (z.device == mu.device == logvar.device):
        raise ValueError(f"z, mu and logvar must be on one device, got {z.device}, {mu.device}, {logvar.device}")
    if not (z.dtype == mu.dtype == logvar.dtype):
        raise ValueError(f"z, mu and logvar must share a dtype, got {z.dtype}, {mu.dtype}, {logvar.dtype}; cast them")
    if isinstance(log_w, torch.Tensor):
        if log_w.shape != (z.shape[0], mu.shape[0]):
            raise ValueError(f"log_w must be B x M = {(z.shape[0], mu.shape[0])}, got {tuple(log_w.shape)}")
        if log_w.device != z.device:
            raise ValueError(f"log_w is on {log_w.device} but z is on {z.device}")
        if not log_w.dtype.is_floating_point:
            raise ValueError(f"log_w must be a floating tensor, got {log_w.dtype}")
    elif isinstance(log_w, StructuredLogWeights):
        if z.shape[0] > mu.shape[0]:
            raise ValueError(
                "structured log_w puts row b's own example at column b, so z may not have more rows than mu"
            )
    elif log_w is not None:
        raise ValueError(f"log_w must be None, a B x M tensor or StructuredLogWeights, got {type(log_w).__name__}")


def _check_log_w_values(log_w: torch.Tensor) -> None:
    w = log_w.detach()
    if bool(torch.isnan(w).any() | (w == math.inf).any()):
        bad = torch.nonzero(torch.isnan(w) | (w == math.inf))[0].tolist()
        raise ValueError(
            f"log_w holds NaN or +inf (first at index {tuple(bad)}); log-weights are finite or -inf (weight 0)"
        )
    empty = ~torch.isfinite(w).any(1)
    if bool(empty.any()):
        row = int(torch.nonzero(empty)[0])
        raise ValueError(
            f"log_w row {row} is -inf everywhere: every row needs at least one component of positive weight"
        )


def needs_float64(z, mu, logvar) -> bool:
    """Check that the inputs are finite and representable; whether float32 inputs must be computed in float64.

    The quadratic (z - mu)^2 exp(-logvar) overflows or loses exp(-logvar) to subnormals in
    float32 long before float64; such inputs (logvar <= -89, logvar >= 100, |mu| ~ 1e6 with
    logvar = -60, ...) are promoted rather than turned into NaN or -inf.
    """
    # One reduction and one device sync per call (this runs every training step); NaN and inf propagate into
    # these extremes, and only then is each tensor searched for the culprit's index.
    stats = torch.stack(
        [
            logvar.detach().amin().double(),
            logvar.detach().amax().double(),
            z.detach().abs().amax().double(),
            mu.detach().abs().amax().double(),
        ]
    ).tolist()
    if not all(math.isfinite(v) for v in stats):
        for name, t in (("z", z), ("mu", mu), ("logvar", logvar)):
            check_finite_tensor(t.detach(), name)
    lv_min, lv_max, z_max, mu_max = stats
    worst = max(-lv_min, lv_max)
    if worst > LOGVAR_LIMIT:
        value = lv_min if -lv_min >= lv_max else lv_max
        raise ValueError(
            f"logvar holds {value:.4g}: exp(-logvar) leaves float64's range beyond |logvar| > "
            f"{LOGVAR_LIMIT:.0f}; clamp the encoder's log-variance"
        )
    span = z_max + mu_max
    quadratic = 2.0 * math.log(span) - lv_min + math.log(z.shape[1]) if span > 0 else -math.inf
    if quadratic > FLOAT64_QUADRATIC_LIMIT:
        raise ValueError(
            f"z and mu reach {span:.3g} with variances down to exp({lv_min:.4g}): (z - mu)^2 / var "
            "overflows float64; rescale z and mu, or raise logvar"
        )
    if z.dtype == torch.float64:
        return False
    return worst > FLOAT32_LOGVAR_LIMIT or quadratic > FLOAT32_QUADRATIC_LIMIT


def group_logsumexp(z, mu, logvar, sets, log_w=None, backend: str | None = None) -> torch.Tensor:
    """Grouped log-density logsumexp (B x S).

    >>> z, mu, logvar = torch.zeros(1, 2), torch.zeros(3, 2), torch.zeros(3, 2)
    >>> group_logsumexp(z, mu, logvar, [[0], [0, 1]])  # log(3 N(0; 0, 1)) and log(3 N(0; 0, I_2))
    tensor([[ 0.1797, -0.7393]])

    ``out[b, s] = logsumexp_m(log_w[b, m] + sum_{k in sets[s]} log N(z_bk; mu_mk, exp(logvar_mk)))``

    Args:
        z: B x D points.
        mu, logvar: M x D means and log-variances of the factorised Gaussian components.
        sets: S non-empty sets of dims; they may overlap (tree nodes, groups, single dims, all dims).
        log_w: None (all zero), a dense B x M tensor, or :class:`StructuredLogWeights`.
        backend: "auto" (default, or ``TCDECOMP_BACKEND``), "torch" or "triton".

    Differentiable in z, mu, logvar (and a dense log_w), twice too (``create_graph=True``; the
    second pass keeps a B x M x D graph). Float16/bfloat16/float32 inputs are returned in
    float32, float64 in float64; float32 inputs whose magnitudes would overflow float32's
    quadratic are computed in float64 (:func:`needs_float64`). NaN or inf inputs raise.
    """
    _check_inputs(z, mu, logvar, log_w)
    member = sets_to_membership(sets, z.shape[1], dtype=torch.float64, device=z.device)
    promote = needs_float64(z, mu, logvar)
    if isinstance(log_w, torch.Tensor):
        _check_log_w_values(log_w)
    if resolve_backend(z, backend, promote) == "triton":
        from .triton_glse import triton_group_logsumexp

        return triton_group_logsumexp(z, mu, logvar, member.float(), log_w)
    out = chunked_group_logsumexp(z, mu, logvar, member, log_w, compute_dtype=torch.float64 if promote else None)
    if promote and not bool(torch.isfinite(out).all()):
        raise ValueError(
            "some rows of z lie so far from every component that log q(z) falls below float32's range; "
            "pass float64 z, mu and logvar"
        )
    return out
