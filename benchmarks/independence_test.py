"""Calibration and power of ``Samples.independence_test``, the permutation test of mutual independence.

Calibration: on data sets whose columns are independent (mixed margins: Gaussian, exponential, t with df 3,
discrete), the p-values of a valid test are uniform; a Kolmogorov-Smirnov test of them against the uniform
distribution must not reject at 1% (the project's bar: at least 200 null data sets, for copula, gmm and knn).
Power: the fraction of data sets on which the test rejects at 5%, against a correlation between two of the
columns (0.05 to 0.3) and a dependence no correlation sees (the second column the square of the first, plus
noise). One JSONL line per data set in the store; a rerun skips what it holds.

    python -m benchmarks.independence_test                        # 200 null data sets per method, then power
    python -m benchmarks.independence_test --report               # the tables of docs/validation.md
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import scipy.stats

from tcdecomp import Samples
from tcdecomp.files import append_jsonl, read_jsonl
from tcdecomp.validation.families import independent_columns

from . import harness

STORE = harness.ROOT / "docs" / "data" / "independence" / "results.jsonl"
METHODS = ("copula", "gmm", "knn")
ALTERNATIVES = ("rho=0.05", "rho=0.1", "rho=0.2", "rho=0.3", "square")


def sample(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    """A data set of ``kind``: "null" (independent mixed margins) or an alternative of :data:`ALTERNATIVES`."""
    rng = np.random.default_rng(seed)
    if kind == "null":
        return independent_columns("mixed", n, d, seed)
    x = rng.standard_normal((n, d))
    if kind == "square":
        x[:, 1] = x[:, 0] ** 2 + 0.5 * rng.standard_normal(n)
    else:
        rho = float(kind.split("=")[1])
        x[:, 1] = rho * x[:, 0] + np.sqrt(1 - rho**2) * x[:, 1]
    return x


def run_case(kind: str, method: str, n: int, d: int, seed: int, permutations: int) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ties of the discrete margins: expected here
        test = Samples(sample(kind, n, d, seed), method=method).independence_test(permutations=permutations, seed=seed)
    record = {"kind": kind, "method": method, "n": n, "d": d, "seed": seed, "permutations": permutations}
    return record | {"statistic": test.statistic, "p_value": test.p_value, "seconds": time.perf_counter() - start}


def calibration(rows: list[dict]) -> list[dict]:
    out = []
    for method in sorted({r["method"] for r in rows}):
        p = np.array([r["p_value"] for r in rows if r["method"] == method and r["kind"] == "null"])
        if len(p):
            ks = scipy.stats.kstest(p, "uniform")
            out.append({"method": method, "data_sets": len(p), "ks_statistic": float(ks.statistic),
                        "ks_p_value": float(ks.pvalue), "rejected_at_5pct": float(np.mean(p <= 0.05))})  # fmt: skip
    return out


def power(rows: list[dict]) -> list[dict]:
    out = []
    for method in sorted({r["method"] for r in rows}):
        for kind in ALTERNATIVES:
            p = np.array([r["p_value"] for r in rows if r["method"] == method and r["kind"] == kind])
            if len(p):
                out.append(
                    {"method": method, "alternative": kind, "data_sets": len(p), "power": float(np.mean(p <= 0.05))}
                )
    return out


def report(rows: list[dict]) -> str:
    seconds = {m: np.median([r["seconds"] for r in rows if r["method"] == m]) for m in {r["method"] for r in rows}}
    sizes = sorted({(r["n"], r["d"], r["permutations"]) for r in rows})
    lines = [f"Sizes (n, D, permutations): {sizes}.", "", "| method | null data sets | KS statistic | KS p-value | "
             "rejected at 5% | median seconds per test |", "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for c in calibration(rows):
        lines.append(f"| {c['method']} | {c['data_sets']} | {c['ks_statistic']:.3f} | {c['ks_p_value']:.3f} | "
                     f"{c['rejected_at_5pct']:.1%} | {seconds[c['method']]:.1f} |")  # fmt: skip
    table = power(rows)
    if table:
        kinds = [k for k in ALTERNATIVES if any(t["alternative"] == k for t in table)]
        lines += ["", "Power (rejections at 5%):", "", "| method | " + " | ".join(kinds) + " |",
                  "| --- | " + " | ".join("---:" for _ in kinds) + " |"]  # fmt: skip
        for method in sorted({t["method"] for t in table}):
            cells = {t["alternative"]: t for t in table if t["method"] == method}
            shown = [f"{cells[k]['power']:.0%} ({cells[k]['data_sets']})" if k in cells else "-" for k in kinds]
            lines.append(f"| {method} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    quick = {"methods": ["copula"], "null_sets": 5, "power_sets": 2, "permutations": 19, "store": None}
    parser = harness.parser("independence_test", __doc__, quick=quick)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--dims", type=int, default=3)
    parser.add_argument("--null-sets", type=int, default=200)
    parser.add_argument("--power-sets", type=int, default=100)
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--store", type=Path, default=STORE, help="the resumable JSONL store (none with --quick)")
    parser.add_argument("--report", action="store_true", help="print the tables of the store and stop")
    args = harness.parse(parser, argv)
    stored = read_jsonl(args.store) if args.store is not None else []
    if args.report:
        print(report(stored))
        return 0
    recorder = harness.Recorder(args)
    if args.store is not None:
        args.store.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["kind"], r["method"], r["n"], r["d"], r["seed"], r["permutations"]) for r in stored}
    plan = [("null", s) for s in range(args.null_sets)] + [(k, s) for k in ALTERNATIVES for s in range(args.power_sets)]
    from tqdm import tqdm

    for method in args.methods:
        for kind, seed in tqdm(plan, desc=method, unit="test"):
            if (kind, method, args.n, args.dims, seed, args.permutations) in done:
                continue
            record = run_case(kind, method, args.n, args.dims, seed, args.permutations)
            stored.append(record)
            if args.store is not None:
                append_jsonl(args.store, record)
    mine = [r for r in stored if r["n"] == args.n and r["d"] == args.dims and r["permutations"] == args.permutations]
    print(report(mine))
    for c in calibration(mine):
        recorder.add({"test": "calibration", "method": c["method"], "n": args.n, "dims": args.dims}, c)
    for t in power(mine):
        recorder.add({"test": "power", "method": t["method"], "alternative": t["alternative"], "n": args.n}, t)
    recorder.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
