"""Chunked torch implementation of the grouped log-density logsumexp (docs/math.md#the-kernel).

    out[b, s] = logsumexp_m ( log_w[b, m] + sum_{k in sets[s]} log N(z_bk; mu_mk, exp(logvar_mk)) )

It walks (b, m) tiles, so the B x M x D tensor of per-dim log densities never
exists: extra memory is O(B S) plus one tile. The backward recomputes each tile's
densities from the inputs and the saved output (as FlashAttention does) instead of
saving them. The quadratic uses the direct form ``(z - mu)^2 exp(-logvar)``: the
expanded matmul form loses precision for small variances and large means.
"""

from __future__ import annotations

import math
import warnings

import torch

from .._constants import LOG_2PI
from .weights import StructuredLogWeights

#: elements of one (rows x max(D, S) x cols) tile: about 2 MiB in float32.
TILE_ELEMENTS = 1 << 19
#: rows of z per tile; columns (components) fill the rest of the tile.
TILE_ROWS = 32
#: exponents are clamped here before exp: torch's CPU exp is over 10x slower on arguments
#: whose result is subnormal or zero, and a term below e^-80 of the largest changes nothing.
EXP_FLOOR = -80.0


def _exp_shifted_(a: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """exp(max(a - shift, EXP_FLOOR)), overwriting ``a``."""
    return a.sub_(shift).clamp_(min=EXP_FLOOR).exp_()


def _logsumexp_last_(a: torch.Tensor) -> torch.Tensor:
    """logsumexp over the last axis (overwriting ``a``); -inf where every entry is -inf.

    Entries more than 80 below their row's maximum count as e^-80 of it: a relative
    change below M e^-80, far under float32 resolution for any realistic M."""
    top = a.amax(dim=-1, keepdim=True)
    finite = torch.isfinite(top)
    top = torch.where(finite, top, torch.zeros_like(top))
    lse = _exp_shifted_(a, top).sum(-1).log_().add_(top.squeeze(-1))
    return lse.masked_fill_(~finite.squeeze(-1), -math.inf)


#: on a GPU the torch path is a fallback whose cost is kernel launches: far larger tiles.
CUDA_TILE_ELEMENTS = 1 << 25
CUDA_TILE_ROWS = 1024


def tile_shape(B: int, M: int, width: int, device=None) -> tuple[int, int]:
    """Rows and columns of a (b, m) tile of about TILE_ELEMENTS elements once widened to ``width``."""
    on_gpu = device is not None and torch.device(device).type == "cuda"
    budget, max_rows = (CUDA_TILE_ELEMENTS, CUDA_TILE_ROWS) if on_gpu else (TILE_ELEMENTS, TILE_ROWS)
    width = max(width, 1)
    rows = max(1, min(B, max_rows, budget // width))
    cols = max(1, min(M, budget // (rows * width)))
    return rows, cols


def _tile_log_w(log_w, b0, b1, m0, m1, dtype, device):
    if log_w is None:
        return None
    if isinstance(log_w, StructuredLogWeights):
        return log_w.tile(b0, b1, m0, m1, dtype, device)
    return log_w[b0:b1, m0:m1].to(dtype)


#: a membership this sparse (share of ones), and this large, sums its sets with a sparse product: thousands of
#: dims in a long decomposition put most sets on few dims, and a dense product would multiply mostly zeros
SPARSE_DENSITY = 0.05
SPARSE_ELEMENTS = 1 << 20


def _set_sums(weights, values: torch.Tensor) -> torch.Tensor:
    """``weights @ values`` for a (P x Q) weight matrix, dense or sparse CSR, and values (R x Q x C): R x P x C."""
    if not weights.is_sparse_csr:
        return torch.matmul(weights, values)
    R, Q, C = values.shape
    flat = values.permute(1, 0, 2).reshape(Q, R * C)
    return (weights @ flat).reshape(weights.shape[0], R, C).permute(1, 0, 2)


def _maybe_sparse(matrix: torch.Tensor) -> torch.Tensor:
    """``matrix`` as sparse CSR where it is large and mostly zeros (CPU only), else as it is."""
    if matrix.device.type != "cpu" or matrix.numel() < SPARSE_ELEMENTS:
        return matrix
    if float((matrix != 0).sum()) > SPARSE_DENSITY * matrix.numel():
        return matrix
    with warnings.catch_warnings():  # torch's note that CSR support is in beta: the two products used here are not
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return matrix.to_sparse_csr()


class _Columns:
    """Per-component quantities laid out dims-first (D x M), so that a tile's innermost,
    contiguous axis runs over components and every reduction over them is contiguous."""

    def __init__(self, mu, logvar, member):
        self.mu = mu.t().contiguous()
        self.inv_var = torch.exp(-logvar).t().contiguous()
        self.const = ((-0.5 * (logvar + LOG_2PI)) @ member).t().contiguous()  # S x M
        self.member_half_t = _maybe_sparse((-0.5 * member).t().contiguous())  # S x D
        self.member = _maybe_sparse(member)  # D x S, for the backward

    def exponent(self, zb, m0, m1, lw, keep=False):
        """a[r, s, c] = log_w + sum_{k in s} log N(z_rk; mu_ck, var_ck), for one tile.

        With ``keep`` also returns (z - mu) / var and (z - mu)^2 / var, which the backward reuses."""
        diff = zb[:, :, None] - self.mu[None, :, m0:m1]
        if keep:
            scaled = diff * self.inv_var[None, :, m0:m1]
            quad = diff * scaled
        else:
            scaled, quad = None, diff.square_().mul_(self.inv_var[None, :, m0:m1])
        a = _set_sums(self.member_half_t, quad)
        a += self.const[None, :, m0:m1]
        if lw is not None:
            a += lw[:, None, :]
        return a, scaled, quad


def differentiable_group_logsumexp(z, mu, logvar, member, log_w, compute_dtype):
    """The same values from plain torch ops, every intermediate kept for autograd (B x M x D memory).

    Used only for double backward, where the recomputing backward itself must be differentiated."""
    z_, mu_, lv_, member_ = (t.to(compute_dtype) for t in (z, mu, logvar, member))
    B, D = z_.shape
    M, S = mu_.shape[0], member_.shape[1]
    const = (-0.5 * (lv_ + LOG_2PI)) @ member_  # M x S
    inv_var = torch.exp(-lv_)
    rows = max(1, TILE_ELEMENTS // max(M * max(D, S), 1))
    parts = []
    for b0 in range(0, B, rows):
        b1 = min(B, b0 + rows)
        diff = z_[b0:b1, None, :] - mu_[None]
        a = torch.matmul(diff * diff * inv_var[None], -0.5 * member_) + const[None]
        lw = _tile_log_w(log_w, b0, b1, 0, M, compute_dtype, z_.device)
        if lw is not None:
            a = a + lw[:, :, None]
        parts.append(torch.logsumexp(a, dim=1))
    return torch.cat(parts)


def forward(z, mu, logvar, member, log_w):
    """Online logsumexp over column tiles: each tile's logsumexp is merged into a running one."""
    B, D = z.shape
    M, S = mu.shape[0], member.shape[1]
    cols_data = _Columns(mu, logvar, member)
    out = torch.empty(B, S, dtype=z.dtype, device=z.device)
    rows, cols = tile_shape(B, M, max(D, S), z.device)
    for b0 in range(0, B, rows):
        b1 = min(B, b0 + rows)
        acc = None
        for m0 in range(0, M, cols):
            m1 = min(M, m0 + cols)
            lw = _tile_log_w(log_w, b0, b1, m0, m1, z.dtype, z.device)
            a, _, _ = cols_data.exponent(z[b0:b1], m0, m1, lw)
            lse = _logsumexp_last_(a)
            acc = lse if acc is None else torch.logaddexp(acc, lse)
        out[b0:b1] = acc
    return out


def backward(z, mu, logvar, member, log_w, out, grad_out, want_log_w):
    """Gradients from the softmax weights p[b, s, m] = exp(a[b, s, m] - out[b, s]) times the upstream
    gradient, recomputing each tile's exponent instead of storing it."""
    B, D = z.shape
    M, S = mu.shape[0], member.shape[1]
    cols_data = _Columns(mu, logvar, member)
    # A set whose every weight is -inf has out = -inf and no gradient; keep exp() away from NaN there.
    finite = torch.isfinite(out)
    out_safe = torch.where(finite, out, torch.zeros_like(out))
    grad_safe = torch.where(finite, grad_out, torch.zeros_like(grad_out))
    dz = torch.zeros_like(z)
    dmu_t = torch.zeros(D, M, dtype=z.dtype, device=z.device)
    dlogvar_t = torch.zeros(D, M, dtype=z.dtype, device=z.device)
    dlog_w = torch.zeros(B, M, dtype=z.dtype, device=z.device) if want_log_w else None
    rows, cols = tile_shape(B, M, max(D, S), z.device)
    for b0 in range(0, B, rows):
        b1 = min(B, b0 + rows)
        for m0 in range(0, M, cols):
            m1 = min(M, m0 + cols)
            lw = _tile_log_w(log_w, b0, b1, m0, m1, z.dtype, z.device)
            a, scaled, quad = cols_data.exponent(z[b0:b1], m0, m1, lw, keep=True)
            weight = _exp_shifted_(a, out_safe[b0:b1, :, None]).mul_(grad_safe[b0:b1, :, None])
            g = _set_sums(cols_data.member, weight)  # R x D x C: each dim collects the weights of its sets
            gs = g * scaled
            dz[b0:b1] -= gs.sum(2)
            dmu_t[:, m0:m1] += gs.sum(0)
            dlogvar_t[:, m0:m1] += 0.5 * ((g * quad).sum(0) - g.sum(0))
            if dlog_w is not None:
                dlog_w[b0:b1, m0:m1] = weight.sum(1)
    return dz, dmu_t.t(), dlogvar_t.t(), dlog_w
