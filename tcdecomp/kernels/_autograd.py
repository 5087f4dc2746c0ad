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


def differentiable_grads(ctx, z, mu, logvar, dense, member, log_w, grad_out, compute_dtype) -> tuple:
    """Gradients for (z, mu, logvar, dense_log_w) that are themselves differentiable (double backward).

    The inputs enter through aliases, so each gradient is the partial derivative with respect
    to that argument alone, even when, say, z was computed from mu."""
    from .chunked import differentiable_group_logsumexp

    need = ctx.needs_input_grad[:4]
    inputs = (z, mu, logvar, dense)
    with torch.enable_grad():
        aliases = [t.view_as(t) if t is not None else None for t in inputs]
        wanted = [i for i in range(4) if need[i] and aliases[i] is not None]
        weights = aliases[3] if dense is not None else log_w
        out = differentiable_group_logsumexp(aliases[0], aliases[1], aliases[2], member, weights, compute_dtype)
        found = torch.autograd.grad(
            out, [aliases[i] for i in wanted], grad_out.to(out.dtype), create_graph=True, allow_unused=True
        )
    grads = [None] * 4
    for i, g in zip(wanted, found):
        grads[i] = (torch.zeros_like(inputs[i]) if g is None else g).to(inputs[i].dtype)
    return tuple(grads)


def input_grads(ctx, z, mu, logvar, dense, dz, dmu, dlogvar, dlog_w) -> tuple:
    """Gradients for (z, mu, logvar, dense_log_w) in their inputs' dtypes, None where not needed."""
    need = ctx.needs_input_grad
    return (
        dz.to(z.dtype) if need[0] else None,
        dmu.to(mu.dtype) if need[1] else None,
        dlogvar.to(logvar.dtype) if need[2] else None,
        dlog_w.to(dense.dtype) if dlog_w is not None else None,
    )
