"""The fused grouped log-density logsumexp at the heart of every posterior estimate.

:func:`group_logsumexp` validates its arguments and dispatches: CUDA tensors run the
Triton kernel (``triton_glse.py``); CPU tensors, float64, or a machine without Triton
run the chunked torch path (``chunked.py``). Neither materialises the B x M x D
tensor of per-dim densities. ``backend=`` or the environment variable
``TCDECOMP_BACKEND`` (``auto``, ``torch``, ``triton``) forces a path; with
``TRITON_INTERPRET=1`` (set before triton is imported) the Triton kernel runs on CPU
tensors, which is how the tests check it.

The computation is the custom op ``tcdecomp::group_logsumexp`` (``op.py``), with a fake
implementation and a registered autograd formula, so ``torch.compile(fullgraph=True)`` traces
a training step through it without a graph break; the value checks run inside the op.
"""

from __future__ import annotations

import torch

from .._checks import check_float_matrix
from .dispatch import BACKENDS, needs_float64, resolve_backend, triton_available
from .op import group_logsumexp_op, structured_args
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
    "needs_float64",
    "resolve_backend",
]


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
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    member = sets_to_membership(sets, z.shape[1], dtype=torch.float64, device=z.device)
    dense = log_w if isinstance(log_w, torch.Tensor) else None
    return group_logsumexp_op(z, mu, logvar, member, dense, structured_args(log_w), backend or "")
