"""Seconds per ``Samples`` method: the fit and one TC estimate, on each of three kinds of data (a Gaussian copula,
a t copula, and a correlation-sign mixture, each with skewed margins), at the project's target size n = 5000, D = 20.
``auto``'s target is 10 s there on 2 cores; its cost depends on the data, because the model it picks then runs on
all the rows.

    python3 benchmarks/sample_methods_time.py                          # n = 5000, D = 20, every density method
    python3 benchmarks/sample_methods_time.py --n 20000 --dims 40 --methods auto gmm
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tcdecomp import Samples, StudentT  # noqa: E402
from tcdecomp.validation.families import block_cov, correlation_sign_mixture, skew_margins  # noqa: E402

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--repeats", type=int, default=1, help="timings per method and data set (the median is shown)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = datasets(args.n, args.dims, args.seed)
    print(f"n = {args.n}, D = {args.dims}; seconds for Samples(x, method=m).total_correlation()", end="")
    print(f" (median of {args.repeats})")
    print(f"{'method':<10}" + "".join(f"{name:>18}" for name in data) + "   note")
    for method in args.methods:
        cells, note = [], ""
        for x in data.values():
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                source = Samples(x, method=method)
                source.total_correlation()
                times.append(time.perf_counter() - start)
            cells.append(f"{np.median(times):>18.2f}")
            if method == "auto":
                note += f"{source.estimator.choice} "
        print(f"{method:<10}" + "".join(cells) + ("   auto chose: " + note if note else ""), flush=True)


if __name__ == "__main__":
    main()
