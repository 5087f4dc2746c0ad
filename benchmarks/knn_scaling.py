"""Time of the KSG (knn) TC estimate against n: the ratio time / (n log n) should stay flat.

python -m benchmarks.knn_scaling [--quick]
"""

from __future__ import annotations

import math
import time

import numpy as np

from tcdecomp import Samples

from . import harness


def run(recorder: harness.Recorder, sizes=(1000, 2000, 4000, 8000, 16000, 32000), dims=10, rho=0.5):
    cov = (1 - rho) * np.eye(dims) + rho
    print(f"knn TC (bottom-up tree of KSG terms, k=3), D={dims}, equicorrelated rho={rho}")
    print(f"{'n':>7} {'seconds':>9} {'us per n log n':>15} {'TC':>8}")
    for n in sizes:
        x = np.random.default_rng(n).multivariate_normal(np.zeros(dims), cov, size=n)
        start = time.perf_counter()
        tc = Samples(x, method="knn").total_correlation()
        secs = time.perf_counter() - start
        print(f"{n:>7} {secs:>9.3f} {secs / (n * math.log(n)) * 1e6:>15.3f} {float(tc):>8.3f}")
        case = {"family": "equicorrelated_gaussian", "rho": rho, "dims": dims, "n": n, "k": 3}
        recorder.add(case, {"seconds": secs, "us_per_n_log_n": secs / (n * math.log(n)) * 1e6, "tc": float(tc)})


def main(argv=None):
    p = harness.parser("knn_scaling", __doc__, quick={"sizes": [500, 1000]})
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 16000, 32000])
    args = harness.parse(p, argv)
    recorder = harness.Recorder(args)
    run(recorder, sizes=args.sizes)
    recorder.close()


if __name__ == "__main__":
    main()
