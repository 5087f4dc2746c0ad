"""How often the Gaussian plug-in's rank-agreement check (docs/math.md#the-rank-agreement-check) refuses, by data
family, over random covariances: it must refuse the rows that set a covariance by themselves (a corrupted row, a
missing-value code) and keep Gaussian, elliptical t and other heavy-tailed data whose Pearson correlations the
ranks confirm.

Each draw takes D from 2 to 10, n from {30, 50, 200, 1000, 5000, 20000} (at least D + 4) and a random covariance
(condition number 2, 50 or 1000), then builds every family from the same Gaussian rows. Per family the record
gives the draws, how many were refused, and the largest ratio of the Pearson TC to the ranks' TC among those kept.

    python -m benchmarks.rank_agreement             # 400 draws, about a minute
    python -m benchmarks.rank_agreement --quick     # 20 draws
"""

from __future__ import annotations

import numpy as np

from . import harness

ROWS = (30, 50, 200, 1000, 5000, 20000)
CONDITIONS = (2.0, 50.0, 1000.0)


def random_covariance(d: int, rng: np.random.Generator, condition: float) -> np.ndarray:
    """Eigenvalues spread log-uniformly over [1, condition] in a random basis, with random column scales."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (q * np.exp(rng.uniform(0.0, np.log(condition), size=d))) @ q.T
    scale = np.exp(rng.uniform(-1, 1, size=d))
    return cov * np.outer(scale, scale)


def families(x: np.ndarray, rng: np.random.Generator) -> dict:
    n, d = x.shape
    corrupted = x.copy()
    corrupted[rng.integers(n)] = 1e6 * rng.choice([-1.0, 1.0], size=d)
    coded = x.copy()
    coded[: max(2, n // 25)] = -999.0  # 4% of the rows carry a missing-value code in every column
    return {
        "gaussian": x,
        "t, 2 df": x / np.sqrt(rng.chisquare(2, (n, 1)) / 2),
        "t, 5 df": x / np.sqrt(rng.chisquare(5, (n, 1)) / 5),
        "exp(gaussian)": np.exp(x / x.std(axis=0)),
        "gaussian cubed": x**3,
        "independent Cauchy": rng.standard_cauchy((n, d)),
        "independent lognormal, sigma 3": np.exp(3 * rng.standard_normal((n, d))),
        "one corrupted row": corrupted,
        "missing-value code -999": coded,
    }


def main(argv=None):
    from tcdecomp.sample_methods import check_ranks_agree, pearson_tc_influence, rank_tc

    parser = harness.parser("rank_agreement", __doc__, quick={"draws": 20})
    parser.add_argument("--draws", type=int, default=400)
    args = harness.parse(parser, argv)
    tally: dict[str, dict] = {}
    for draw in range(args.draws):
        rng = np.random.default_rng(1000 + draw)
        d = int(rng.integers(2, 11))
        n = max(int(rng.choice(ROWS)), d + 4)
        x = rng.multivariate_normal(np.zeros(d), random_covariance(d, rng, float(rng.choice(CONDITIONS))), n)
        for name, data in families(x, rng).items():
            entry = tally.setdefault(name, {"draws": 0, "refused": 0, "kept_max_ratio": 0.0})
            entry["draws"] += 1
            scaled = data / np.abs(data).max(axis=0)  # as Samples scales it
            try:
                check_ranks_agree(scaled)
            except ValueError:
                entry["refused"] += 1
                continue
            ratio = pearson_tc_influence(scaled)[0] / max(rank_tc(scaled), 1e-3)
            entry["kept_max_ratio"] = max(entry["kept_max_ratio"], float(ratio))
    recorder = harness.Recorder(args)
    for name, entry in tally.items():
        print(f"{name:32s} refused {entry['refused']:4d} of {entry['draws']}; kept: Pearson/ranks TC at most "
              f"{entry['kept_max_ratio']:.2f}")  # fmt: skip
        recorder.add({"family": name}, entry)
    recorder.close()


if __name__ == "__main__":
    main()
