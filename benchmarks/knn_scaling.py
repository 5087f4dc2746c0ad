"""Time of the KSG (knn) TC estimate against n: the ratio time / (n log n) should stay flat.

python3 benchmarks/knn_scaling.py
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tcdecomp import Samples  # noqa: E402


def main(sizes=(1000, 2000, 4000, 8000, 16000, 32000), dims=10, rho=0.5):
    cov = (1 - rho) * np.eye(dims) + rho
    print(f"knn TC (bottom-up tree of KSG terms, k=3), D={dims}, equicorrelated rho={rho}")
    print(f"{'n':>7} {'seconds':>9} {'us per n log n':>15} {'TC':>8}")
    for n in sizes:
        x = np.random.default_rng(n).multivariate_normal(np.zeros(dims), cov, size=n)
        start = time.perf_counter()
        tc = Samples(x, method="knn").total_correlation()
        secs = time.perf_counter() - start
        print(f"{n:>7} {secs:>9.3f} {secs / (n * math.log(n)) * 1e6:>15.3f} {float(tc):>8.3f}")


if __name__ == "__main__":
    main()
