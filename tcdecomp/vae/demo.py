"""``tcdecomp demo``: beta-STCVAE (latent dim 10, group size 2) on procedural dSprites, then a report."""

from __future__ import annotations

import logging
import time

from .config import Config, DataConfig, ModelConfig, TrainConfig
from .evaluate import evaluate, posterior_decomposition

log = logging.getLogger(__name__)

#: about 5 minutes of training on 2 CPU cores (measured: see the README)
DEMO_STEPS = 3000


def demo_config(out_dir: str = "runs/demo", steps: int | None = None) -> Config:
    return Config(
        model=ModelConfig(arch="conv", latent_dim=10, capacity=16),
        loss={"name": "beta_stcvae", "beta": 6.0, "group_size": 2, "estimator": "mss"},
        # every 4th orientation, every 2nd position: 46,080 images
        data=DataConfig(name="dsprites", subset={"orientation": 4, "posX": 2, "posY": 2}, holdout=0.1),
        train=TrainConfig(
            steps=DEMO_STEPS if steps is None else steps,
            batch_size=64,
            lr=1e-3,
            seed=0,
            checkpoint_every=500,
            log_every=50,
            out_dir=out_dir,
        ),
    )


def run_demo(out_dir: str = "runs/demo", steps: int | None = None, progress: bool = True, overwrite: bool = False):
    """Train the demo model, then evaluate it; returns (Evaluation, bottom-up Decomposition, training seconds).
    A folder that already holds a run is refused unless ``overwrite``."""
    from .train import train

    config = demo_config(out_dir, steps)
    log.info(
        "training beta-STCVAE (D=10, group size 2, beta=6) on procedural dSprites for %d steps", config.train.steps
    )
    start = time.perf_counter()
    run = train(config, progress=progress, overwrite=overwrite)
    seconds = time.perf_counter() - start
    log.info("trained in %.0f s; evaluating", seconds)
    result = evaluate(run, out_dir, num_samples=10000, overwrite=overwrite)
    return result, posterior_decomposition(run, "bottom_up"), seconds
