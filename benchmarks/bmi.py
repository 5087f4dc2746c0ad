"""Every ``Samples`` method on the BMI benchmark (Czyz et al., "Beyond normal: on the evaluation of mutual
information estimators", NeurIPS 2023): its v1 suite of 40 tasks with known mutual information, and its v2 suite
(``--suite v2``; Czyz et al., "On the properties and estimation of pointwise mutual information profiles", TMLR
2025): 26 tasks, 13 of them from v1 and 13 Bend and Mix Models (mixtures, some bent by diffeomorphisms) whose MI
BMI estimates by Monte Carlo over 100,000 draws of their exact pointwise MI.

BMI I(X; Y) is the between-groups term of the grouped plan [X, Y], so each method is scored by
``Samples(xy, method=m).multi_information([x_dims, y_dims])``. TC is unchanged by invertible maps of single
coordinates, so on the tasks built from a Gaussian or Student-t by such maps (normal-CDF, half-cube, asinh,
wiggly, bimodal; and the untransformed ones) the TC of all of X and Y is known in closed form and is scored too;
spiral (a rotation that mixes the dims) and Swiss roll (a 1-D curve in 2-D) have no TC reference.

The BMI package (``benchmark-mi`` 0.1.3) pins numpy < 2, pydantic 1 and jax 0.4.30, so it lives in its own venv
(Python 3.10 or 3.11) and this script runs in two halves. ``--bmi-python`` names that venv's interpreter; this
script runs itself there (``_generate``: only numpy and bmi are imported) to draw the samples as ``.npy`` files
with their ground truth, and runs BMI's own KSG (k = 10) and CCA estimators on them as the baselines. The
scoring then runs here. Results go to a JSONL store, one line per (task, seed, method); a rerun skips what the
store holds, so a stopped run resumes.

    python3 -m venv ~/.cache/tcdecomp-bmi/venv    # with a Python 3.10 or 3.11 interpreter
    ~/.cache/tcdecomp-bmi/venv/bin/pip install benchmark-mi==0.1.3 "jax==0.4.30" "jaxlib==0.4.30"
    python -m benchmarks.bmi --bmi-python ~/.cache/tcdecomp-bmi/venv/bin/python   # the subset: seeds 0-2, ~25 min
    python -m benchmarks.bmi --bmi-python ~/.cache/tcdecomp-bmi/venv/bin/python --full    # ten seeds, ~80 min
    python -m benchmarks.bmi --methods infonce --seeds 0                           # a neural bound (slow)
    python -m benchmarks.bmi --report docs/benchmark-bmi.md                               # report the store
    python -m benchmarks.bmi --suite v2 --bmi-python ~/.cache/tcdecomp-bmi/venv/bin/python     # v2, seeds 0-2
    python -m benchmarks.bmi --suite v2 --report /tmp/v2.md                                    # v2's tables
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import harness

ROOT = harness.ROOT
STORE = ROOT / "docs" / "data" / "bmi" / "results.jsonl"
SAMPLES = Path.home() / ".cache" / "tcdecomp-bmi" / "samples"
#: per suite: the default store and samples folder (v1 keeps its original paths)
SUITES = {"v1": (STORE, SAMPLES), "v2": (STORE.with_name("results-v2.jsonl"), SAMPLES / "v2")}
#: draws of the exact pointwise MI used to check the Monte Carlo truth of v2's mixtures (BMI uses 100,000)
TRUTH_CHECK_DRAWS = 1_000_000
N_SAMPLES = 5000  # BMI v1: 5,000 samples per task and seed
#: the methods scored by default: every density model, and KSG; the neural bounds are opt-in (minutes per task)
METHODS = ("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn")
BASELINES = ("bmi_ksg10", "bmi_cca")
#: maps of single coordinates, each invertible: TC of the whole sample is the base distribution's
COORDINATE_WISE = ("half_cube-", "asinh-", "normal_cdf-", "wiggly-", "1v1-bimodal")
NOT_COORDINATE_WISE = ("spiral-", "swissroll")


# -- the half that runs in BMI's venv --------------------------------------------------------------------------
def _base_distribution(sampler) -> dict | None:
    """The Gaussian or Student-t under a chain of TransformedSamplers, as plain lists (None for other bases)."""
    while hasattr(sampler, "_base_sampler"):
        sampler = sampler._base_sampler
    if hasattr(sampler, "_sampler"):  # BivariateNormalSampler wraps a SplitMultinormal
        sampler = sampler._sampler
    if hasattr(sampler, "_dispersion"):
        return {"kind": "student_t", "scale": np.asarray(sampler._dispersion).tolist(),
                "df": float(sampler._degrees_of_freedom)}  # fmt: skip
    if hasattr(sampler, "_covariance"):
        return {"kind": "gaussian", "scale": np.asarray(sampler._covariance).tolist()}
    return None


#: v2's concentric Gaussians (dim_x, components) and inlier tasks (inlier fraction, dim)
CONCENTRIC = ((3, 5), (5, 5), (3, 10), (5, 10), (25, 5))
INLIERS = ((0.2, 5), (0.2, 25), (0.5, 5), (0.5, 25))


def v2_tasks() -> dict:
    """BMI's v2 suite as its maintainers define it (workflows/benchmark/v2/config.py of cbg-ethz/bmi), from the
    task constructors of ``benchmark-mi`` 0.1.3, each rescaled to zero mean and unit variance as there."""
    from bmi.benchmark import tasks as bt
    from bmi.benchmark.tasks.asinh import transform_asinh_task as asinh
    from bmi.benchmark.tasks.normal_cdf import transform_normal_cdf_task as normal_cdf
    from bmi.benchmark.tasks.spiral import transform_spiral_task as spiral
    from bmi.benchmark.tasks.student import task_student_identity

    bivariate = bt.task_bivariate_normal(gaussian_correlation=0.75)
    unscaled = [
        bt.task_additive_noise(epsilon=0.75),
        asinh(task_student_identity(dim_x=1, dim_y=1, df=1)),
        bt.task_x(),
        bt.task_ai(),
        bt.transform_swissroll_task(normal_cdf(bivariate), task_name="Swiss roll 2 x 1"),
        bt.task_waves(),
        bt.task_galaxy(),
        *(bt.task_concentric_multinormal(dim_x=d, n_components=k) for d, k in CONCENTRIC),
        *(bt.task_multinormal_dense(d, d) for d in (5, 25, 50)),
        *(bt.task_multinormal_2pair(d, d) for d in (5, 25)),
        *(bt.task_multinormal_sparse_w_inliers(dim_x=d, dim_y=d, inlier_fraction=f) for f, d in INLIERS),
        asinh(task_student_identity(dim_x=2, dim_y=2, df=1)),
        asinh(task_student_identity(dim_x=3, dim_y=3, df=2)),
        asinh(task_student_identity(dim_x=5, dim_y=5, df=2)),
        spiral(bt.task_multinormal_2pair(3, 3)),
        spiral(bt.task_multinormal_2pair(5, 5)),
    ]
    return {t.id: bt.transform_rescale(base_task=t, task_name=t.name, task_id=t.id) for t in unscaled}


def _truth_check(sampler) -> dict:
    """For a Bend and Mix Model: BMI's Monte Carlo truth's standard error, and a second Monte Carlo estimate from
    ten times the draws with another seed (a check that the truth's noise is as small as it says)."""
    import jax
    from bmi.samplers._tfp._core import monte_carlo_mi_estimate

    while not hasattr(sampler, "_dist") and hasattr(sampler, "_base_sampler"):
        sampler = sampler._base_sampler
    if not hasattr(sampler, "_dist"):
        return {}
    sampler.mutual_information()
    check, check_stderr = monte_carlo_mi_estimate(jax.random.PRNGKey(1), sampler._dist, TRUTH_CHECK_DRAWS)
    return {"mi_stderr": float(sampler._mi_stderr), "mi_check": float(check), "mi_check_stderr": float(check_stderr)}


def generate(out: Path, seeds: list[int], baseline_seeds: list[int], suite: str = "v1") -> None:
    """Draw every task's samples, write them with their ground truth, and run BMI's baselines (BMI's venv)."""
    import bmi  # BMI's package (this module is benchmarks.bmi, so the name does not shadow it)
    from bmi.benchmark import BENCHMARK_TASKS

    out.mkdir(parents=True, exist_ok=True)
    meta, baselines = {}, []
    estimators = {
        "bmi_ksg10": bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(10,)),
        "bmi_cca": bmi.estimators.CCAMutualInformationEstimator(),
    }
    tasks = BENCHMARK_TASKS if suite == "v1" else v2_tasks()
    for name, task in tasks.items():
        base = None if any(tag in name for tag in NOT_COORDINATE_WISE) else _base_distribution(task.sampler)
        meta[name] = {"dim_x": task.dim_x, "dim_y": task.dim_y, "mi": float(task.mutual_information), "base": base}
        if suite == "v2":
            meta[name].update(_truth_check(task.sampler))
        for seed in seeds:
            path = out / f"{name}__{seed}.npy"
            if not path.exists():
                x, y = task.sample(N_SAMPLES, seed=seed)
                np.save(path, np.concatenate([np.asarray(x), np.asarray(y)], axis=1).astype(np.float64))
            if seed in baseline_seeds:
                x = np.load(path)
                for method, estimator in estimators.items():
                    start = time.perf_counter()
                    value = float(estimator.estimate(x[:, : task.dim_x], x[:, task.dim_x :]))
                    baselines.append({"task": name, "seed": seed, "method": method, "mi": value,
                                      "seconds": time.perf_counter() - start})  # fmt: skip
                    print(f"{name} seed {seed} {method}: {value:.3f} (true {task.mutual_information:.3f})", flush=True)
    (out / "tasks.json").write_text(json.dumps(meta, indent=1))
    (out / "baselines.json").write_text(json.dumps(baselines, indent=1))


# -- the half that runs here -----------------------------------------------------------------------------------
def true_tc(base: dict | None) -> float | None:
    """Closed-form TC of all of X and Y for a task whose every map is coordinate-wise, else None."""
    if base is None:
        return None
    from tcdecomp import Gaussian, StudentT

    scale = np.asarray(base["scale"], dtype=np.float64)
    if base["kind"] == "gaussian":
        return float(Gaussian(scale).total_correlation())
    return float(StudentT(scale, base["df"]).total_correlation())


def score(method: str, x: np.ndarray, dim_x: int, want_tc: bool) -> dict:
    from tcdecomp import Samples

    start = time.perf_counter()
    source = Samples(x, method=method)
    mi = source.multi_information([list(range(dim_x)), list(range(dim_x, x.shape[1]))])
    row = {"mi": float(mi), "mi_stderr": float(mi.stderr)}
    if want_tc:
        tc = source.total_correlation()
        row.update(tc=float(tc), tc_stderr=float(tc.stderr))
    if method == "auto":
        row["chose"] = source.estimator.choice
    row["seconds"] = time.perf_counter() - start
    return row


def run(args) -> None:
    import torch
    from tqdm import tqdm

    from tcdecomp.files import append_jsonl, read_jsonl

    torch.set_num_threads(args.threads)
    meta_path = args.samples / "tasks.json"
    rows = read_jsonl(args.store)
    done = {(r["task"], r["seed"], r["method"]) for r in rows}
    names = _task_names(args)
    missing = [s for s in args.seeds if not all((args.samples / f"{t}__{s}.npy").exists() for t in names)]
    baselines_due = [
        s for s in args.baseline_seeds if not names or not all((t, s, m) in done for t in names for m in BASELINES)
    ]
    if not meta_path.exists() or missing or baselines_due:
        if args.bmi_python is None:
            raise SystemExit(
                f"samples or baselines missing for seeds {sorted(set(missing + baselines_due)) or args.seeds} in "
                f"{args.samples}; pass --bmi-python"
            )
        command = [str(args.bmi_python), "-m", "benchmarks.bmi", "_generate", str(args.samples.resolve()),
                   "--suite", args.suite, "--seeds", *map(str, sorted(set(args.seeds) | set(args.baseline_seeds))),
                   "--baseline-seeds", *map(str, baselines_due)]  # fmt: skip
        subprocess.run(command, check=True, cwd=ROOT)
    meta = json.loads(meta_path.read_text())
    args.store.parent.mkdir(parents=True, exist_ok=True)
    baselines_path = args.samples / "baselines.json"
    if baselines_path.exists():
        for r in json.loads(baselines_path.read_text()):
            if (r["task"], r["seed"], r["method"]) not in done and r["task"] in meta:
                append_jsonl(args.store, {**r, "mi_true": meta[r["task"]]["mi"]})
                done.add((r["task"], r["seed"], r["method"]))
    jobs = [(t, s, m) for s in args.seeds for t in _task_names(args) for m in args.methods if (t, s, m) not in done]
    for task, seed, method in tqdm(jobs, desc="BMI", unit="fit"):
        info = meta[task]
        x = np.load(args.samples / f"{task}__{seed}.npy")
        # Two 1-D variables: their TC is their MI, whatever the task.
        tc_true = info["mi"] if info["dim_x"] == info["dim_y"] == 1 else true_tc(info["base"])
        try:
            row = score(method, x, info["dim_x"], tc_true is not None)
        except ValueError as error:  # a method that refuses the data is reported, not dropped
            row = {"error": str(error)}
        append_jsonl(
            args.store, {"task": task, "seed": seed, "method": method, "mi_true": info["mi"], "tc_true": tc_true, **row}
        )


def _task_names(args) -> list[str]:
    meta_path = args.samples / "tasks.json"
    names = list(json.loads(meta_path.read_text())) if meta_path.exists() else []
    return [t for t in names if not args.tasks or any(pattern in t for pattern in args.tasks)] if names else []


# -- the report ------------------------------------------------------------------------------------------------
#: the task families of the coverage table: which copula each task has (coordinate-wise maps keep it)
FAMILIES = ("Gaussian copula", "t copula", "other")


#: tasks whose copula is neither Gaussian nor t: maps that mix coordinates, additive noise, and mixtures
OTHER_COPULAS = ("spiral", "swissroll", "additive", "bimodal", "1v1-X-", "1v1-AI", "galaxy", "waves", "concentric",
                 "inliers")  # fmt: skip


def family(task: str) -> str:
    """A task's family: its base's copula where every map is coordinate-wise, else "other"."""
    if any(tag in task for tag in OTHER_COPULAS):
        return "other"
    return "t copula" if "student" in task else "Gaussian copula"


def coverage(rows: list[dict], seeds=None) -> dict:
    """Per method and task family: the fraction of fits (task x seed) whose interval estimate ± 1.96 stderr holds
    the true MI, and the number of fits."""
    hits: dict = {}
    for r in rows:
        if "mi_stderr" not in r or (seeds is not None and r["seed"] not in seeds):
            continue
        covered = abs(r["mi"] - r["mi_true"]) <= 1.96 * r["mi_stderr"]
        for key in (family(r["task"]), "all"):
            hits.setdefault(r["method"], {}).setdefault(key, []).append(covered)
    return {m: {k: (float(np.mean(v)), len(v)) for k, v in by.items()} for m, by in hits.items()}


def summarise(rows: list[dict], seeds=None) -> dict:
    """Per method: mean |MI error| over tasks (each task's error averaged over its seeds), tasks within 10%, the TC
    error on the coordinate-wise tasks, and seconds per fit."""
    by_method: dict[str, dict] = {}
    for r in rows:
        if seeds is not None and r["seed"] not in seeds:
            continue
        entry = by_method.setdefault(r["method"], {"tasks": {}, "tc": {}, "seconds": [], "errors": [], "seeds": set()})
        entry["seeds"].add(r["seed"])
        if "error" in r:
            entry["errors"].append(r["task"])
            continue
        entry["tasks"].setdefault(r["task"], []).append(r["mi"] - r["mi_true"])
        if r.get("tc") is not None and r.get("tc_true") is not None:
            entry["tc"].setdefault(r["task"], []).append(r["tc"] - r["tc_true"])
        entry["seconds"].append(r["seconds"])
    truths = {r["task"]: r["mi_true"] for r in rows}
    out = {}
    for method, e in by_method.items():
        mean_err = {t: float(np.mean(v)) for t, v in e["tasks"].items()}
        out[method] = {
            "tasks": len(mean_err),
            "seeds": sorted(e["seeds"]),
            "mae": float(np.mean([abs(v) for v in mean_err.values()])) if mean_err else math.nan,
            "within10": sum(abs(v) <= 0.1 * truths[t] for t, v in mean_err.items()),
            "tc_mae": float(np.mean([abs(np.mean(v)) for v in e["tc"].values()])) if e["tc"] else math.nan,
            "tc_tasks": len(e["tc"]),
            "seconds": float(np.mean(e["seconds"])) if e["seconds"] else math.nan,
            "refused": sorted(set(e["errors"])),
            "per_task": mean_err,
            "per_task_tc": {t: float(np.mean(v)) for t, v in e["tc"].items()},
        }
    return out


SUITE_TEXT = {
    "v1": 'the v1 suite of Czyż et al., "Beyond normal: on the evaluation of mutual information estimators" '
    "(NeurIPS 2023)",
    "v2": 'the v2 suite of Czyż et al., "On the properties and estimation of pointwise mutual information profiles" '
    "(TMLR 2025), as its maintainers' workflow defines it",
}


def markdown(rows: list[dict], command: str, suite: str = "v1") -> str:
    summary = summarise(rows)
    methods = [m for m in (*BASELINES, *METHODS) if m in summary] + sorted(set(summary) - {*BASELINES, *METHODS})
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    truth = {r["task"]: r["mi_true"] for r in rows}
    tc_truth = {r["task"]: r.get("tc_true") for r in rows if r.get("tc_true") is not None}
    seeds = sorted({r["seed"] for r in rows if r["method"] in METHODS})
    lines = [
        "# The BMI benchmark",
        "",
        f"Generated by `benchmarks/bmi.py` from the raw results in `{SUITES[suite][0].relative_to(ROOT)}`. "
        f"Tasks: {SUITE_TEXT[suite]}, package `benchmark-mi` 0.1.3, {N_SAMPLES} samples per task and seed; "
        f"seeds {seeds}. Each tcdecomp method estimates "
        "I(X; Y) as the between-groups term of the grouped plan [X, Y]. `bmi_ksg10` (KSG, k = 10) and `bmi_cca` are "
        "BMI's own estimators, run in BMI's environment as the baselines.",
        "",
        f"Command: `{command}`. Times are seconds per fit on a 2-core CPU, one thread.",
        "",
        "## Summary",
        "",
        "| method | seeds | mean abs. MI error (nats) | tasks within 10% | mean abs. TC error, coordinate-wise tasks "
        "| s per fit | refused |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for m in methods:
        s = summary[m]
        tc = f"{s['tc_mae']:.3f} ({s['tc_tasks']} tasks)" if s["tc_tasks"] else ""
        refused = ", ".join(s["refused"]) if s["refused"] else ""
        lines.append(
            f"| {m} | {', '.join(map(str, s['seeds']))} | {s['mae']:.3f} | {s['within10']}/{s['tasks']} | {tc} | "
            f"{s['seconds']:.2f} | "
            f"{refused} |"
        )
    lines += [
        "",
        "Each task's error is that of its mean estimate over the seeds; the mean absolute error is over the "
        f"{len(tasks)} tasks.",
        "",
        "## Coverage of the intervals",
        "",
        "How often `estimate ± 1.96 stderr` holds the true MI (nominal 95%), over every fit (task x seed), by task "
        "family: tasks whose copula is Gaussian or t (every map coordinate-wise), and the rest (spirals, Swiss roll, "
        "additive noise, bimodal). Fits in brackets.",
        "",
        "| method | " + " | ".join((*FAMILIES, "all")) + " |",
        "|---|" + "---:|" * (len(FAMILIES) + 1),
    ]
    cover = coverage(rows)
    for m in (m for m in methods if m in cover):
        cells = [f"{cover[m][k][0]:.0%} ({cover[m][k][1]})" if k in cover[m] else "–" for k in (*FAMILIES, "all")]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## MI per task",
        "",
        "Mean estimate over the seeds; bold: within 10% of the truth.",
        "",
    ]
    lines += ["| task | true MI | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for t in tasks:
        cells = []
        for m in methods:
            err = summary[m]["per_task"].get(t)
            if err is None:
                cells.append("–")
                continue
            cell = f"{truth[t] + err:.3f}"
            cells.append(f"**{cell}**" if abs(err) <= 0.1 * truth[t] else cell)
        lines.append(f"| {t} | {truth[t]:.3f} | " + " | ".join(cells) + " |")
    tc_methods = [m for m in methods if summary[m]["tc_tasks"]]
    if tc_methods:
        lines += ["", "## TC of X and Y on the coordinate-wise tasks", ""]
        lines += ["Mean estimate; the truth is the closed-form TC of the untransformed Gaussian or Student-t.", ""]
        lines += ["| task | true TC | " + " | ".join(tc_methods) + " |", "|---|---:|" + "---:|" * len(tc_methods)]
        for t in tasks:
            if t not in tc_truth:
                continue
            cells = [
                "–" if t not in summary[m]["per_task_tc"] else f"{tc_truth[t] + summary[m]['per_task_tc'][t]:.3f}"
                for m in tc_methods
            ]
            lines.append(f"| {t} | {tc_truth[t]:.3f} | " + " | ".join(cells) + " |")
    auto = [r for r in rows if r["method"] == "auto" and "chose" in r]
    if auto:
        picks = {}
        for r in auto:
            picks[r["chose"]] = picks.get(r["chose"], 0) + 1
        lines += ["", "`auto` chose: " + ", ".join(f"{k} {v}×" for k, v in sorted(picks.items())) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    quick = {"seeds": [0], "baseline_seeds": [], "methods": ["gaussian", "copula"], "tasks": ["1v1-normal-0.75"],
             "store": Path(tempfile.gettempdir()) / "tcdecomp-bmi-quick.jsonl"}  # fmt: skip
    parser = harness.parser("bmi", __doc__, quick=quick)
    parser.add_argument("--bmi-python", type=Path, help="the interpreter of a venv with benchmark-mi 0.1.3")
    parser.add_argument("--suite", choices=sorted(SUITES), default="v1", help="BMI's v1 (40 tasks) or v2 (26 tasks)")
    parser.add_argument("--samples", type=Path, help="where the .npy samples are kept (not committed); per suite")
    parser.add_argument("--store", type=Path, help="the JSONL results store (resumed); per suite")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="the subset: about 25 min on 2 cores")
    parser.add_argument("--baseline-seeds", type=int, nargs="*", default=[0], help="seeds BMI's KSG and CCA run on")
    parser.add_argument("--full", action="store_true", help="BMI's ten seeds, for every method and baseline")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--tasks", nargs="+", help="only the tasks whose names contain one of these")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report", type=Path, help="write the markdown report of the store here (no runs)")
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "_generate":
        sub = argparse.ArgumentParser()
        sub.add_argument("out", type=Path)
        sub.add_argument("--seeds", type=int, nargs="+")
        sub.add_argument("--baseline-seeds", type=int, nargs="*", default=[])
        sub.add_argument("--suite", choices=sorted(SUITES), default="v1")
        a = sub.parse_args(sys.argv[2:])
        generate(a.out, a.seeds, a.baseline_seeds, a.suite)
        return
    args = harness.parse(parser, argv)
    store, samples = SUITES[args.suite]
    args.store = args.store or store
    args.samples = args.samples or samples
    if args.report is not None:
        from tcdecomp.files import read_jsonl

        command = "python -m benchmarks.bmi " + " ".join(sys.argv[1:] if argv is None else argv)
        args.report.write_text(markdown(read_jsonl(args.store), command, args.suite))
        return
    if args.full:
        args.seeds = args.baseline_seeds = list(range(10))
    run(args)
    from tcdecomp.files import read_jsonl

    recorder = harness.Recorder(args)
    summary = summarise(read_jsonl(args.store), seeds=args.seeds)
    for method in args.methods:
        if method in summary:
            entry = summary[method]
            numbers = ("tasks", "mae", "within10", "tc_mae", "tc_tasks", "seconds")
            metrics = {k: entry[k] for k in numbers} | {"refused": entry["refused"]}
            case = {"suite": f"bmi-{args.suite}", "method": method, "seeds": entry["seeds"], "n": N_SAMPLES}
            recorder.add(case, metrics)
    recorder.close()


if __name__ == "__main__":
    main()
