"""Every ``Samples`` method on independent data: is the estimate within 3 standard errors of 0, or refused?

Independent columns have TC = 0 whatever their margins. Margins: Gaussian, exponential, Student t with
df 3, discrete with 2, 3 and 5 equally likely values, and a mix of them. Sizes: D in {2, 5, 10, 20, 50} and
n from the smallest each method accepts (``Samples.minimum_rows``) to 5000. A case passes when
``|estimate| <= 3 stderr`` or the call refuses with a one-line ValueError. Results go to a JSONL store, one
line per (method, margin, D, n, seed); a rerun skips what the store holds, so a stopped sweep resumes.

    python -m benchmarks.independent_data                  # every density model and knn (about an hour)
    python -m benchmarks.independent_data --methods infonce nwj mine club --dims 2 5 --seeds 0 1 2
    python -m benchmarks.independent_data --report         # the table in docs/validation.md
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from tcdecomp import Samples
from tcdecomp.files import append_jsonl
from tcdecomp.validation.families import INDEPENDENT_MARGINS as MARGINS
from tcdecomp.validation.families import independent_columns

from . import harness

ROOT = harness.ROOT

STORE = ROOT / "docs" / "data" / "independent" / "results.jsonl"
METHODS = ("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn")
DIMS = (2, 5, 10, 20, 50)
#: rows beyond the method's minimum (which is always run too, with its double)
ROWS = (500, 5000)


def run_case(method: str, margin: str, d: int, n: int, seed: int) -> dict:
    x = independent_columns(margin, n, d, seed)
    record = {"method": method, "margin": margin, "d": d, "n": n, "seed": seed}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tie warnings on discrete margins: expected here
            source = Samples(x, method=method, random_state=seed)
            tc = source.total_correlation()
        record.update(estimate=float(tc), stderr=tc.stderr, z=float(tc) / tc.stderr if tc.stderr > 0 else None)
        if method == "auto":
            record["chose"] = source.estimator.choice
    except ValueError as exc:
        record["refused"] = str(exc)
    record["seconds"] = time.perf_counter() - start
    return record


def cases(methods, margins, dims, seeds):
    for method in methods:
        for d in dims:
            fewest = Samples.minimum_rows(method, d)
            for n in sorted({fewest, 2 * fewest, *(r for r in ROWS if r > 2 * fewest)}):
                for margin in margins:
                    for seed in seeds:
                        yield method, margin, d, n, seed


def passes(record: dict) -> bool:
    if "refused" in record:
        return "\n" not in record["refused"]
    return record["z"] is not None and abs(record["z"]) <= 3.0


def report(records: list[dict]) -> str:
    """A markdown table: per method, the cases, refusals, failures, the largest |z| and the share beyond 2."""
    by_method = defaultdict(list)
    for r in records:
        by_method[r["method"]].append(r)
    lines = [
        "| method | cases | refused | beyond 3 stderr | largest abs z | beyond 2 stderr | mean z | n range |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for method, rows in by_method.items():
        z = np.array([r["z"] for r in rows if "refused" not in r and r["z"] is not None])
        refused = sum("refused" in r for r in rows)
        failed = sum(not passes(r) for r in rows)
        ns = [r["n"] for r in rows]
        lines.append(
            f"| {method} | {len(rows)} | {refused} | {failed} | {np.abs(z).max():.2f} | "
            f"{np.mean(np.abs(z) > 2):.1%} | {z.mean():+.2f} | {min(ns)}-{max(ns)} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = harness.parser(
        "independent_data",
        __doc__,
        quick={"methods": ["gaussian", "copula"], "margins": ["gaussian"], "dims": [2], "seeds": [0], "store": None},
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--margins", nargs="+", default=list(MARGINS), choices=MARGINS)
    parser.add_argument("--dims", nargs="+", type=int, default=list(DIMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--store", type=Path, default=STORE, help="the resumable JSONL store (none with --quick)")
    parser.add_argument("--report", action="store_true", help="print the table of the store and stop")
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    stored = harness.resumable_store(args, report)
    if stored is None:
        return 0
    done = {(r["method"], r["margin"], r["d"], r["n"], r["seed"]) for r in stored}
    for case in cases(args.methods, args.margins, args.dims, args.seeds):
        if case in done:
            continue
        record = run_case(*case)
        stored.append(record)
        if args.store is not None:
            append_jsonl(args.store, record)
        if not passes(record):
            print(f"FAIL {json.dumps(record)}", flush=True)
    mine = [r for r in stored if r["method"] in args.methods]
    print(report(mine))
    for method in args.methods:
        rows = [r for r in mine if r["method"] == method]
        z = [abs(r["z"]) for r in rows if r.get("z") is not None]
        case = {"method": method, "margins": args.margins, "dims": args.dims, "seeds": args.seeds}
        metrics = {
            "cases": len(rows),
            "refused": sum("refused" in r for r in rows),
            "failed": sum(not passes(r) for r in rows),
            "max_abs_z": max(z, default=None),
        }
        recorder.add(case, metrics)
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
