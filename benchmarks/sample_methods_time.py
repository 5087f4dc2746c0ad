"""Seconds per ``Samples`` method: the fit and one TC estimate, on each of three kinds of data (a Gaussian copula,
a t copula, and a correlation-sign mixture, each with skewed margins), at the project's target size n = 5000, D = 20.
``auto``'s target is 10 s there on 2 cores; its cost depends on the data, because the model it picks then runs on
all the rows.

    python -m benchmarks.sample_methods_time                          # n = 5000, D = 20, every density method
    python -m benchmarks.sample_methods_time --n 20000 --dims 40 --methods auto gmm
"""

from __future__ import annotations

import time

import numpy as np

from tcdecomp import Samples, StudentT
from tcdecomp.validation.families import block_cov, correlation_sign_mixture, skew_margins

from . import harness

METHODS = ("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn")


def datasets(n: int, d: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = block_cov(d)
    return {
        "gaussian copula": skew_margins(rng.multivariate_normal(np.zeros(d), cov, n)),
        "t copula (df=4)": skew_margins(StudentT(cov, df=4.0).sample(n, rng)),
        "±0.9 mixture": skew_margins(correlation_sign_mixture(d).sample(n, rng)),
    }


def main(argv=None):
    parser = harness.parser("sample_methods_time", __doc__, quick={"n": 400, "dims": 4})
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--repeats", type=int, default=1, help="timings per method and data set (the median is shown)")
    parser.add_argument("--seed", type=int, default=0)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    data = datasets(args.n, args.dims, args.seed)
    print(f"n = {args.n}, D = {args.dims}; seconds for Samples(x, method=m).total_correlation()", end="")
    print(f" (median of {args.repeats})")
    print(f"{'method':<10}" + "".join(f"{name:>18}" for name in data) + "   note")
    for method in args.methods:
        cells, note = [], ""
        for data_name, x in data.items():
            times, refused = [], None
            for _ in range(args.repeats):
                start = time.perf_counter()
                try:
                    source = Samples(x, method=method)
                    source.total_correlation()
                except ValueError as error:  # e.g. student_t on skewed margins: refused, and said so
                    refused = str(error)
                times.append(time.perf_counter() - start)
            case = {"method": method, "data": data_name, "n": args.n, "dims": args.dims, "repeats": args.repeats}
            if refused is not None:
                cells.append(f"{'refused':>18}")
                recorder.add(case, {"seconds": float(np.median(times)), "refused": refused})
                continue
            cells.append(f"{np.median(times):>18.2f}")
            if method == "auto":
                note += f"{source.estimator.choice} "
            chose = {"auto_chose": source.estimator.choice} if method == "auto" else {}
            recorder.add(case, {"seconds": float(np.median(times)), **chose})
        print(f"{method:<10}" + "".join(cells) + ("   auto chose: " + note if note else ""), flush=True)
    recorder.close()


if __name__ == "__main__":
    main()
