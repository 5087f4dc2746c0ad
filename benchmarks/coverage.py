"""How often ``estimate ± 1.96 stderr`` holds the true TC, per method, on the ``validate`` families.

The families are those of ``tcdecomp validate`` (:func:`tcdecomp.validation.families.sample_families`): three
Gaussians (random, equicorrelated, blocks), an elliptical Student t (df 5), a t copula (df 4) with skewed
margins, and a mixture of two Gaussians with correlations ±0.9, each with its closed-form TC (the mixture's by
Monte Carlo over its exact density, as ``validate`` does). Each (family, method, n, seed) draws fresh rows and
scores the TC of all D columns. Results go to a JSONL store, one line per case; a rerun skips what the store
holds, so a stopped sweep resumes.

    python -m benchmarks.coverage                         # D 4, n 1000, seeds 0-29: about 25 min on one core
    python -m benchmarks.coverage --interval bootstrap --methods copula gmm --resamples 100
    python -m benchmarks.coverage --report                # the table in docs/validation.md

With ``--interval bootstrap`` a case is covered when the percentile interval of ``Samples(...,
interval="bootstrap", resamples=B)`` holds the truth; its rows are reported as ``method+bootstrap``.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from tcdecomp import Samples
from tcdecomp.files import append_jsonl
from tcdecomp.validation.families import sample_families

from . import harness

ROOT = harness.ROOT
STORE = ROOT / "docs" / "data" / "coverage" / "results.jsonl"
METHODS = ("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "flow", "knn")
#: the families each method is meant for (its model holds there); "all" for the flexible ones
MEANT_FOR = {
    "gaussian": ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks"),
    "copula": ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks"),
    "student_t": ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks", "student-t(df=5)"),
    "t_copula": ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks", "student-t(df=5)",
                 "t-copula(df=4), skewed margins"),
    "gmm": ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks", "±0.9 correlation mixture"),
}  # fmt: skip
Z95 = 1.959963984540054


def truths(d: int, seed: int) -> dict[str, float]:
    """Each family's true TC (the families' parameters depend on the seed of ``sample_families`` only)."""
    return {f.name: float(f.truth.total_correlation()) for f in sample_families(d, seed)}


def run_case(family, truth: float, method: str, n: int, seed: int, resamples: int | None = None) -> dict:
    x = family.sample(n, np.random.default_rng(1000 + seed))
    record = {"family": family.name, "method": method, "d": x.shape[1], "n": n, "seed": seed, "truth": truth}
    options = {} if resamples is None else {"interval": "bootstrap", "resamples": resamples}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tc = Samples(x, method=method, random_state=seed, **options).total_correlation()
        record.update(estimate=float(tc), stderr=float(tc.stderr))
        if resamples is None:
            record["covered"] = bool(abs(float(tc) - truth) <= Z95 * float(tc.stderr))
        else:
            record.update(interval="bootstrap", resamples=resamples, low=tc.interval[0], high=tc.interval[1])
            record["covered"] = bool(tc.interval[0] <= truth <= tc.interval[1])
    except ValueError as exc:
        record["refused"] = str(exc)
    record["seconds"] = time.perf_counter() - start
    return record


def meant_for(method: str, family: str) -> bool:
    return family in MEANT_FOR.get(method.split(" ")[0].removesuffix("+bootstrap"), (family,))


def label(record: dict) -> str:
    """The method, marked ``+bootstrap`` for a bootstrap interval's case."""
    return record["method"] + ("+bootstrap" if record.get("interval") == "bootstrap" else "")


def report(records: list[dict]) -> str:
    """Per method: coverage on the families it is meant for, on the others, and per family (cases in
    brackets), with the mean error in standard errors (a bias shows as a mean z far from 0)."""
    families = list(dict.fromkeys(r["family"] for r in records))
    sizes = sorted({r["n"] for r in records})
    usual = max(sizes, key=lambda n: sum(r["n"] == n for r in records)) if records else None

    def row_label(r: dict) -> str:  # a size other than the store's usual one gets its own row
        return label(r) + ("" if r["n"] == usual else f" (n = {r['n']})")

    by = defaultdict(list)
    for r in records:
        if "covered" in r:
            by[row_label(r), r["family"]].append(r)
    names = [f"{m}{suffix}" for suffix in ("", "+bootstrap") for m in METHODS]
    names = [f"{m}{size}" for m in names for size in ("", *(f" (n = {n})" for n in sizes if n != usual))]
    methods = [m for m in names if any(k[0] == m for k in by)]
    lines = [
        "| method | meant for | others | " + " | ".join(families) + " |",
        "| --- | ---: | ---: |" + " ---: |" * len(families),
    ]
    for m in methods:
        own = [r["covered"] for f in families if meant_for(m, f) for r in by[m, f]]
        rest = [r["covered"] for f in families if not meant_for(m, f) for r in by[m, f]]
        cells = []
        for f in families:
            rows = by[m, f]
            if not rows:
                cells.append("–")
                continue
            z = np.mean([(r["estimate"] - r["truth"]) / r["stderr"] for r in rows])
            cells.append(f"{np.mean([r['covered'] for r in rows]):.0%} ({len(rows)}; z̄ {z:+.1f})")
        lines.append(f"| {m} | {_share(own)} | {_share(rest)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _share(flags: list) -> str:
    return f"{np.mean(flags):.0%} ({len(flags)})" if flags else "–"


def main(argv=None) -> int:
    parser = harness.parser(
        "coverage", __doc__, quick={"methods": ["gaussian", "copula"], "seeds": [0], "rows": 500, "store": None}
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--dims", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(30)))
    parser.add_argument("--interval", choices=("stderr", "bootstrap"), default="stderr")
    parser.add_argument("--resamples", type=int, default=200, help="--interval bootstrap: resamples per case")
    parser.add_argument("--families", nargs="+", help="only these families (default: all)")
    parser.add_argument("--store", type=Path, default=STORE, help="the resumable JSONL store (none with --quick)")
    parser.add_argument("--report", action="store_true", help="print the table of the store and stop")
    args = harness.parse(parser, argv)
    resamples = args.resamples if args.interval == "bootstrap" else None
    stored = harness.resumable_store(args, report)
    if stored is None:
        return 0
    recorder = harness.Recorder(args)
    done = {(r["family"], label(r), r["d"], r["n"], r["seed"]) for r in stored}
    families = [f for f in sample_families(args.dims, 0) if not args.families or f.name in args.families]
    truth = truths(args.dims, 0)
    for seed in args.seeds:
        for family in families:
            for method in args.methods:
                name = label({"method": method, "interval": "bootstrap" if resamples else "stderr"})
                if (family.name, name, args.dims, args.rows, seed) in done:
                    continue
                record = run_case(family, truth[family.name], method, args.rows, seed, resamples)
                stored.append(record)
                if args.store is not None:
                    append_jsonl(args.store, record)
    mine = [r for r in stored if r["method"] in args.methods and r["n"] == args.rows and r["d"] == args.dims]
    print(report(mine))
    for method in args.methods:
        name = method + ("+bootstrap" if resamples else "")
        rows = [r for r in mine if label(r) == name and "covered" in r]
        own = [r["covered"] for r in rows if meant_for(method, r["family"])]
        case = {"method": name, "d": args.dims, "n": args.rows, "seeds": args.seeds}
        covered = [r["covered"] for r in rows]
        metrics = {"cases": len(rows), "coverage_meant_for": float(np.mean(own)) if own else None,
                   "coverage_all": float(np.mean(covered)) if rows else None}  # fmt: skip
        recorder.add(case, metrics)
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
