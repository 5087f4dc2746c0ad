"""Noise floors for the calibration's figures on procedural dSprites: what an untrained encoder scores, and the
held-out ELBO of a model with no latents at all.

* **Untrained encoder**: each calibration setting (``benchmarks/calibrate_mig.py``) at step 0, for several
  initialisation seeds, evaluated exactly as the calibration evaluates its stages (held-out ELBO and TC, MIG
  over every factor and without shape, 10,000 images, 2,000 samples). A trained model's MIG means something only
  above this.
* **Mean image**: every pixel an independent Bernoulli with the training rows' mean pixel as its probability;
  its held-out log-likelihood per image is the ELBO of a model that has learnt nothing about any one image
  (no latents, so no KL). A trained model's ELBO means something only above this.

Records go to ``docs/data/calibration/noise_floors.jsonl`` (one per setting and seed, a rerun skips them).

    python -m benchmarks.noise_floors                     # every setting, seeds 0-2
    python -m benchmarks.noise_floors --settings mlp32_w512 --seeds 0
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tcdecomp.files import append_jsonl, read_jsonl

from . import harness
from .calibrate_mig import SETTINGS, config_for, stage_metrics

ROOT = harness.ROOT
STORE = ROOT / "docs" / "data" / "calibration" / "noise_floors.jsonl"


def mean_image_elbo(run, chunk: int = 4096) -> float:
    """Held-out Bernoulli log-likelihood per image (nats) of the training rows' mean image."""
    import torch

    total = torch.zeros(run.dataset.image_shape, dtype=torch.float64)
    for start in range(0, len(run.train_idx), chunk):
        total += run.dataset.images(run.train_idx[start : start + chunk]).double().sum(0)
    p = (total / len(run.train_idx)).clamp(1e-6, 1 - 1e-6)
    log_p, log_q = torch.log(p), torch.log1p(-p)
    values = []
    for start in range(0, len(run.test_idx), chunk):
        x = run.dataset.images(run.test_idx[start : start + chunk]).double()
        values.append((x * log_p + (1 - x) * log_q).flatten(1).sum(1))
    return float(torch.cat(values).mean())


def floor(name: str, seed: int) -> dict:
    import torch

    from tcdecomp.vae.train import build_run

    torch.set_num_threads(1)
    config = config_for(name, ROOT / "runs" / "noise_floors")
    config.train.seed = seed  # the initialisation; the split and the data do not depend on it
    run = build_run(config)
    untrained = stage_metrics(run)  # exactly as the calibration scores its stages
    del untrained["parameters"]
    return {
        "setting": name,
        "seed": seed,
        **{f"untrained_{k}": v for k, v in untrained.items()},
        "mean_image_elbo": mean_image_elbo(run),
    }


def main(argv=None):
    quick = {"settings": ["mlp32_w256"], "seeds": [0], "store": Path(tempfile.gettempdir()) / "tcdecomp-floors.jsonl"}
    parser = harness.parser("noise_floors", __doc__, quick=quick)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--store", type=Path, default=STORE)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    done = {(r["setting"], r["seed"]) for r in read_jsonl(args.store)} if args.store.exists() else set()
    for name in args.settings:
        for seed in args.seeds:
            if (name, seed) not in done:
                append_jsonl(args.store, floor(name, seed))
    rows = [r for r in read_jsonl(args.store) if r["setting"] in args.settings]
    print("| setting | seeds | untrained MIG | untrained MIG (Chen) | untrained ELBO | mean-image ELBO |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.settings:
        mine = [r for r in rows if r["setting"] == name]
        if not mine:
            continue
        mig, chen, elbo, mean_image = (
            np.array([r[k] for r in mine])
            for k in ("untrained_mig", "untrained_mig_chen2018", "untrained_elbo", "mean_image_elbo")
        )
        print(
            f"| {name} | {len(mine)} | {mig.mean():.3f} (max {mig.max():.3f}) | {chen.mean():.3f} "
            f"(max {chen.max():.3f}) | {elbo.mean():.1f} | {mean_image.mean():.1f} |"
        )
        metrics = {"untrained_mig": mig.mean(), "untrained_mig_max": mig.max(), "untrained_mig_chen2018": chen.mean()}
        metrics |= {"untrained_elbo": elbo.mean(), "mean_image_elbo": mean_image.mean()}
        recorder.add({"setting": name, "seeds": sorted(r["seed"] for r in mine)}, metrics)
    recorder.close()


if __name__ == "__main__":
    main()
