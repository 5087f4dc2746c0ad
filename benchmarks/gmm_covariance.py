"""Full against diagonal covariances for ``Samples(method="gmm")``: TC error and seconds per fit.

A diagonal mixture's marginal over any set of dims is a mixture of products, the form ``group_logsumexp``
evaluates in one fused pass, so it would be the fast path; full covariances cost a Cholesky factor per
component and set. This measures what the diagonal form gives up. The diagonal fit is the same EM with the
off-diagonal entries of every M-step covariance set to zero (everything else, the cross-fitting included, is
``gmm`` as shipped). Families: ``tcdecomp validate``'s Gaussian-blocks, skewed-margin t-copula and ±0.9
correlation-mixture families, at D = 10.

    python -m benchmarks.gmm_covariance                    # n = 4000, 5 repeats
    python -m benchmarks.gmm_covariance --n 8000 --repeats 10
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from tcdecomp import Samples, mixture
from tcdecomp.validation.families import sample_families

from . import harness

FAMILIES = ("gaussian-blocks", "t-copula(df=4), skewed margins", "±0.9 correlation mixture")


@contextlib.contextmanager
def diagonal_components():
    full_m_step = mixture._m_step

    def diagonal_m_step(x, resp):
        fitted = full_m_step(x, resp)
        diagonal = fitted.covariances * np.eye(x.shape[1])  # every off-diagonal entry to zero
        return mixture.GaussianMixture(fitted.weights, fitted.means, diagonal)

    mixture._m_step = diagonal_m_step
    try:
        yield
    finally:
        mixture._m_step = full_m_step


def run(family, n: int, repeats: int, seed: int, diagonal: bool):
    rng = np.random.default_rng(seed)
    truth = float(family.truth.total_correlation())
    estimates, seconds, components = [], [], []
    for _ in range(repeats):
        x = family.sample(n, rng)
        with diagonal_components() if diagonal else contextlib.nullcontext():
            start = time.perf_counter()
            source = Samples(x, method="gmm")
            estimates.append(float(source.total_correlation()))
            seconds.append(time.perf_counter() - start)
        components.append(source.estimator.components[0])
    errors = np.asarray(estimates) - truth
    return truth, float(errors.mean()), float(np.sqrt(np.mean(errors**2))), float(np.mean(seconds)), components


def main(argv=None):
    parser = harness.parser("gmm_covariance", __doc__, quick={"n": 600, "repeats": 1, "dims": 4})
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--dims", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    families = {f.name: f for f in sample_families(args.dims, args.seed)}
    print(f"D = {args.dims}, n = {args.n}, {args.repeats} repeats; bias and RMSE of TC in nats")
    print(f"{'family':<32} {'covariance':<10} {'truth':>7} {'bias':>8} {'RMSE':>7} {'s/fit':>6}  K (first half)")
    for name in FAMILIES:
        for diagonal in (False, True):
            truth, bias, rmse, seconds, ks = run(families[name], args.n, args.repeats, args.seed, diagonal)
            kind = "diagonal" if diagonal else "full"
            print(f"{name:<32} {kind:<10} {truth:>7.3f} {bias:>+8.3f} {rmse:>7.3f} {seconds:>6.2f}  {ks}", flush=True)
            case = {"family": name, "covariance": kind, "n": args.n, "dims": args.dims, "repeats": args.repeats}
            recorder.add(
                case, {"truth": truth, "bias": bias, "rmse": rmse, "seconds_per_fit": seconds, "components": ks}
            )
    recorder.close()


if __name__ == "__main__":
    main()
