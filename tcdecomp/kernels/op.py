"""``tcdecomp::group_logsumexp``: the grouped log-density logsumexp as a torch.library custom op.

One op with a fake (meta) implementation and a registered autograd formula, so an eager call and a
``torch.compile`` graph (``fullgraph=True`` included) both see one opaque node. Its implementation
reads the data (the float64 promotion test, NaN/inf and log_w checks, the backend) and then runs the
chunked torch path or the Triton kernel. The backward is a second op, ``group_logsumexp_backward``,
which recomputes each tile from the inputs and the saved B x S output. Double backward
(``create_graph=True``) differentiates a plain torch recomputation instead (B x M x D memory).

Structured weights travel as four floats (own, designated, rest, period); no weights as none.
"""

from __future__ import annotations

import torch

from . import chunked, fused_cpu
from .dispatch import check_log_w_values, needs_float64, resolve_backend
from .weights import StructuredLogWeights


def structured_args(log_w) -> list[float]:
    """StructuredLogWeights as the op's four floats; [] for none or dense weights."""
    if isinstance(log_w, StructuredLogWeights):
        return [log_w.own, log_w.designated, log_w.rest, float(log_w.period)]
    return []


def _weights(log_w, structured: list[float]):
    if structured:
        own, designated, rest, period = structured
        return StructuredLogWeights(own, designated, rest, int(period))
    return log_w


def _output_dtype(z: torch.Tensor) -> torch.dtype:
    return torch.float64 if z.dtype == torch.float64 else torch.float32


def _path(z, mu, logvar, backend: str) -> tuple[str, torch.dtype]:
    """(backend, compute dtype) of this call; raises on values no precision can evaluate."""
    promote = needs_float64(z, mu, logvar)
    compute = torch.float64 if promote or z.dtype == torch.float64 else torch.float32
    return resolve_backend(z, backend, promote), compute


def _chunked_forward(z, mu, logvar, member, weights, compute):
    z, mu, logvar, member = (t.to(compute) for t in (z, mu, logvar, member))
    if fused_cpu.applies(z, mu.shape[0], weights):
        out = fused_cpu.forward(z, mu, logvar, member)
        if out is not None:
            return out
    return chunked.forward(z, mu, logvar, member, weights)


@torch.library.custom_op("tcdecomp::group_logsumexp", mutates_args=())
def group_logsumexp_op(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    member: torch.Tensor,
    log_w: torch.Tensor | None,
    structured: list[float],
    backend: str,
) -> torch.Tensor:
    """B x S log-densities; ``member`` is the D x S 0/1 set-membership matrix."""
    path, compute = _path(z, mu, logvar, backend)
    if log_w is not None:
        check_log_w_values(log_w)
    weights = _weights(log_w, structured)
    if path == "triton":
        from . import triton_glse

        return triton_glse.forward(triton_glse.Prepared(z, mu, logvar, member.float(), weights))
    out = _chunked_forward(z, mu, logvar, member, weights, compute).to(_output_dtype(z))
    if compute != out.dtype and not bool(torch.isfinite(out).all()):
        raise ValueError(
            "some rows of z lie so far from every component that log q(z) falls below float32's range; "
            "pass float64 z, mu and logvar"
        )
    return out


@group_logsumexp_op.register_fake
def _(z, mu, logvar, member, log_w, structured, backend):
    return z.new_empty((z.shape[0], member.shape[1]), dtype=_output_dtype(z))


@torch.library.custom_op("tcdecomp::group_logsumexp_backward", mutates_args=())
def group_logsumexp_backward_op(
    grad_out: torch.Tensor,
    out: torch.Tensor,
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    member: torch.Tensor,
    log_w: torch.Tensor | None,
    structured: list[float],
    backend: str,
    want: list[bool],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients for (z, mu, logvar, log_w), each in its input's dtype; an empty tensor where ``want`` is False."""
    path, compute = _path(z, mu, logvar, backend)
    weights = _weights(log_w, structured)
    want_log_w = want[3] and log_w is not None
    if path == "triton":
        from . import triton_glse

        prep = triton_glse.Prepared(z, mu, logvar, member.float(), weights)
        grads = triton_glse.backward(prep, out, grad_out, want[0], want[1] or want[2], want_log_w)
    else:
        if compute != out.dtype:  # the softmax weights need the output at compute precision, not rounded
            out = _chunked_forward(z, mu, logvar, member, weights, compute)
        c = [t.to(compute) for t in (z, mu, logvar, member, out, grad_out)]
        grads = chunked.backward(c[0], c[1], c[2], c[3], weights, c[4], c[5], want_log_w)
    inputs = (z, mu, logvar, log_w)
    return tuple(
        g.to(t.dtype).contiguous() if w and g is not None else z.new_empty(0)
        for g, t, w in zip(grads, inputs, (want[0], want[1], want[2], want_log_w))
    )


@group_logsumexp_backward_op.register_fake
def _(grad_out, out, z, mu, logvar, member, log_w, structured, backend, want):
    want_log_w = want[3] and log_w is not None
    inputs = (z, mu, logvar, log_w)
    return tuple(
        torch.empty_like(t) if w else z.new_empty(0) for t, w in zip(inputs, (want[0], want[1], want[2], want_log_w))
    )


def _setup_context(ctx, inputs, output):
    z, mu, logvar, member, log_w, structured, backend = inputs
    ctx.save_for_backward(z, mu, logvar, member, log_w, output)
    ctx.structured, ctx.backend = structured, backend


def _backward(ctx, grad_out):
    z, mu, logvar, member, log_w, out = ctx.saved_tensors
    need = ctx.needs_input_grad
    want = [need[0], need[1], need[2], log_w is not None and need[4]]
    if torch.is_grad_enabled():  # create_graph=True: differentiate a recomputation instead
        grads = _differentiable_grads(want, z, mu, logvar, member, log_w, ctx.structured, grad_out)
    else:
        found = group_logsumexp_backward_op(
            grad_out, out, z, mu, logvar, member, log_w, ctx.structured, ctx.backend, want
        )
        grads = [g if w else None for g, w in zip(found, want)]
    return grads[0], grads[1], grads[2], None, grads[3], None, None


def _differentiable_grads(want, z, mu, logvar, member, log_w, structured, grad_out) -> list:
    """Gradients for (z, mu, logvar, log_w) that are themselves differentiable (double backward).

    The inputs enter through aliases, so each gradient is the partial derivative with respect
    to that argument alone, even when, say, z was computed from mu."""
    _, compute = _path(z, mu, logvar, "torch")
    with torch.enable_grad():
        aliases = [t.view_as(t) if t is not None else None for t in (z, mu, logvar, log_w)]
        wanted = [i for i in range(4) if want[i]]
        weights = aliases[3] if log_w is not None else _weights(None, structured)
        out = chunked.differentiable_group_logsumexp(aliases[0], aliases[1], aliases[2], member, weights, compute)
        found = torch.autograd.grad(
            out, [aliases[i] for i in wanted], grad_out.to(out.dtype), create_graph=True, allow_unused=True
        )
    grads = [None] * 4
    inputs = (z, mu, logvar, log_w)
    for i, g in zip(wanted, found):
        grads[i] = (torch.zeros_like(inputs[i]) if g is None else g).to(inputs[i].dtype)
    return grads


torch.library.register_autograd(group_logsumexp_op, _backward, setup_context=_setup_context)
