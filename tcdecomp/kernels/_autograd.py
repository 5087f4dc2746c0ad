"""What the chunked and Triton autograd Functions share: saving inputs, restoring them, casting grads."""
from __future__ import annotations

import torch


def save_inputs(ctx, z, mu, logvar, dense_log_w, member, structured_log_w, out) -> None:
    """Keep only the inputs and the B x S output: the backward recomputes the rest."""
    ctx.save_for_backward(z, mu, logvar, dense_log_w if dense_log_w is not None else torch.empty(0), member, out)
    ctx.structured = structured_log_w
    ctx.has_dense = dense_log_w is not None


def saved_inputs(ctx):
    """(z, mu, logvar, dense_log_w or None, member, out, log_w as passed to the kernels)."""
    z, mu, logvar, dense, member, out = ctx.saved_tensors
    dense = dense if ctx.has_dense else None
    log_w = ctx.structured if ctx.structured is not None else dense
    return z, mu, logvar, dense, member, out, log_w


def input_grads(ctx, z, mu, logvar, dense, dz, dmu, dlogvar, dlog_w) -> tuple:
    """Gradients for (z, mu, logvar, dense_log_w) in their inputs' dtypes, None where not needed."""
    need = ctx.needs_input_grad
    return (
        dz.to(z.dtype) if need[0] else None,
        dmu.to(mu.dtype) if need[1] else None,
        dlogvar.to(logvar.dtype) if need[2] else None,
        dlog_w.to(dense.dtype) if dlog_w is not None else None,
    )
