"""Data-parallel helpers (``torch.distributed``): a differentiable all-gather and the global batch.

Under data parallelism each process holds B_local rows of a global batch of
B_global = world x B_local. The minibatch TC estimators need every component of the
global batch, so each process gathers the posteriors (mu, logvar) of all processes and
evaluates ``log q^`` of its own samples against them: B_local x B_global tiles per
process, never B_global x B_global.

Gradients: :func:`all_gather_rows` sums, in its backward, every process's gradient for
each slice and hands each process its own slice. With DDP's averaging of parameter
gradients this gives exactly the gradient of the mean over processes of the local
losses, which (with equal local batches) is the single-process loss of the global batch.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import torch
from torch import distributed as dist


def world_rank() -> tuple[int, int]:
    if not (dist.is_available() and dist.is_initialized()):
        return 1, 0
    return dist.get_world_size(), dist.get_rank()


class _AllGatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        world, rank = world_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.rows = rank, x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def _check_equal_rows(x: torch.Tensor) -> None:
    world, _ = world_rank()
    rows = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    every = [torch.empty_like(rows) for _ in range(world)]
    dist.all_gather(every, rows)
    sizes = [int(r) for r in every]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"every process needs the same local batch size for the global-batch estimators, got {sizes}; "
            "drop the last uneven batch (e.g. DistributedSampler(drop_last=True))"
        )


def all_gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(the rows of every process concatenated in rank order, this process's first row in it).

    Differentiable (see the module docstring); the identity without a process group.
    """
    world, rank = world_rank()
    if world == 1:
        return x, 0
    _check_equal_rows(x)
    return _AllGatherRows.apply(x), rank * x.shape[0]


def global_components(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch's posteriors, rotated so that local row b's own component is column b.

    The rotation keeps the structured minibatch weights (own = column b, designated =
    column b + 1 mod B_global) of the single-process estimators valid for local rows.
    """
    mu_all, offset = all_gather_rows(mu)
    logvar_all, _ = all_gather_rows(logvar)
    if offset:
        mu_all, logvar_all = torch.roll(mu_all, -offset, 0), torch.roll(logvar_all, -offset, 0)
    return mu_all, logvar_all


def require_process_group() -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            "distributed=True needs torch.distributed.init_process_group(...) first (torchrun sets it "
            "up for `tcdecomp train --nproc N`); leave distributed=False for one process"
        )


def average_gradients(parameters) -> None:
    """All-reduce-average the gradients of parameters that DDP does not manage (e.g. a discriminator)."""
    world, _ = world_rank()
    if world == 1:
        return
    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def mean_over_processes(values: dict) -> dict:
    """The mean of each float over processes (for logging); unchanged for one process."""
    world, _ = world_rank()
    if world == 1 or not values:
        return values
    keys = sorted(values)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) / world for k, v in zip(keys, t)}


def leave_process_group() -> None:
    """Wait until every process is done, then destroy the default process group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def end_worker_process(code: int = 0) -> NoReturn:
    """End a worker process of a finished data-parallel run without interpreter finalisation.

    Why: once DistributedDataParallel has run, torch's gloo process group outlives
    ``destroy_process_group`` (its worker threads keep running), and a worker thread that drops
    the last reference to a finished collective's tensor while the interpreter finalises must
    take the GIL, which then aborts the process (SIGABRT, "terminate called without an active
    exception") after all the work was done and saved. Skipping finalisation closes that race;
    everything this package writes is flushed and closed before this is called.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
