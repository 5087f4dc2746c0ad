"""Accuracy of the minibatch posterior estimators (mws, mss, bank) on a mixture posterior.

The aggregate posterior is q(z) = (1/N) sum_n N(A u_n, diag sigma_n^2), u_n ~ N(0, I),
A a random mixing matrix with unit-variance rows, sigma ~ U(0.1, 0.5), D = 10
(the project's accuracy targets). The reference TC uses the exact log q over all N components on
many draws from q(z), with its Monte-Carlo error. Each minibatch estimator is run on
random minibatches (uniform without replacement; the bank holds K other examples,
as the preceding minibatches of an epoch would) and summarised by bias, std, RMSE.

The bias is measured paired: on each minibatch the exact TC is also evaluated on the
very same samples z (an unbiased Monte-Carlo estimate of TC, since z ~ q(z)), and the
bias is the mean of (estimate - exact on the same z), with its standard error. The
unpaired difference to the reference is printed too; the two agree within their errors.

    python -m benchmarks.estimators                       # N = 2000 and 20000
    python -m benchmarks.estimators --sizes 2000 --repeats 10 --ref-samples 20000   # quicker
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from tcdecomp import Posterior, PosteriorBank

from . import harness


def mixture_posterior(N, D, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = A / A.norm(dim=1, keepdim=True)  # unit-variance rows: each z_k has Var[A u]_k = 1
    u = torch.randn(N, D, generator=g, dtype=torch.float64)
    sigma = torch.rand(N, D, generator=g, dtype=torch.float64) * 0.4 + 0.1
    return (u @ A.T).float(), (2 * torch.log(sigma)).float()


def reference_tc(mu, logvar, samples, seed, chunk=10000):
    """Exact log q over all N components, averaged over `samples` draws from q(z)."""
    g = torch.Generator().manual_seed(seed)
    values = []
    for start in range(0, samples, chunk):
        post = Posterior(mu, logvar, estimator="exact", num_samples=min(chunk, samples - start), generator=g)
        sets = [list(range(mu.shape[1]))] + [[k] for k in range(mu.shape[1])]
        log_q = post.log_density(sets).double()
        values.append(log_q[:, 0] - log_q[:, 1:].sum(1))
    values = torch.cat(values)
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def estimate(mu, logvar, estimator, B, K, rng, g):
    N = mu.shape[0]
    perm = torch.from_numpy(rng.permutation(N))
    batch = perm[:B]
    kw = {}
    if estimator == "bank":
        bank = PosteriorBank(K)
        bank.update(mu[perm[B : B + K]], logvar[perm[B : B + K]])
        kw["bank"] = bank
    post = Posterior(mu[batch], logvar[batch], dataset_size=N, estimator=estimator, generator=g, **kw)
    with torch.no_grad():
        exact_same_z = Posterior(mu, logvar, z=post.z, estimator="exact").total_correlation()
        return float(post.total_correlation()), float(exact_same_z)


def main(argv=None):
    parser = harness.parser(
        "estimators", __doc__, quick={"sizes": [500], "batches": [64], "repeats": 3, "ref_samples": 2000, "bank": 256}
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--bank", type=int, default=8192, help="bank capacity K (capped at N - B)")
    parser.add_argument("--repeats", type=int, default=40, help="minibatches per estimator and size")
    parser.add_argument("--ref-samples", type=int, default=50000)
    parser.add_argument("--dims", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    rng = np.random.default_rng(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    rows = []
    for N in args.sizes:
        mu, logvar = mixture_posterior(N, args.dims, args.seed)
        t0 = time.perf_counter()
        ref, ref_se = reference_tc(mu, logvar, args.ref_samples, args.seed + 1)
        print(
            f"N={N}: reference TC = {ref:.4f} ± {ref_se:.4f} nats (exact log "
            f"q, {args.ref_samples} samples, {time.perf_counter() - t0:.0f} s)"
        )
        for estimator in ("mws", "mss", "bank"):
            for B in args.batches:
                if B > N:
                    continue
                K = min(args.bank, N - B) if estimator == "bank" else 0
                pairs = np.array([estimate(mu, logvar, estimator, B, K, rng, g) for _ in range(args.repeats)])
                values, diffs = pairs[:, 0], pairs[:, 0] - pairs[:, 1]
                bias, bias_se = diffs.mean(), diffs.std(ddof=1) / math.sqrt(len(diffs))
                std = values.std(ddof=1)
                rows.append(
                    (
                        N,
                        estimator,
                        B,
                        K,
                        values.mean(),
                        bias,
                        bias_se,
                        values.mean() - ref,
                        std,
                        math.sqrt(bias**2 + std**2),
                    )
                )
        print_table([r for r in rows if r[0] == N])
        for row in (r for r in rows if r[0] == N):
            case = {"N": N, "dims": args.dims, "estimator": row[1], "batch": row[2], "bank": row[3]}
            names = ("mean", "bias", "bias_stderr", "mean_minus_reference", "std", "rmse")
            recorder.add(case, {"reference_tc": ref, "reference_stderr": ref_se, **dict(zip(names, row[4:]))})
    check_targets(rows)
    recorder.close()


def print_table(rows):
    print(
        f"{'N':>6} {'estimator':>9} {'B':>5} {'K':>5} {'mean':>8} "
        f"{'bias':>8} {'± se':>6} {'mean-ref':>9} {'std':>7} {'RMSE':>7}"
    )
    for N, est, B, K, mean, bias, bias_se, unpaired, std, rmse in rows:
        print(
            f"{N:>6} {est:>9} {B:>5} {K:>5} {mean:>8.3f} {bias:>+8.3f} "
            f"{bias_se:>6.3f} {unpaired:>+9.3f} {std:>7.3f} {rmse:>7.3f}"
        )
    if any(r[1] == "mws" for r in rows):
        print(
            "note: mws is beta-TCVAE's formula, -log(N M) for every set; that constant is no density normalisation,"
            " so its values are offset by about D log N - log M (gradients are unaffected)"
        )


def check_targets(rows):
    # The project's targets (the best published estimator is about 0.45 nats off at N=20000, B=1024).
    targets = [(2000, "mss", 1024, 0.05), (20000, "bank", 1024, 0.15)]
    for N, est, B, bar in targets:
        for r in rows:
            if r[:3] == (N, est, B):
                verdict = "meets" if abs(r[5]) <= bar else "MISSES"
                print(
                    f"target N={N} {est} B={B} (K={r[3]}): |bias| {abs(r[5]):.3f} ± {r[6]:.3f} {verdict} the bar {bar}"
                )


if __name__ == "__main__":
    main()
