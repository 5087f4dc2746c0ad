"""The GPU pack: the one command to run whenever a GPU is lent (about 8 minutes on one H200).

    OUT=gpu-results bash benchmarks/gpu_check.sh            # on the GPU machine; nothing to install
    OUT=/tmp/pack bash benchmarks/gpu_check.sh --dry-run    # the CPU, toy sizes: what CI runs

Sections, in order (training last, as the longest):
  versions        python, torch, triton, pykeops, the device and its SMs and clock
  kernel_tests    the compile test (every kernel variant for sm_80/sm_90: registers, spills), then
                  the kernel tests, which compile and run the kernel for real on a GPU
  sweep           group_logsumexp at B = M in {1024, 4096, 16384}, D in {10, 64}, sets in {joint,
                  pairs + joint, singles + joint}, forward and forward+backward: time and peak
                  memory of naive, chunked, Triton and (joint only) pykeops; ratio to naive;
                  the Triton time's multiple of the arithmetic lower bound (benchmarks/_bounds.py)
  dsprites        exact ELBO decomposition terms and sampled MIG (per dim and per group of 2) of
                  N = 737,280 synthetic posteriors on the dSprites factor grid
  training        beta-TCVAE vs beta-STCVAE (groups of 2) at Chen et al.'s budget (MLP, D = 10,
                  beta = 6, batch 2048, up to 18,000 steps), 5 seeds each, all concurrently on the
                  one GPU, evaluated with MIG and group MIG; the step count is cut to what the time
                  left allows (measured first), and the summary says so

summary.json and summary.md under $OUT are rewritten after every section, so a pack cut short still
leaves what it finished; every figure carries the device name. A failing section is recorded and
the pack goes on. The dry run runs every section on the CPU at toy sizes (Triton skipped: no GPU).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from functools import partial
from pathlib import Path

import numpy as np
import torch

from tcdecomp import Posterior
from tcdecomp.kernels import group_logsumexp, naive_group_logsumexp
from tcdecomp.posterior import sample_aggregate
from tcdecomp.vae.kl import decomposition_sets, kl_terms

from . import harness
from ._bounds import lower_bound_seconds, max_sm_clock_hz, operation_counts
from .group_logsumexp import device_measure, keops_joint_logsumexp, make_inputs, pykeops_available, set_kinds

ROOT = harness.ROOT

FULL = dict(
    sizes=[1024, 4096, 16384],
    dims=[10, 64],
    repeats=3,
    dsprites_samples=10000,
    dsprites_subset=None,
    train_steps=18000,
    train_batch=2048,
    seeds=5,
    train_capacity=1200,
    mig_samples=10000,
    budget_s=480.0,
)
DRY = dict(
    sizes=[64],
    dims=[4],
    repeats=1,
    dsprites_samples=200,
    dsprites_subset={"orientation": [0, 20], "scale": [0, 5], "posX": [0, 10, 20, 31], "posY": [0, 15, 31]},
    train_steps=4,
    train_batch=16,
    seeds=2,
    train_capacity=32,
    mig_samples=200,
    budget_s=300.0,
)


class Pack:
    """Sections' results, written to $OUT after each one."""

    def __init__(self, out: Path, device: str, dry_run: bool):
        self.out, self.device, self.dry_run = out, device, dry_run
        self.start = time.time()
        name = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
        self.summary = {"device_name": name, "dry_run": dry_run, "sections": {}}
        out.mkdir(parents=True, exist_ok=True)
        where = argparse.Namespace(benchmark="gpu_check", out=out / "records.jsonl", quick=dry_run, device=device)
        self.records = harness.Recorder(where)

    def elapsed(self) -> float:
        return time.time() - self.start

    def run(self, name: str, fn, *args) -> None:
        print(f"== {name} ({self.elapsed():.0f} s into the pack)", flush=True)
        started = time.time()
        try:
            section = {"status": "ok", **fn(*args)}
        except Exception as exc:  # record and go on: one broken section must not hide the others
            traceback.print_exc()
            section = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        section["seconds"] = time.time() - started
        section["device_name"] = self.summary["device_name"]
        self.summary["sections"][name] = section
        for row in section.get("rows", []):  # the tables' rows also as the benchmarks' common records
            numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            self.records.add({"section": name, **{k: v for k, v in row.items() if k not in numbers}}, numbers)
        self.write()

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2, default=float))
        (self.out / "summary.md").write_text(markdown(self.summary))


# -- sections ---------------------------------------------------------------------------------------
def versions(device: str) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    info["pykeops"] = pykeops_available()
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        info.update(
            capability=list(torch.cuda.get_device_capability(device)),
            sms=props.multi_processor_count,
            memory_gib=props.total_memory / 2**30,
            max_sm_clock_hz=max_sm_clock_hz(torch.device(device).index or 0),
        )
    print(json.dumps(info))
    return info


def kernel_tests(dry_run: bool) -> dict:
    """The compile test, then the kernel tests (compiled for real on a GPU; the interpreter on the CPU)."""
    kernel_test = ["tests/kernels/test_triton_kernel.py"]
    if dry_run:  # the interpreter is slow: two of its tests keep the rehearsal short
        kernel_test += ["-k", "dispatch or bank_weights"]
    env = dict(os.environ)
    if not dry_run:
        env["TRITON_INTERPRET"] = "0"
    runs = {}
    for name, args in (("compile", ["tests/kernels/test_compiled_kernels.py"]), ("kernels", kernel_test)):
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        print(name, "exit", done.returncode, last[0], flush=True)
        runs[name] = {"exit": done.returncode, "result": last[0]}
        if done.returncode != 0:
            print((done.stdout + done.stderr)[-4000:])
    failed = [name for name, r in runs.items() if r["exit"] != 0]
    if failed:
        details = ", ".join(f"{n} ({runs[n]['result']})" for n in failed)
        raise RuntimeError(f"tests failed: {details}")
    return runs


def sweep(device: str, sizes, dims, repeats: int, capability, sms, clock_hz) -> dict:
    variants = {"naive": naive_group_logsumexp, "chunked": partial(group_logsumexp, backend="torch")}
    notes = []
    if device.startswith("cuda"):
        variants["triton"] = partial(group_logsumexp, backend="triton")
    else:
        notes.append("triton: skipped (no GPU)")
    if pykeops_available():
        variants["pykeops"] = keops_joint_logsumexp
    else:
        notes.append("pykeops: not importable, skipped")
    rows = []
    for B in sizes:
        for D in dims:
            for kind, sets in set_kinds(D).items():
                z, mu, logvar = (t.detach().to(device).requires_grad_(True) for t in make_inputs(B, B, D))
                for backward in (False, True):
                    row = {"B": B, "M": B, "D": D, "sets": kind, "pass": "fwd+bwd" if backward else "fwd"}
                    for name, fn in variants.items():
                        if name == "pykeops" and kind != "joint":
                            continue
                        try:
                            row[f"{name}_ms"], row[f"{name}_mib"] = device_measure(
                                fn, z, mu, logvar, sets, backward, repeats
                            )
                        except torch.OutOfMemoryError:
                            torch.cuda.empty_cache()
                            row[f"{name}_ms"] = "OOM"
                    for name in list(variants)[1:]:
                        if isinstance(row.get(f"{name}_ms"), float) and isinstance(row.get("naive_ms"), float):
                            row[f"naive_over_{name}"] = row["naive_ms"] / row[f"{name}_ms"]
                    bound = lower_bound_seconds(
                        operation_counts(B, B, D, sets, backward), capability or (), sms, clock_hz
                    )
                    row["bound_ms"] = None if bound is None else bound * 1e3
                    fastest = row.get("triton_ms", row.get("chunked_ms"))
                    if bound is not None and isinstance(fastest, float):
                        row["times_bound"] = fastest / row["bound_ms"]
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                del z, mu, logvar
    return {"rows": rows, "notes": notes}


def synthetic_dsprites_posteriors(subset, device: str):
    """Encoder-like posteriors over the dSprites grid: dims 1-5 follow the five factors (plus noise),
    dims 6-10 are noise, every variance small."""
    from tcdecomp.vae.data import ProceduralDSprites

    data = ProceduralDSprites(subset=subset)
    classes = data.local_classes(np.arange(len(data)))
    g = torch.Generator().manual_seed(0)
    scaled = torch.from_numpy(classes / np.maximum(np.asarray(data.factor_sizes) - 1, 1)).float() * 2 - 1
    mu = torch.cat([scaled + 0.1 * torch.randn(scaled.shape, generator=g), torch.randn(len(data), 5, generator=g)], 1)
    logvar = torch.rand(mu.shape, generator=g) * 2 - 6
    return mu.to(device), logvar.to(device), classes


def dsprites(device: str, subset, samples: int, mig_samples: int) -> dict:
    """The exact ELBO decomposition (groups of 2: joint, groups and dims) and sampled MIG, timed."""
    from tcdecomp.plans import contiguous_groups
    from tcdecomp.vae.metrics import mig_sampled
    from tcdecomp.vae.models import gaussian_log_density

    mu, logvar, classes = synthetic_dsprites_posteriors(subset, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    result = {"N": len(mu), "D": mu.shape[1], "samples": samples}
    sets, groups = decomposition_sets(mu.shape[1], 2)
    sync()
    start = time.perf_counter()
    with torch.no_grad():
        z, pick = sample_aggregate(mu, logvar, samples, torch.Generator().manual_seed(0))
        log_q = Posterior(mu, logvar, z=z, estimator="exact").log_density(sets)
        log_qzx = gaussian_log_density(z, mu[pick], logvar[pick]).sum(1)
        log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
        terms = {k: float(v.double().mean()) for k, v in kl_terms(log_qzx, log_q, log_pz, groups).items()}
    sync()
    result["exact_decomposition_s"], result["terms_nats"] = time.perf_counter() - start, terms
    for key, variables in (("mig", None), ("group_mig", contiguous_groups(mu.shape[1], 2))):
        start = time.perf_counter()
        score = mig_sampled(mu, logvar, classes, num_samples=mig_samples, groups=variables)
        sync()
        result[f"{key}_s"], result[key] = time.perf_counter() - start, score.mig
    print(json.dumps(result))
    return result


def training_spec(steps: int, batch: int, seeds: int, capacity: int, device: str, subset, mig_samples: int) -> dict:
    return {
        "name": "gpu_pack_training",
        "kind": "mig",
        "workers": 2 * seeds,
        "base": {
            "model": {"arch": "mlp", "latent_dim": 10, "capacity": capacity},
            "loss": {"beta": 6.0},
            "data": {"name": "dsprites", "holdout": 0.01, **({"subset": subset} if subset else {})},
            "train": {
                "steps": steps,
                "batch_size": batch,
                "lr": 1e-3,
                "device": device,
                "checkpoint_every": max(1, steps // 4),
                "log_every": max(1, steps // 20),
            },
        },
        "grid": {"train.seed": list(range(seeds))},
        "variants": [
            {"label": "TCVAE_10", "loss.name": "beta_tcvae"},
            {"label": "STCVAE_5_2", "loss.name": "beta_stcvae", "loss.group_size": 2},
        ],
        "evaluate": {"num_samples": mig_samples, "mig": True},
    }


def seconds_per_step(spec: dict) -> float:
    """One process's training step at the pack's batch (median of 10 after 3 warm-ups)."""
    from tcdecomp.vae.config import Config
    from tcdecomp.vae.train import build_run, training_step

    config = Config.from_dict(
        {**spec["base"], "loss": {**spec["base"]["loss"], "name": "beta_stcvae", "group_size": 2}}
    )
    run = build_run(config)
    device = config.train.device
    run.model.to(device)
    run.loss.to(device)
    rng = np.random.default_rng(0)
    times = []
    for step in range(13):
        x = run.dataset.images(rng.integers(0, len(run.dataset), config.train.batch_size), device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        training_step(run, run.model, x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def training(out: Path, device: str, cfg: dict, seconds_left: float) -> dict:
    from tcdecomp.experiments.figures import paired_comparisons
    from tcdecomp.sweeps.runner import run_sweep

    spec = training_spec(
        cfg["train_steps"],
        cfg["train_batch"],
        cfg["seeds"],
        cfg["train_capacity"],
        device,
        cfg["dsprites_subset"],
        cfg["mig_samples"],
    )
    per_step = seconds_per_step(spec)
    runs = 2 * cfg["seeds"]
    # All runs share the one device. Planning on their steps adding up and two thirds of the time for
    # training overran on an H200 (10 runs of 1287 steps at 13.4 ms alone, unfinished after 350 s), so
    # plan on a quarter: process start, contention and evaluation take the rest.
    affordable = int(seconds_left / 4 / (runs * per_step))
    steps = max(1, min(cfg["train_steps"], affordable))
    spec["base"]["train"].update(steps=steps, checkpoint_every=max(1, steps // 4), log_every=max(1, steps // 20))
    print(
        f"one step {per_step * 1e3:.1f} ms alone; {runs} runs of {steps} steps (asked {cfg['train_steps']})", flush=True
    )
    # A sweep folder holds one definition: a rerun that affords another step count gets its own.
    records = run_sweep(spec, out / "training" / f"{steps}_steps", progress=False)
    by_label = {}
    for record in records:
        scores = by_label.setdefault(record["label"], {"mig": [], "group_mig": [], "seconds": []})
        scores["mig"].append(record["mig_sampled"]["mig"])
        scores["seconds"].append(record["seconds"])
        if "group_mig_sampled" in record:
            scores["group_mig"].append(record["group_mig_sampled"]["mig"])
    summary = {
        label: {
            key: {"mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "values": v}
            for key, v in scores.items()
            if v
        }
        for label, scores in by_label.items()
    }
    return {
        "steps": steps,
        "steps_asked": cfg["train_steps"],
        "seconds_per_step_alone": per_step,
        "models": summary,
        # STCVAE's groups against TCVAE's dims, seed by seed, with bootstrap intervals
        "paired": paired_comparisons(records),
    }


# -- the report ---------------------------------------------------------------------------------------
def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return "-" if value is None else str(value)


def markdown(summary: dict) -> str:
    lines = [f"# GPU pack: {summary['device_name']}" + (" (dry run)" if summary["dry_run"] else ""), ""]
    for name, section in summary["sections"].items():
        lines += [f"## {name}: {section['status']} in {section['seconds']:.0f} s", ""]
        if section["status"] != "ok":
            lines += [f"    {section['error']}", ""]
        elif name == "sweep":
            keys = list(dict.fromkeys(k for row in section["rows"] for k in row))
            lines += ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
            lines += ["| " + " | ".join(_cell(row.get(k)) for k in keys) + " |" for row in section["rows"]]
            lines += [""] + [f"- {note}" for note in section["notes"]] + [""]
        else:
            body = {k: v for k, v in section.items() if k not in ("status", "seconds", "device_name")}
            lines += ["```json", json.dumps(body, indent=2, default=float), "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the CPU at toy sizes (what CI runs)")
    parser.add_argument("--out", default=os.environ.get("OUT", "gpu-results"))
    parser.add_argument("--skip", nargs="*", default=[], help="sections to leave out")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --dry-run for the CPU rehearsal")
    cfg = DRY if args.dry_run else FULL
    device = "cpu" if args.dry_run else "cuda"
    pack = Pack(Path(args.out), device, args.dry_run)
    pack.run("versions", versions, device)
    info = pack.summary["sections"]["versions"]
    plan = [
        ("kernel_tests", kernel_tests, args.dry_run),
        (
            "sweep",
            sweep,
            device,
            cfg["sizes"],
            cfg["dims"],
            cfg["repeats"],
            info.get("capability"),
            info.get("sms"),
            info.get("max_sm_clock_hz"),
        ),
        ("dsprites", dsprites, device, cfg["dsprites_subset"], cfg["dsprites_samples"], cfg["mig_samples"]),
    ]
    for name, fn, *fn_args in plan:
        if name not in args.skip:
            pack.run(name, fn, *fn_args)
    if "training" not in args.skip:
        pack.run("training", training, Path(args.out), device, cfg, cfg["budget_s"] - pack.elapsed())
    failed = [name for name, s in pack.summary["sections"].items() if s["status"] != "ok"]
    print(
        f"pack done in {pack.elapsed():.0f} s; summary in {args.out}/summary.md"
        + (f"; FAILED: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
