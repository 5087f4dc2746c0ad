"""The published TC-estimation benchmark (Bai, Cheng et al., AISTATS 2023, arXiv 2011.04794), plus
two tasks whose dependence is not Gaussian.

Variables: x1..x4 of 20 dims each; TC is the total correlation *among the four variables*
(the tree path I(x1; x2) + I(x3; x4) + I(x1x2; x3x4), the line path I(x1; x2) + I(x1x2; x3) +
I(x1x2x3; x4)); TC steps through {2, 4, 6, 8, 10} nats. Tasks:

* ``gaussian`` (published): (x1, x2) and (x3, x4) correlated coordinate-wise, each pair
  carrying MI = TC / 2, so rho = sqrt(1 - exp(-TC / 20)).
* ``cubic`` (published): the same with y^3 per coordinate. Only the margins change, so TC
  does not; a copula estimator is exact here.
* ``student_t``: a multivariate t with df = 5 and one shared chi^2 scale over all 80 dims,
  the pair correlations set so that the closed-form TC (:class:`tcdecomp.StudentT`) equals
  the level. The shared scale alone gives 1.95 nats of TC, including the top tree term.
* ``mixture``: an equal mixture of the Gaussian task's law with correlation +rho and with
  -rho, the sign shared by every coordinate of a row. Every covariance between variables is
  zero, so Gaussian and copula plug-ins see no dependence. rho is solved so the Monte-Carlo
  reference TC (400k draws, exact mixture density) equals the level.

Neural methods train online as published: every step draws a fresh batch of 64 and takes one
Adam step (lr 1e-3) per term's network; the batch estimate of the path's sum is recorded; the
level rises every ``--steps`` steps (4000 published) with the networks carried over, and each
level is scored by bias, variance and MSE over its last 500 steps. The plug-in methods
(gaussian, copula, student_t, knn) are scored over ``--repeats`` fresh samples of
``--samples`` rows. Jobs run in ``--workers`` processes (one thread each).

    python -m benchmarks.tc_estimation                       # gaussian task, every method and path
    python -m benchmarks.tc_estimation --tasks gaussian cubic student_t mixture --json out.json
    python -m benchmarks.tc_estimation --report docs/benchmark-tc-estimation.md --from-json out.json
    python -m benchmarks.tc_estimation --levels 2 --steps 300 --methods infonce gaussian   # smoke
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tcdecomp import Samples, StudentT
from tcdecomp.neural import (
    NEURAL_METHODS,
    NeuralConfig,
    bound,
    make_network,
    training_loss,
)
from tcdecomp.plans import Plan, Term
from tcdecomp.student_t import t_entropy_offset

from . import harness

DIM = 20
X = [tuple(range(i * DIM, (i + 1) * DIM)) for i in range(4)]
PATHS = {
    "tree": Plan(4 * DIM, (Term((X[0] + X[1], X[2] + X[3])), Term((X[0], X[1])), Term((X[2], X[3]))), "tree"),
    "line": Plan(4 * DIM, (Term((X[0], X[1])), Term((X[0] + X[1], X[2])), Term((X[0] + X[1] + X[2], X[3]))), "line"),
}
TASKS = ("gaussian", "cubic", "student_t", "mixture")
PLUGIN_METHODS = ("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn")
STUDENT_DF = 5.0
# Published Gaussian-task figures (Bai, Cheng et al. 2023, their Gaussian-task table):
# estimates at TC = 2 / 6 / 10 and MSE at TC = 2 / 10.
PUBLISHED = {
    ("tree", "club"): ((2.63, 7.51, 11.45), (0.45, 2.34)),
    ("tree", "infonce"): ((0.93, 2.67, 4.20), (1.16, 33.75)),
    ("tree", "nwj"): ((0.53, 1.50, 2.35), (2.16, 58.56)),
    ("line", "club"): ((3.08, 8.69, 13.41), (1.21, 11.92)),
}


# -- tasks ------------------------------------------------------------------------------------
def _pairs(rho, n, rng, sign=None):
    """(a, b, c, d): b ~ rho a and d ~ rho c coordinate-wise; ``sign`` (n,) flips rho per row."""
    r = rho if sign is None else rho * sign[:, None]
    a, c = rng.standard_normal((n, DIM)), rng.standard_normal((n, DIM))
    b = r * a + math.sqrt(1 - rho**2) * rng.standard_normal((n, DIM))
    d = r * c + math.sqrt(1 - rho**2) * rng.standard_normal((n, DIM))
    return np.concatenate([a, b, c, d], axis=1)


def gaussian_rho(tc: float) -> float:
    """Coordinate correlation giving each pair MI = tc / 2 over 20 coordinates."""
    return math.sqrt(1.0 - math.exp(-tc / DIM))


def student_scale_tc() -> float:
    """TC among the four variables that the shared t scale alone creates (rho = 0)."""
    return 4 * t_entropy_offset(DIM, STUDENT_DF) - t_entropy_offset(4 * DIM, STUDENT_DF)


def student_scale(tc: float) -> np.ndarray:
    gaussian_part = tc - student_scale_tc()
    if gaussian_part < 0:
        raise ValueError(f"the student_t task needs TC >= {student_scale_tc():.3f} (its shared scale alone), got {tc}")
    rho = gaussian_rho(gaussian_part)  # the same rho as sample() draws with
    scale = np.eye(4 * DIM)
    for i in range(DIM):
        for a, b in ((i, DIM + i), (2 * DIM + i, 3 * DIM + i)):
            scale[a, b] = scale[b, a] = rho
    return scale


def _mixture_log_density(x, rho):
    """log of 1/2 N(x; R(+rho)) + 1/2 N(x; R(-rho)), R block-diagonal over coordinate pairs."""
    a, b = (
        np.concatenate([x[:, :DIM], x[:, 2 * DIM : 3 * DIM]], 1),
        np.concatenate([x[:, DIM : 2 * DIM], x[:, 3 * DIM :]], 1),
    )
    s2 = 1 - rho**2
    base = -math.log(2 * math.pi) - 0.5 * math.log(s2)
    quad = lambda r: (a**2 - 2 * r * a * b + b**2) / (2 * s2)
    comps = np.stack([np.sum(base - quad(rho), 1), np.sum(base - quad(-rho), 1)])
    return np.logaddexp(comps[0], comps[1]) - math.log(2)


def mixture_tc(rho, n=400_000, seed=12345):
    """Monte-Carlo TC (and its standard error) of the mixture task: every variable's margin is N(0, I)."""
    rng = np.random.default_rng(seed)
    x = _pairs(rho, n, rng, sign=rng.choice([-1.0, 1.0], n))
    logp = _mixture_log_density(x, rho)
    margins = -0.5 * 4 * DIM * math.log(2 * math.pi) - 0.5 * np.sum(x * x, 1)
    diff = logp - margins
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n))


@functools.cache
def mixture_rho(tc: float) -> float:
    lo, hi = 0.0, 0.999
    for _ in range(24):  # bisection on common random numbers (TC grows with rho) to ~1e-7 in rho
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mixture_tc(mid, n=50_000)[0] < tc else (lo, mid)
    return 0.5 * (lo + hi)


def sample(tc: float, n: int, rng: np.random.Generator, task: str = "gaussian") -> np.ndarray:
    if task in ("gaussian", "cubic"):
        x = _pairs(gaussian_rho(tc), n, rng)
        return x**3 if task == "cubic" else x
    if task == "student_t":  # t_df(0, scale of student_scale(tc)): the Gaussian task's law over a shared chi2 scale
        y = _pairs(gaussian_rho(tc - student_scale_tc()), n, rng)
        return y / np.sqrt(rng.chisquare(STUDENT_DF, size=n) / STUDENT_DF)[:, None]
    if task == "mixture":
        return _pairs(mixture_rho(tc), n, rng, sign=rng.choice([-1.0, 1.0], n))
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def true_tc(tc: float, task: str) -> tuple[float, float]:
    """(reference TC among the four variables, its Monte-Carlo standard error)."""
    if task == "student_t":
        return float(StudentT(student_scale(tc), STUDENT_DF).decompose(PATHS["tree"]).total), 0.0
    if task == "mixture":
        return mixture_tc(mixture_rho(tc))
    return float(tc), 0.0


# -- estimation ------------------------------------------------------------------------------
def run_neural(method, path, levels, steps, batch, seed, task, hidden, critic="separable"):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = NeuralConfig(hidden=hidden, batch_size=batch, critic=critic)
    terms = PATHS[path].terms
    # Standardise every coordinate with moments of 20,000 draws, as Samples does for its neural methods;
    # every task's margins are the same at all levels, so one map serves the whole run.
    ref = sample(levels[0], 20_000, np.random.default_rng(seed + 1), task)
    shift, scale = torch.as_tensor(ref.mean(0), dtype=torch.float32), torch.as_tensor(ref.std(0), dtype=torch.float32)
    nets = [make_network(method, len(t.groups[0]), len(t.groups[1]), cfg) for t in terms]
    opts = [torch.optim.Adam(net.parameters(), lr=1e-3) for net in nets]
    results = []
    for tc in levels:
        trace = []
        for _ in range(steps):
            x = (torch.as_tensor(sample(tc, batch, rng, task), dtype=torch.float32) - shift) / scale
            total = 0.0
            for t, net, opt in zip(terms, nets, opts):
                a, b = x[:, list(t.groups[0])], x[:, list(t.groups[1])]
                loss = training_loss(method, net, a, b)
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    total += float(bound(method, net, a, b))
            trace.append(total)
        results.append(_score(tc, task, trace[-min(500, steps) :]))
    return results


def run_plugin(method, path, levels, n, repeats, seed, task):
    rng = np.random.default_rng(seed)
    results = []
    for tc in levels:
        values = [
            float(Samples(sample(tc, n, rng, task), method=method).decompose(PATHS[path]).total) for _ in range(repeats)
        ]
        results.append(_score(tc, task, values))
    return results


def _score(level, task, values):
    values = np.asarray(values)
    truth, truth_se = true_tc(level, task)
    return {
        "level": level,
        "truth": truth,
        "truth_se": truth_se,
        "mean": float(values.mean()),
        "bias": float(values.mean() - truth),
        "var": float(values.var()),
        "mse": float(np.mean((values - truth) ** 2)),
    }


def run_job(job, args):
    torch.set_num_threads(1)
    task, path, method = job
    start = time.perf_counter()
    if method in NEURAL_METHODS:
        rows = run_neural(method, path, args.levels, args.steps, args.batch, args.seed, task, args.hidden, args.critic)
    else:
        rows = run_plugin(method, path, args.levels, args.samples, args.repeats, args.seed, task)
    return {"task": task, "path": path, "method": method, "seconds": time.perf_counter() - start, "rows": rows}


# -- reporting -------------------------------------------------------------------------------
def published(path, method, level):
    pub = PUBLISHED.get((path, method))
    if pub is None or level not in (2, 6, 10):
        return None, None
    mse = pub[1][(2, 10).index(level)] if level in (2, 10) else None
    return pub[0][(2, 6, 10).index(level)], mse


def format_rows(result) -> list[str]:
    out = []
    for r in result["rows"]:
        ref = ""
        if result["task"] == "gaussian":
            est, mse = published(result["path"], result["method"], r["level"])
            ref = "" if est is None else f"{est:.2f}" + ("" if mse is None else f" / {mse:.2f}")
        out.append(
            f"{result['task']:<9} {result['path']:<5} {result['method']:<9} {r['truth']:>6.2f} {r['mean']:>8.3f} "
            f"{r['bias']:>+8.3f} {r['var']:>8.3f} {r['mse']:>8.3f}  {ref}"
        )
    return out


HEADER = (
    f"{'task':<9} {'path':<5} {'method':<9} {'TC':>6} {'mean':>8} "
    f"{'bias':>8} {'var':>8} {'MSE':>8}  published estimate / MSE"
)


def markdown(results, args_line: str, wall: float | None) -> str:
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    lines = [
        "# TC estimation benchmark",
        "",
        "Generated by `benchmarks/tc_estimation.py` (the protocol of Bai, Cheng et al., AISTATS 2023, "
        "arXiv 2011.04794; see that script's docstring for the tasks). Neural methods: online, batch 64, "
        "Adam lr 1e-3, scored over the last 500 steps of each level; plug-in methods: over repeats of fresh samples.",
        "InfoNCE is capped at log(64) = 4.159 nats per pairwise term, so its tree and line sums are at most "
        "3 x 4.159 = 12.48 nats and every term above the cap is only a lower bound.",
        "",
        f"Command: `{args_line}`" + ("" if not wall else f" ({wall / 60:.1f} min of wall time on this machine)"),
        "",
    ]
    for task in tasks:
        rows = [r for r in results if r["task"] == task]
        levels = [x["level"] for x in rows[0]["rows"]]
        lines += [
            f"## {task}",
            "",
            "MSE per TC level (lower is better; bold: best of the task):",
            "",
            "| path | method | " + " | ".join(f"TC={lv:g}" for lv in levels) + " |",
            "|---|---|" + "---:|" * len(levels),
        ]
        best = [min(r["rows"][i]["mse"] for r in rows) for i in range(len(levels))]
        for r in rows:
            cells = []
            for i, x in enumerate(r["rows"]):
                cell = f"{x['mse']:.3f}"
                cells.append(f"**{cell}**" if x["mse"] == best[i] else cell)
            lines.append(f"| {r['path']} | {r['method']} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Mean estimate (true TC in the header"
            + (", Monte-Carlo reference" if task == "mixture" else "")
            + "; published figures in brackets):",
            "",
            "| path | method | " + " | ".join(f"{x['truth']:.2f}" for x in rows[0]["rows"]) + " | seconds |",
            "|---|---|" + "---:|" * (len(levels) + 1),
        ]
        for r in rows:
            cells = []
            for x in r["rows"]:
                est, mse = published(r["path"], r["method"], x["level"]) if task == "gaussian" else (None, None)
                cells.append(
                    f"{x['mean']:.2f}"
                    + ("" if est is None else f" ({est:.2f}" + ("" if mse is None else f"; MSE {mse:.2f}") + ")")
                )
            lines.append(f"| {r['path']} | {r['method']} | " + " | ".join(cells) + f" | {r['seconds']:.0f} |")
        lines.append("")
    lines += ["![estimate vs true TC](figures/tc_estimation.png)", ""]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    # One colour per method in every panel, so the single legend holds for all of them.
    palette = [f"C{i}" for i in range(10)] + ["navy", "lime", "maroon"]  # the default cycle has only 10
    colours = {m: palette[i] for i, m in enumerate(list(NEURAL_METHODS) + list(PLUGIN_METHODS))}
    paths = sorted({r["path"] for r in results}, key=list(PATHS).index)
    fig, axes = plt.subplots(len(paths), len(tasks), figsize=(4 * len(tasks), 3.6 * len(paths)), squeeze=False)
    for i, p in enumerate(paths):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            rows = [r for r in results if r["task"] == task and r["path"] == p]
            if not rows:
                ax.axis("off")
                continue
            truth = [x["truth"] for x in rows[0]["rows"]]
            ax.plot(truth, truth, "k--", lw=1, label="true")
            for r in rows:
                ax.errorbar(
                    truth,
                    [x["mean"] for x in r["rows"]],
                    yerr=[math.sqrt(x["var"]) for x in r["rows"]],
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=r["method"],
                    color=colours[r["method"]],
                )
            # Diverged or far-off estimators (CLUB, NWJ on heavy tails) would flatten the rest: clip the axis.
            ax.set_ylim(-1, 1.6 * max(truth))
            ax.set_title(f"{task}, {p} path (y clipped at {1.6 * max(truth):.0f})", fontsize=9)
            ax.set_xlabel("true TC (nats)")
            ax.set_ylabel("estimate (mean ± std)")
    handles, labels = max((ax.get_legend_handles_labels() for row in axes for ax in row), key=lambda hl: len(hl[1]))
    fig.legend(handles, labels, loc="lower right", fontsize=9, ncol=3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _save(results, args, args_line, seconds):
    if args.json:
        Path(args.json).write_text(json.dumps({"command": args_line, "seconds": seconds, "results": results}, indent=1))


def _record(result, results, args, args_line, start, recorder):
    # Saved after every job, so a stopped run keeps what it finished.
    results.append(result)
    for row in result["rows"]:
        case = {"task": result["task"], "path": result["path"], "method": result["method"], **_level_case(row)}
        recorder.add(case, {k: v for k, v in row.items() if k not in case} | {"job_seconds": result["seconds"]})
    print("\n".join(format_rows(result)) + f"   ({result['seconds']:.0f} s)", flush=True)
    _save(results, args, args_line, time.perf_counter() - start)


def _level_case(row: dict) -> dict:
    return {k: row[k] for k in ("level", "truth") if k in row}


def main(argv=None):
    quick = {"levels": [2.0], "steps": 20, "methods": ["gaussian", "copula"], "paths": ["tree"], "samples": 500,
             "repeats": 1, "workers": 1}  # fmt: skip
    parser = harness.parser("tc_estimation", __doc__, quick=quick)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=["gaussian"])
    parser.add_argument("--levels", type=float, nargs="+", default=[2, 4, 6, 8, 10])
    parser.add_argument("--steps", type=int, default=4000, help="online steps per TC level (published: 4000)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--critic", choices=["separable", "concat"], default="separable")
    parser.add_argument("--methods", nargs="+", default=list(NEURAL_METHODS) + list(PLUGIN_METHODS))
    parser.add_argument("--paths", nargs="+", default=["tree", "line"], choices=list(PATHS))
    parser.add_argument("--samples", type=int, default=4000, help="rows per repeat for the plug-in methods")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write every result here")
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="skip the runs; report the results in these files "
        "(a later file's result replaces an earlier one's for the same task, path and method)",
    )
    parser.add_argument(
        "--report", help="write a markdown report here and its plot to figures/tc_estimation.png beside it"
    )
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    start = time.perf_counter()
    wall = None
    if args.from_json:
        merged, commands, wall = {}, [], 0.0
        for file in args.from_json:
            saved = json.loads(Path(file).read_text())
            merged.update({(r["task"], r["path"], r["method"]): r for r in saved["results"]})
            commands.append(saved["command"])
            wall += saved.get("seconds") or 0.0
        order = {
            (t, p, m): i
            for i, (t, p, m) in enumerate(
                (t, p, m) for t in TASKS for p in PATHS for m in list(NEURAL_METHODS) + list(PLUGIN_METHODS)
            )
        }
        results = sorted(merged.values(), key=lambda r: order.get((r["task"], r["path"], r["method"]), 1 << 30))
        args_line = "`, then `".join(commands)
    else:
        args_line = "python -m benchmarks.tc_estimation " + " ".join(sys.argv[1:] if argv is None else argv)
        for task in args.tasks:  # fail early on an impossible level, before any job starts
            for tc in args.levels:
                true_tc(tc, task)
        jobs = [(t, p, m) for t in args.tasks for p in args.paths for m in args.methods]
        # Longest first (neural jobs) so the two workers finish together.
        jobs.sort(key=lambda j: j[2] not in NEURAL_METHODS)
        print(
            f"tasks {args.tasks}, TC levels {args.levels}, batch {args.batch}, {args.steps} online steps per level "
            f"(neural, {args.critic} critic), {args.samples} rows x "
            f"{args.repeats} repeats (plug-in), {args.workers} workers"
        )
        print(HEADER, flush=True)
        results = []
        run = functools.partial(run_job, args=args)
        if args.workers > 1:
            # One BLAS thread per worker, as torch gets one: numpy's default of one thread per core in every worker
            # oversubscribes the cores. Spawned workers read these when they import numpy.
            for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(variable, "1")
            with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
                for result in pool.imap_unordered(run, jobs):
                    _record(result, results, args, args_line, start, recorder)
        else:
            for result in map(run, jobs):
                _record(result, results, args, args_line, start, recorder)
        order = {j: i for i, j in enumerate((t, p, m) for t in args.tasks for p in args.paths for m in args.methods)}
        results.sort(key=lambda r: order[(r["task"], r["path"], r["method"])])
        wall = time.perf_counter() - start
        print(f"wall time {wall:.0f} s")
        _save(results, args, args_line, wall)
    if args.report:
        report = Path(args.report)
        plot(results, report.parent / "figures" / "tc_estimation.png")
        report.write_text(markdown(results, args_line, wall))
    recorder.close()
    return results


if __name__ == "__main__":
    main()
