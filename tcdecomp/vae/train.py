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
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import distributed as dist
from tqdm.auto import tqdm

from .._resources import check_fits
from ..distributed import leave_process_group, mean_over_processes
from ..files import DirectoryLock, atomic_write_text, one_line, read_jsonl
from .checkpoint import CHECKPOINT, check_finite_state, load_checkpoint, save_checkpoint
from .config import RESUMABLE_KEYS, Config, changed_keys, check_config, check_device_available, resolved
from .data import DeviceImageCache, FactorDataset, build_dataset
from .models import DEFAULT_CAPACITY, build_vae
from .run_folder import (
    CONFIG_FILE,
    EVALUATION,
    EVALUATION_OUTPUTS,
    METRICS,
    TRAINING_OUTPUTS,
    claim,
    refuse_sweep_store,
)

log = logging.getLogger(__name__)

SPLIT_SEED = 20240611  # fixed, so every training seed shares one train / held-out split


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
    """Data, split, model, loss and optimiser of ``config``, after every check that needs no training."""
    check_device_available(config.train.device)
    torch.manual_seed(config.train.seed)
    dataset = build_dataset(config.data)
    train_idx, test_idx = split_indices(len(dataset), config.data.holdout)
    check_model_fits(config, dataset.image_shape)
    model = build_vae(
        config.model.arch, config.model.latent_dim, config.model.capacity, dataset.image_shape, dataset.likelihood
    ).to(config.train.device)
    loss = check_config(config, dataset_size=len(train_idx))  # checks, and builds the loss once
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr)
    return Run(config, dataset, train_idx, test_idx, model, loss, optimizer)


#: bytes a parameter costs in training: its value, its gradient and Adam's two moments, in float32
BYTES_PER_PARAMETER = 16
#: bytes a pixel of a batch costs: the image drawn in float64 with its coordinate grids, the float32 input, the
#: reconstruction and their gradients
BYTES_PER_BATCH_PIXEL = 64


def check_model_fits(config: Config, image_shape) -> None:
    """Refuse a model or batch that cannot fit the training device, before anything is allocated: the model is
    built on the meta device (shapes only) to count its parameters."""
    try:
        with torch.device("meta"):
            meta = build_vae(config.model.arch, config.model.latent_dim, config.model.capacity, image_shape)
    except RuntimeError:  # a weight's size overflows 64 bits: no machine holds it
        raise ValueError(
            f"model.capacity={config.model.capacity} gives weights too large to address; lower model.capacity"
        ) from None
    parameters = sum(p.numel() for p in meta.parameters())
    capacity = config.model.capacity or DEFAULT_CAPACITY[config.model.arch]
    pixels = config.train.batch_size * int(np.prod(image_shape))
    check_fits(
        BYTES_PER_PARAMETER * parameters + BYTES_PER_BATCH_PIXEL * pixels,
        f"training {config.model.arch} with model.capacity={capacity} ({parameters:,} parameters) on "
        f"batches of {config.train.batch_size} images of {'x'.join(str(s) for s in image_shape)}",
        "lower model.capacity, train.batch_size or data.image_size",
        config.train.device,
    )


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


class DDPModel:
    """A DistributedDataParallel VAE that still answers the VAE's own methods (log_likelihood, ...)."""

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


@dataclass
class Position:
    """Where training stands: the step, the current epoch's order of training rows, and the place in it."""

    step: int = 0
    order: torch.Tensor | None = None
    pos: int = 0


def checkpoint_state(run: Run, position: Position, generator: torch.Generator, rng_states: list) -> dict:
    """Model, optimiser, loss state, position and every RNG state, as plain types and tensors."""
    return {
        "config": run.config.to_dict(),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "loss": run.loss.state_dict(),
        "step": position.step,
        "torch_rng": torch.get_rng_state(),
        "torch_rng_ranks": rng_states,
        "generator": generator.get_state(),
        "order": position.order,
        "pos": position.pos,
        # CPU matrix products sum in a thread-count-dependent order: a resume matches an
        # uninterrupted run bit for bit only at the same count.
        "cpu_threads": torch.get_num_threads(),
    }


def _load_weights(module, state: dict, what: str, path) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            f"checkpoint {path}: its {what} state does not fit the model its config builds ({one_line(exc)})"
        ) from None


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the metrics up to the checkpoint's step: a killed run may have logged past it, and those steps
    are redone. Torn lines are skipped; the rewrite is atomic, so a kill here loses nothing."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if isinstance(r.get("step"), int) and r["step"] <= step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _resume(run: Run, out: Path, generator: torch.Generator, procs: Processes) -> Position:
    """Restore a run from ``out``'s checkpoint, refusing one whose config differs in what defines the run."""
    path = out / CHECKPOINT
    state = load_checkpoint(path)
    changed = changed_keys(resolved(state["config"]), resolved(run.config.to_dict()))
    if changed:
        raise ValueError(
            f"cannot resume {path}: the config differs in {'; '.join(changed)}; only "
            f"{', '.join(RESUMABLE_KEYS)} may change on a resume (train into another out_dir instead)"
        )
    if state["step"] > run.config.train.steps:
        raise ValueError(
            f"train.steps={run.config.train.steps} is below the checkpoint's step {state['step']}; "
            "steps can only be extended"
        )
    check_finite_state(state["model"], "model", path)
    _load_weights(run.model, state["model"], "model", path)
    _load_weights(run.optimizer, state["optimizer"], "optimizer", path)
    _load_weights(run.loss, state["loss"], "loss", path)
    try:
        states = state["torch_rng_ranks"]
        if len(states) == procs.world:
            torch.set_rng_state(states[procs.rank])
        else:
            log.warning("checkpoint from %d processes resumed on %d: noise streams restart", len(states), procs.world)
        generator.set_state(state["generator"])
        position = Position(int(state["step"]), state["order"], int(state["pos"]))
        if position.order is not None and not torch.equal(
            torch.sort(position.order).values, torch.from_numpy(run.train_idx)
        ):
            raise ValueError("its epoch order is not a permutation of this data set's training rows")
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"corrupted checkpoint {path}: its RNG or position state does not load ({one_line(exc)})"
        ) from None
    threads = state.get("cpu_threads")
    if run.config.train.device == "cpu" and threads is not None and threads != torch.get_num_threads():
        log.warning(
            "checkpoint written with %d CPU threads, resumed with %d: the weights will not match an "
            "uninterrupted run bit for bit (torch.set_num_threads(%d) for an exact resume)",
            threads,
            torch.get_num_threads(),
            threads,
        )
    if procs.main:
        _truncate_metrics(out / METRICS, state["step"])
    log.info("resumed %s at step %d", out, state["step"])
    return position


def _start(run: Run, out: Path, generator: torch.Generator, procs: Processes, resume, overwrite: bool) -> Position:
    """Resume (``resume=True`` or ``"auto"``, when a checkpoint exists) or start afresh; the folder's config.json
    then describes this run. A fresh start into a folder holding a run (a checkpoint) or an evaluation is refused
    unless ``overwrite`` (which removes them first); a killed start's leftovers go without asking."""
    has_checkpoint = (out / CHECKPOINT).exists()
    if resume and has_checkpoint:
        position = _resume(run, out, generator, procs)
    else:
        if resume is True:
            log.warning("nothing to resume in %s (no %s): starting at step 0", out, CHECKPOINT)
        if procs.main:
            # A checkpoint or a finished evaluation is a run; a config.json or metrics alone are a killed start's.
            markers = (CHECKPOINT, EVALUATION)
            hint = "pass --resume to continue it, " if has_checkpoint else ""
            claim(out, TRAINING_OUTPUTS + EVALUATION_OUTPUTS, markers, overwrite, "a run", hint)
        position = Position()
    if procs.main:
        atomic_write_text(out / CONFIG_FILE, json.dumps(run.config.to_dict(), indent=2))
    return position


def training_step(run: Run, model, x: torch.Tensor) -> dict:
    """One optimisation step of ``run`` on the images ``x``: the model (``run.model``, or its DDP wrapper), then
    the loss of its output, then the loss's own update (the bank, FactorVAE's discriminator). Returns the loss's
    parts (floats) for logging. This is what ``train`` runs each step, and what the step-time benchmarks time."""
    out = model(x)
    total, parts = run.loss(out)
    run.optimizer.zero_grad(set_to_none=True)
    total.backward()
    run.optimizer.step()
    run.loss.after_step(out)
    return parts


def _loop(
    run: Run,
    model,
    out: Path,
    generator: torch.Generator,
    procs: Processes,
    position: Position,
    device: str,
    progress: bool,
) -> None:
    cfg = run.config.train
    local = cfg.batch_size // procs.world
    bar = tqdm(
        total=cfg.steps, initial=position.step, disable=not (progress and procs.main), desc="train", dynamic_ncols=True
    )
    train_idx = torch.from_numpy(run.train_idx)
    source = run.dataset
    if DeviceImageCache.fits(run.dataset, device):
        source = DeviceImageCache(run.dataset, device)
        log.info("data set made once into %s memory", device)
    with open(out / METRICS, "a") if procs.main else open(os.devnull, "w") as metrics:
        while position.step < cfg.steps:
            if position.order is None or position.pos + cfg.batch_size > len(position.order):
                position.order, position.pos = train_idx[torch.randperm(len(train_idx), generator=generator)], 0
            batch = position.order[position.pos + procs.rank * local : position.pos + (procs.rank + 1) * local]
            position.pos += cfg.batch_size
            parts = training_step(run, model, source.images(batch.numpy(), device=device))
            position.step += 1
            if position.step % cfg.log_every == 0 or position.step == cfg.steps:
                parts = mean_over_processes(parts)
                metrics.write(json.dumps({"step": position.step, **parts}) + "\n")
                metrics.flush()
                bar.set_postfix({k: f"{v:.3g}" for k, v in parts.items() if k in ("loss", "recon", "mi", "tc", "kl")})
            if position.step % cfg.checkpoint_every == 0 or position.step == cfg.steps:
                states = _rng_states(procs)
                if procs.main:
                    save_checkpoint(out / CHECKPOINT, checkpoint_state(run, position, generator, states))
                if procs.world > 1:
                    dist.barrier()
            bar.update(1)
    bar.close()


def train(
    config: Config, resume=False, progress: bool = True, wait_for_lock: bool = False, overwrite: bool = False
) -> Run:
    """Train ``config`` into ``config.train.out_dir``.

    ``resume``: False starts afresh, refusing a folder that already holds a run or an evaluation unless
    ``overwrite`` (which removes them first: :mod:`tcdecomp.vae.run_folder`); True continues the folder's
    checkpoint exactly (on CPU at the same torch thread count), refusing a changed config; ``"auto"``
    continues when a checkpoint exists. Process 0 holds an exclusive lock on the folder for the whole run:
    a second writer fails at once (or, with ``wait_for_lock``, waits its turn, as a sweep's retried run does).
    """
    if resume not in (False, True, "auto"):
        raise ValueError(f"resume must be False, True or 'auto', got {resume!r}")
    cfg = config.train
    procs = start_processes(cfg.device)
    if cfg.batch_size % procs.world:
        raise ValueError(f"train.batch_size={cfg.batch_size} must be divisible by the {procs.world} processes")
    device = f"cuda:{procs.local_rank}" if procs.world > 1 and cfg.device == "cuda" else cfg.device
    run = build_run(config)
    out = Path(cfg.out_dir)
    refuse_sweep_store(out, "a training run")
    with DirectoryLock(out, "training", wait=wait_for_lock) if procs.main else nullcontext():
        if device.startswith("cuda:"):
            torch.cuda.set_device(device)
        run.model.to(device)
        run.loss.to(device)
        run.loss.distributed = procs.world > 1
        if procs.world > 1:  # a different noise stream per process; the weights start equal (same seed)
            torch.manual_seed(cfg.seed * 1_000_003 + procs.rank)
        model = run.model
        if procs.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            model = DDPModel(
                DistributedDataParallel(run.model, device_ids=[device] if device.startswith("cuda") else None)
            )
        generator = torch.Generator().manual_seed(cfg.seed)
        position = _start(run, out, generator, procs, resume, overwrite)
        run.model.train()
        _loop(run, model, out, generator, procs, position, device, progress)
    if procs.started_group:
        leave_process_group()
    return run


def restore(checkpoint) -> Run:
    """The run stored in a checkpoint (path or folder), model weights loaded, in eval mode.

    A run trained on a device this machine lacks is restored on the CPU."""
    state = load_checkpoint(checkpoint)
    config = Config.from_dict(state["config"])
    try:
        check_device_available(config.train.device)
    except ValueError as exc:
        log.warning("%s; evaluating on the cpu", exc)
        config.train.device = "cpu"
    run = build_run(config)
    check_finite_state(state["model"], "model", checkpoint)
    _load_weights(run.model, state["model"], "model", checkpoint)
    run.model.eval()
    return run
