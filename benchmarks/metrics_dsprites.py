"""Evaluation cost at dSprites scale (N = 737,280 posteriors, D = 10) on CPU.

* the density pass of the ELBO decomposition: 10,000 draws from q(z), exact log q for the
  joint, the 5 groups of a group-size-2 model and the 10 single dims (target: 5 min);
* MIG, sampled (Chen et al. 2018) and discretised (20 bins) (target: 15 min; the
  reference code takes about 7 hours by extrapolation).
The posteriors are synthetic (each latent a noisy function of one or two factors), which
costs the same as a trained encoder's.

    python -m benchmarks.metrics_dsprites
    python -m benchmarks.metrics_dsprites --subsample 10   # every 10th image, a quick look
"""

from __future__ import annotations

import time

import numpy as np
import torch

from tcdecomp import Posterior
from tcdecomp.vae.data import ProceduralDSprites
from tcdecomp.vae.metrics import mig_discrete, mig_sampled

from . import harness


def synthetic_posteriors(classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.as_tensor(classes, dtype=torch.float32)
    scaled = (c - c.mean(0)) / c.std(0)
    mu = torch.cat([scaled, 0.7 * scaled + 0.3 * scaled.roll(1, 1)], 1) + 0.1 * torch.randn(len(c), 10, generator=g)
    logvar = torch.full_like(mu, 2 * np.log(0.05))
    return mu, logvar


def main(argv=None):
    parser = harness.parser("metrics_dsprites", __doc__, quick={"subsample": 2000, "samples": 200})
    parser.add_argument("--subsample", type=int, default=1, help="use every k-th image")
    parser.add_argument("--samples", type=int, default=10000)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    data = ProceduralDSprites()
    rows = np.arange(0, len(data), args.subsample)
    classes = data.classes(rows)
    mu, logvar = synthetic_posteriors(classes)
    print(f"N={len(rows)} posteriors, D=10, {args.samples} samples, {torch.get_num_threads()} threads")
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    sets = [list(range(10))] + [[2 * i, 2 * i + 1] for i in range(5)] + [[k] for k in range(10)]
    with torch.no_grad():
        Posterior(mu, logvar, estimator="exact", num_samples=args.samples, generator=g).log_density(sets)
    t_density = time.perf_counter() - start
    print(f"ELBO decomposition density pass (16 sets): {t_density:.1f} s   (bar: 300 s)")
    start = time.perf_counter()
    sampled = mig_sampled(mu, logvar, classes, num_samples=args.samples)
    t_sampled = time.perf_counter() - start
    start = time.perf_counter()
    discrete = mig_discrete(mu, classes)
    t_discrete = time.perf_counter() - start
    print(
        f"MIG sampled {sampled.mig:.3f} in {t_sampled:.1f} s; "
        f"discretised {discrete.mig:.3f} in {t_discrete:.1f} s"
        f"   (bar: 900 s together)"
    )
    case = {"N": len(rows), "dims": 10, "samples": args.samples, "posteriors": "synthetic"}
    recorder.add(
        case,
        {
            "density_pass_seconds": t_density,
            "mig_sampled": sampled.mig,
            "mig_sampled_seconds": t_sampled,
            "mig_discrete": discrete.mig,
            "mig_discrete_seconds": t_discrete,
        },
    )
    recorder.close()


if __name__ == "__main__":
    main()
