"""Calibration: the cheapest CPU setting where beta-TCVAE (beta = 6, mss) reaches Chen-style MIG >= 0.2 on
procedural dSprites.

Each setting trains in stages, resuming its own checkpoint, and is evaluated after every stage: a learning
curve of held-out ELBO, TC, MIG over every factor and MIG without shape (Chen et al. 2018's convention). A
setting stops at its last stage or once its training time passes --minutes (20 by default, the project's
per-run budget). Records go to a JSON-lines store as they come (default docs/data/calibration/mig.jsonl),
and a rerun skips the stages already there, so a calibration cut short resumes where it stopped. Settings
run in --workers processes of one thread each; checkpoints go under --runs (never committed).

    python -m benchmarks.calibrate_mig                        # every setting, 2 workers
    python -m benchmarks.calibrate_mig --settings mlp32_w256  # one
    python -m benchmarks.calibrate_mig --report --plot docs/figures/calibration_mig.png
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tcdecomp.files import append_jsonl, read_jsonl

from . import harness

#: where --quick keeps its store and runs (never the committed store)
QUICK = Path(tempfile.gettempdir()) / "tcdecomp-calibration-quick"

ROOT = harness.ROOT
STORE = ROOT / "docs" / "data" / "calibration" / "mig.jsonl"
STAGES = (500, 1000, 2000, 4000, 8000, 16000, 32000)
#: every 4th orientation and every 2nd position: 46,080 images of all shapes and scales
SUBSET = {"orientation": 4, "posX": 2, "posY": 2}
SETTINGS = {
    # name: (image side, arch, capacity, batch)
    "mlp32_w256": (32, "mlp", 256, 256),
    "mlp32_w512": (32, "mlp", 512, 128),
    "mlp64_w256": (64, "mlp", 256, 256),
    "conv64_c16": (64, "conv", 16, 64),
}


def config_for(name: str, runs: Path):
    from tcdecomp.vae.config import Config, DataConfig, ModelConfig, TrainConfig

    size, arch, capacity, batch = SETTINGS[name]
    return Config(
        model=ModelConfig(arch=arch, latent_dim=10, capacity=capacity),
        loss={"name": "beta_tcvae", "beta": 6.0, "estimator": "mss"},
        data=DataConfig(name="dsprites", subset=SUBSET, holdout=0.1, image_size=size),
        train=TrainConfig(
            steps=STAGES[0],
            batch_size=batch,
            lr=1e-3,
            seed=0,
            checkpoint_every=500,
            log_every=100,
            out_dir=str(runs / name),
        ),
    )


def stage_metrics(run) -> dict:
    """How the calibration scores a model: held-out ELBO and TC, and MIG over 10,000 images with every factor
    and without shape (Chen et al. 2018's convention), 2,000 samples each."""
    from tcdecomp.vae.evaluate import evaluate

    result = evaluate(run, None, num_samples=2000, mig_points=10000, with_mig=True)
    return {
        "parameters": result.model.parameters,
        "elbo": result.decomposition.elbo.value,
        "tc": result.decomposition.tc.value,
        "mig": result.mig_sampled.mig,
        "mig_chen2018": result.mig_sampled.conventions["chen2018"].mig,
    }


def run_setting(name: str, store: str, runs: str, minutes: float) -> str:
    import torch

    from tcdecomp.vae.train import train

    torch.set_num_threads(1)
    done = {r["step"]: r for r in read_jsonl(store) if r.get("setting") == name}
    config = config_for(name, Path(runs))
    trained_seconds = max((r["train_seconds"] for r in done.values()), default=0.0)
    for steps in STAGES:
        if steps in done:
            continue
        if trained_seconds > minutes * 60:
            break
        config.train.steps = steps
        start = time.perf_counter()
        run = train(config, resume="auto", progress=False)
        trained_seconds += time.perf_counter() - start
        start = time.perf_counter()
        metrics = stage_metrics(run)
        append_jsonl(
            store,
            {
                "setting": name,
                "image_size": config.data.image_size,
                "arch": config.model.arch,
                "capacity": config.model.capacity,
                "parameters": metrics.pop("parameters"),
                "batch": config.train.batch_size,
                "step": steps,
                "train_seconds": trained_seconds,
                "eval_seconds": time.perf_counter() - start,
                **metrics,
            },
        )
    return name


def report(store: Path) -> str:
    rows = sorted(read_jsonl(store), key=lambda r: (r["setting"], r["step"]))
    lines = [
        "| setting | parameters | step | train min | held-out ELBO | TC | MIG (all) | MIG (Chen, no shape) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['parameters']:,} | {r['step']} | {r['train_seconds'] / 60:.1f} | {r['elbo']:.1f} | "
            f"{r['tc']:.2f} | {r['mig']:.3f} | {r['mig_chen2018']:.3f} |"
        )
    return "\n".join(lines)


def plot(store: Path, path: Path) -> None:
    """Learning curves: held-out ELBO and both MIG conventions against training minutes, one line per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(store)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name in sorted({r["setting"] for r in rows}):
        curve = sorted((r for r in rows if r["setting"] == name), key=lambda r: r["step"])
        minutes = [r["train_seconds"] / 60 for r in curve]
        for ax, key in zip(axes, ("elbo", "mig", "mig_chen2018")):
            ax.plot(minutes, [r[key] for r in curve], marker="o", label=name)
    for ax, title in zip(axes, ("held-out ELBO (nats)", "MIG, every factor", "MIG without shape (Chen et al.)")):
        ax.set(xlabel="training minutes (one thread)", title=title)
    axes[2].axhline(0.2, color="k", ls="--", lw=0.8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = harness.parser(
        "calibrate_mig",
        __doc__,
        quick={
            "settings": ["mlp32_w256"],
            "minutes": 0.01,
            "workers": 1,
            "store": QUICK / "calibration.jsonl",
            "runs": QUICK / "runs",
        },
    )
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "calibration")
    parser.add_argument("--minutes", type=float, default=20.0, help="training time per setting")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="print the table from the store and stop")
    parser.add_argument("--plot", type=Path, help="also write the learning curves to this PNG")
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    if args.report:
        print(report(args.store))
        if args.plot:
            plot(args.store, args.plot)
        return 0
    args.store.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(run_setting, n, str(args.store), str(args.runs), args.minutes) for n in args.settings]
        for job in jobs:
            print("done:", job.result(), flush=True)
    print(report(args.store))
    for name in args.settings:
        curve = sorted((r for r in read_jsonl(args.store) if r["setting"] == name), key=lambda r: r["step"])
        if curve:  # the setting's last stage
            last = curve[-1]
            case = {k: last[k] for k in ("setting", "image_size", "arch", "capacity", "batch", "step")}
            recorder.add(case, {k: last[k] for k in ("train_seconds", "elbo", "tc", "mig", "mig_chen2018")})
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
