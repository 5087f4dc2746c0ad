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
from tqdm.auto import tqdm

from .._checks import as_dim, check_float_matrix
from .._resources import check_fits
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


def _set_list(sets) -> list:
    """``sets`` as a list of sets; a tensor must be a 2-D integer tensor of dims (one row a set)."""
    if isinstance(sets, torch.Tensor):
        if sets.dtype == torch.bool:
            raise ValueError(
                "sets is a boolean mask; pass each set's dims instead (for a D x S mask m: "
                "[m[:, s].nonzero().flatten().tolist() for s in range(m.shape[1])])"
            )
        if sets.is_floating_point() or sets.is_complex():
            raise ValueError(f"sets is a {sets.dtype} tensor; dims are integers: pass an integer tensor or lists")
        if sets.dim() != 2:
            raise ValueError(
                f"sets is a {sets.dim()}-D tensor; pass a 2-D tensor with one set per row, or a list of sets "
                "(a single set [0, 1] is [[0, 1]])"
            )
        return sets.tolist()
    if isinstance(sets, (str, bytes)) or not hasattr(sets, "__iter__"):
        raise ValueError(f"sets must be a sequence of sets of dims, got {sets!r}")
    return list(sets)


def sets_to_membership(sets, n_dims: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The ``n_dims x S`` 0/1 matrix whose column s marks the dims of ``sets[s]``."""
    sets = _set_list(sets)
    if not sets:
        raise ValueError("sets is empty; pass at least one set of dims")
    member = torch.zeros(n_dims, len(sets), dtype=dtype, device=device)
    for s, dims in enumerate(sets):
        if isinstance(dims, torch.Tensor) and (dims.dim() != 1 or dims.is_floating_point() or dims.dtype == torch.bool):
            raise ValueError(f"sets[{s}] must be a 1-D integer tensor or list of dims, got a {dims.dtype} tensor")
        if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
            raise ValueError(f"sets[{s}] must be an iterable of dims, got {dims!r} (a single set [0, 1] is [[0, 1]])")
        dims = [as_dim(d, f"sets[{s}]") for d in dims]
        if not dims:
            raise ValueError(f"sets[{s}] is empty; every set needs at least one dim")
        for d in dims:
            if not 0 <= d < n_dims:
                raise ValueError(f"sets[{s}] holds dim {d}, out of range for D={n_dims} (0..{n_dims - 1})")
        if len(set(dims)) != len(dims):
            raise ValueError(f"sets[{s}] repeats a dim: {dims}")
        member[dims, s] = 1.0
    return member


#: the largest D x S set membership one pass builds: more sets (thousands of dims, a long decomposition) are
#: evaluated in chunks of sets, each a pass of its own, with a progress bar on a terminal
MEMBERSHIP_ELEMENTS = 1 << 24


def memory_bytes(B: int, M: int, D: int, S: int) -> float:
    """What one call holds beyond its inputs, in float64 at most: the D x S set membership (three copies:
    float64, the compute dtype, transposed), the M x S per-component constants, the B x S output and its
    gradient, the D x M layouts of mu and 1/var, and one tile of the chunked path."""
    from .chunked import TILE_ELEMENTS

    return 8.0 * (3 * D * S + 2 * M * S + 2 * B * S + 4 * D * M + 4 * TILE_ELEMENTS)


#: below this many bytes a call is not checked against the free memory (reading it costs more than the call)
CHECKED_BYTES = 1 << 28


def check_memory(B: int, M: int, D: int, S: int, device) -> None:
    """Refuse a call whose working memory cannot fit, before anything is allocated."""
    needed = memory_bytes(B, M, D, S)
    if needed < CHECKED_BYTES or torch.compiler.is_compiling():
        return
    check_fits(
        needed,
        f"group_logsumexp on B={B} points, M={M} components, D={D} dims and S={S} sets",
        "use fewer sets (a shorter decomposition), fewer dims, or fewer points or components",
        device,
    )


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
    sets = _set_list(sets)
    D = z.shape[1]
    per_chunk = max(1, MEMBERSHIP_ELEMENTS // D)  # sets whose D x S membership stays within the budget
    check_memory(z.shape[0], mu.shape[0], D, min(len(sets), per_chunk), z.device)
    dense = log_w if isinstance(log_w, torch.Tensor) else None
    if len(sets) <= per_chunk:  # every training step: one pass, nothing a compiled graph could not trace
        member = sets_to_membership(sets, D, dtype=torch.float64, device=z.device)
        return group_logsumexp_op(z, mu, logvar, member, dense, structured_args(log_w), backend or "")
    parts = []
    for start in tqdm(range(0, len(sets), per_chunk), desc="sets", leave=False, disable=None):
        member = sets_to_membership(sets[start : start + per_chunk], D, dtype=torch.float64, device=z.device)
        parts.append(group_logsumexp_op(z, mu, logvar, member, dense, structured_args(log_w), backend or ""))
    return torch.cat(parts, dim=1)
