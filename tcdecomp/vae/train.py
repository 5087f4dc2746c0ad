"""Training loop: deterministic seeds, JSONL metrics, atomic checkpoints, exact resume on CPU.

Data parallel under torchrun (``tcdecomp train --nproc N``, or ``torchrun ... -m tcdecomp
train``): every process draws the same global batch order, renders its own slice of
``train.batch_size / world`` images, and the loss sees the global batch through
:mod:`tcdecomp.distributed`; DDP averages the gradients (nccl on GPUs, gloo on CPU).
Process 0 writes the metrics (means over processes) and the checkpoints, which hold every
process's RNG state, so a resume with the same number of processes continues exactly.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import distributed as dist
from tqdm.auto import tqdm

from ..distributed import mean_over_processes

from .config import Config
from .data import (
    DSPRITES_FACTORS,
    DSPRITES_SIZES,
    FactorDataset,
    ProceduralDSprites,
    load_3dshapes,
    load_cars3d,
    load_dsprites_npz,
)
from .losses import build_loss
from .models import build_vae

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
SPLIT_SEED = 20240611  # fixed, so every training seed shares one train / held-out split


def build_dataset(cfg) -> FactorDataset:
    if cfg.name == "dsprites" and cfg.path is None:
        subset = {}
        for factor, spec in cfg.subset.items():
            size = dict(zip(DSPRITES_FACTORS, DSPRITES_SIZES)).get(factor)
            if size is None:
                raise ValueError(f"data.subset has unknown factor {factor!r}; use {DSPRITES_FACTORS}")
            subset[factor] = range(0, size, spec) if isinstance(spec, int) else spec
        return ProceduralDSprites(subset)
    loaders = {"dsprites": load_dsprites_npz, "3dshapes": load_3dshapes, "cars3d": load_cars3d}
    if cfg.name not in loaders:
        raise ValueError(f"data.name must be one of {sorted(loaders)}, got {cfg.name!r}")
    if cfg.path is None:
        raise ValueError(f"data.name={cfg.name!r} needs data.path to the file you have")
    return loaders[cfg.name](cfg.path)


def split_indices(n: int, holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random (train, held-out) split of range(n)."""
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"data.holdout must be in [0, 1), got {holdout}")
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = int(round(holdout * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


@dataclass
class Run:
    """Everything a training run or an evaluation needs."""

    config: Config
    dataset: FactorDataset
    train_idx: np.ndarray
    test_idx: np.ndarray
    model: torch.nn.Module
    loss: object
    optimizer: torch.optim.Optimizer


def build_run(config: Config) -> Run:
    torch.manual_seed(config.train.seed)
    dataset = build_dataset(config.data)
    train_idx, test_idx = split_indices(len(dataset), config.data.holdout)
    if config.train.batch_size > len(train_idx):
        raise ValueError(f"train.batch_size={config.train.batch_size} exceeds the {len(train_idx)} training images")
    model = build_vae(config.model.arch, config.model.latent_dim, config.model.capacity,
                      dataset.image_shape, dataset.likelihood).to(config.train.device)
    params = {k: v for k, v in config.loss.items() if k != "name"}
    loss = build_loss(config.loss["name"], dataset_size=len(train_idx), latent_dim=config.model.latent_dim, **params)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr)
    return Run(config, dataset, train_idx, test_idx, model, loss, optimizer)


@dataclass
class Processes:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_processes(device: str) -> Processes:
    """Join the process group torchrun describes (WORLD_SIZE > 1), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes()
    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        started = True
    return Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), started)


class _Wrapped:
    """A DDP-wrapped VAE that still answers the VAE's own methods (log_likelihood, ...)."""

    def __init__(self, ddp):
        self.ddp = ddp

    def __call__(self, x):
        return self.ddp(x)

    def __getattr__(self, name):
        return getattr(self.ddp.module, name)


def _rng_states(procs: Processes) -> list:
    state = torch.get_rng_state()
    if procs.world == 1:
        return [state]
    states = [None] * procs.world
    dist.all_gather_object(states, state)
    return states


def save_checkpoint(path: Path, run: Run, step: int, generator: torch.Generator, order, pos: int,
                    rng_states: list | None = None) -> None:
    """Model, optimiser, loss state, step and every RNG state; written to a temp file, then renamed."""
    state = {
        "config": run.config.to_dict(),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "loss": run.loss.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
        "torch_rng_ranks": rng_states or [torch.get_rng_state()],
        "generator": generator.get_state(),
        "order": order,
        "pos": pos,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=False)


def _truncate_metrics(path: Path, step: int) -> None:
    # A killed run may have logged past its last checkpoint; those steps will be redone.
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def train(config: Config, resume: bool = False, progress: bool = True) -> Run:
    """Train ``config``; with ``resume`` continue from ``out_dir/checkpoint.pt`` (exactly, on CPU)."""
    cfg = config.train
    procs = start_processes(cfg.device)
    if cfg.batch_size % procs.world:
        raise ValueError(f"train.batch_size={cfg.batch_size} must be divisible by the {procs.world} processes")
    local = cfg.batch_size // procs.world
    device = f"cuda:{procs.local_rank}" if procs.world > 1 and cfg.device == "cuda" else cfg.device
    if device.startswith("cuda:"):
        torch.cuda.set_device(device)
    run = build_run(config)
    run.model.to(device)
    run.loss.distributed = procs.world > 1
    if procs.world > 1:  # a different noise stream per process; the weights start equal (same seed)
        torch.manual_seed(cfg.seed * 1_000_003 + procs.rank)
    model = run.model
    if procs.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = _Wrapped(DistributedDataParallel(run.model, device_ids=[device] if device.startswith("cuda") else None))
    out = Path(cfg.out_dir)
    generator = torch.Generator().manual_seed(cfg.seed)
    step, order, pos = 0, None, 0
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    if procs.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.loss.load_state_dict(state["loss"])
        step, order, pos = state["step"], state["order"], state["pos"]
        states = state.get("torch_rng_ranks", [state["torch_rng"]])
        if len(states) == procs.world:
            torch.set_rng_state(states[procs.rank])
        else:
            log.warning("checkpoint from %d processes resumed on %d: noise streams restart", len(states), procs.world)
        generator.set_state(state["generator"])
        if procs.main:
            _truncate_metrics(metrics_path, step)
        log.info("resumed %s at step %d", out, step)
    elif procs.main and metrics_path.exists():
        metrics_path.unlink()
    run.model.train()
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and procs.main), desc="train", dynamic_ncols=True)
    train_idx = torch.from_numpy(run.train_idx)
    with open(metrics_path, "a") if procs.main else open(os.devnull, "w") as metrics:
        while step < cfg.steps:
            if order is None or pos + cfg.batch_size > len(order):
                order, pos = train_idx[torch.randperm(len(train_idx), generator=generator)], 0
            batch = order[pos + procs.rank * local:pos + (procs.rank + 1) * local].numpy()
            pos += cfg.batch_size
            x = run.dataset.images(batch).to(device)
            total, parts = run.loss(model, x)
            run.optimizer.zero_grad(set_to_none=True)
            total.backward()
            run.optimizer.step()
            run.loss.after_step(run.loss.last_output)
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                parts = mean_over_processes(parts)
                metrics.write(json.dumps({"step": step, **parts}) + "\n")
                metrics.flush()
                bar.set_postfix({k: f"{v:.3g}" for k, v in parts.items() if k in ("loss", "recon", "mi", "tc", "kl")})
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                states = _rng_states(procs)
                if procs.main:
                    save_checkpoint(ckpt_path, run, step, generator, order, pos, states)
                if procs.world > 1:
                    dist.barrier()
            bar.update(1)
    bar.close()
    if procs.started_group:
        dist.destroy_process_group()
    return run


def restore(checkpoint) -> Run:
    """The run stored in a checkpoint (path or folder), model weights loaded, in eval mode."""
    state = load_checkpoint(checkpoint)
    run = build_run(Config.from_dict(state["config"]))
    run.model.load_state_dict(state["model"])
    run.model.eval()
    return run
