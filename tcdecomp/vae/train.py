"""Training loop: deterministic seeds, JSONL metrics, atomic checkpoints, exact resume on CPU."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

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


def save_checkpoint(path: Path, run: Run, step: int, generator: torch.Generator, order, pos: int) -> None:
    """Model, optimiser, loss state, step and every RNG state; written to a temp file, then renamed."""
    state = {
        "config": run.config.to_dict(),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "loss": run.loss.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
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
    run = build_run(config)
    cfg = config.train
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    generator = torch.Generator().manual_seed(cfg.seed)
    step, order, pos = 0, None, 0
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.loss.load_state_dict(state["loss"])
        step, order, pos = state["step"], state["order"], state["pos"]
        torch.set_rng_state(state["torch_rng"])
        generator.set_state(state["generator"])
        _truncate_metrics(metrics_path, step)
        log.info("resumed %s at step %d", out, step)
    elif metrics_path.exists():
        metrics_path.unlink()
    run.model.train()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", dynamic_ncols=True)
    train_idx = torch.from_numpy(run.train_idx)
    with open(metrics_path, "a") as metrics:
        while step < cfg.steps:
            if order is None or pos + cfg.batch_size > len(order):
                order, pos = train_idx[torch.randperm(len(train_idx), generator=generator)], 0
            batch = order[pos:pos + cfg.batch_size].numpy()
            pos += cfg.batch_size
            x = run.dataset.images(batch).to(cfg.device)
            total, parts = run.loss(run.model, x)
            run.optimizer.zero_grad(set_to_none=True)
            total.backward()
            run.optimizer.step()
            run.loss.after_step(run.loss.last_output)
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                metrics.write(json.dumps({"step": step, **parts}) + "\n")
                metrics.flush()
                bar.set_postfix({k: f"{v:.3g}" for k, v in parts.items() if k in ("loss", "recon", "mi", "tc", "kl")})
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint(ckpt_path, run, step, generator, order, pos)
            bar.update(1)
    bar.close()
    return run


def restore(checkpoint) -> Run:
    """The run stored in a checkpoint (path or folder), model weights loaded, in eval mode."""
    state = load_checkpoint(checkpoint)
    run = build_run(Config.from_dict(state["config"]))
    run.model.load_state_dict(state["model"])
    run.model.eval()
    return run
