"""KSG (knn) TC at high dependence: the direct D-variable estimate against per-term sums along paths.

Equicorrelated Gaussian, D = 10, TC = 5 nats, n = 2000, k = 3, 10 seeds (the project's target: within
0.35 nats). This is why ``Samples(method="knn").total_correlation()`` sums the bottom-up tree.

    python -m benchmarks.knn_paths [--quick]
"""

from __future__ import annotations

import numpy as np

from tcdecomp import Samples
from tcdecomp.validation.families import equicorrelated_cov

from . import harness

PATHS = ("direct", "line", "bottom_up", "top_down")


def run(recorder: harness.Recorder, d=10, tc=5.0, n=2000, seeds=10):
    cov = equicorrelated_cov(d, tc)
    rows = []
    for seed in range(seeds):
        x = np.random.default_rng(100 + seed).multivariate_normal(np.zeros(d), cov, size=n)
        src = Samples(x, method="knn")
        direct = float(Samples(x, method="knn", total_path="direct").total_correlation())
        rows.append([direct] + [float(src.decompose(p).total) for p in ("line", "bottom_up", "top_down")])
    rows = np.array(rows)
    print(f"knn (k=3) TC, equicorrelated Gaussian D={d}, true TC={tc}, n={n}, {seeds} seeds")
    for name, col in zip(("direct", "line", "bottom_up", "top_down"), rows.T):
        print(f"{name:>10}: mean {col.mean():.3f}  bias {col.mean() - tc:+.3f}  std {col.std(ddof=1):.3f}")
        case = {"family": "equicorrelated_gaussian", "dims": d, "true_tc": tc, "n": n, "seeds": seeds, "path": name}
        recorder.add(case, {"mean": col.mean(), "bias": col.mean() - tc, "std": col.std(ddof=1)})


def main(argv=None):
    p = harness.parser("knn_paths", __doc__, quick={"n": 300, "seeds": 2})
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=10)
    args = harness.parse(p, argv)
    recorder = harness.Recorder(args)
    run(recorder, n=args.n, seeds=args.seeds)
    recorder.close()


if __name__ == "__main__":
    main()
