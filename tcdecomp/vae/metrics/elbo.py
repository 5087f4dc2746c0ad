"""The held-out true ELBO and its decomposition (docs/math.md#the-elbo-decomposition), and omniscient latents
(paper eq. 9).

ELBO decomposition (Chen et al. 2018, eq. 2), on draws z ~ q(z) of an evaluation set of N
examples, every density exact over all N posteriors (:class:`~tcdecomp.Posterior` "exact"):

    E_x KL(q(z|x) || p(z)) = MI + TC + dimKL,  TC = TC_groups + TC_within.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._checks import check_positive_int
from ...decomposition import Estimate
from ...posterior import Posterior, sample_aggregate
from ..kl import decomposition_sets, kl_terms
from ..models import gaussian_log_density, kl_to_standard_normal
from .results import Result

#: the decomposition's terms, in report order, with their labels
TERMS = {
    "elbo": "ELBO",
    "recon": "E log p(x|z)",
    "kl": "KL(q(z|x)||p(z))",
    "mi": "  MI",
    "tc": "  TC",
    "tc_groups": "    TC_groups",
    "tc_within": "    TC_within",
    "dim_kl": "  dimKL",
}


@dataclass(frozen=True)
class ELBODecomposition(Result):
    """Each term an :class:`~tcdecomp.Estimate` (nats, with its standard error over the draws), and the
    marginal entropy H(z_k) of every dim."""

    elbo: Estimate
    recon: Estimate
    kl: Estimate
    mi: Estimate
    tc: Estimate
    tc_groups: Estimate
    tc_within: Estimate
    dim_kl: Estimate
    marginal_entropies: list[float]

    def to_dict(self) -> dict:
        out = {name: {"value": float(getattr(self, name)), "stderr": getattr(self, name).stderr} for name in TERMS}
        out["marginal_entropies"] = list(self.marginal_entropies)
        return out

    def report_lines(self) -> list[str]:
        return [
            f"  {label:<18} {getattr(self, name).value:>10.3f} ± {getattr(self, name).stderr:.3f}"
            for name, label in TERMS.items()
        ]


@torch.no_grad()
def encode(model, dataset, indices, batch_size: int = 512, device="cpu"):
    """Encoder means and log-variances (float32, CPU) of the given data-set rows."""
    mus, logvars = [], []
    model.eval()
    for start in range(0, len(indices), batch_size):
        x = dataset.images(indices[start : start + batch_size], device=device)
        mu, logvar = model.encode(x)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus), torch.cat(logvars)


def _estimate(values: torch.Tensor) -> Estimate:
    values = values.double()
    return Estimate(float(values.mean()), float(values.std() / math.sqrt(len(values))) if len(values) > 1 else 0.0)


@torch.no_grad()
def elbo_decomposition(
    model,
    dataset,
    indices,
    group_size: int = 1,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 512,
    device="cpu",
    posteriors=None,
) -> ELBODecomposition:
    """The true ELBO of the examples ``indices`` and its KL decomposition."""
    num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
    mu, logvar = posteriors if posteriors is not None else encode(model, dataset, indices, batch_size, device)
    D = mu.shape[1]
    z, pick = sample_aggregate(mu, logvar, num_samples, torch.Generator().manual_seed(seed))
    log_px = []
    for start in range(0, num_samples, batch_size):
        rows = pick[start : start + batch_size]
        x = dataset.images(np.asarray(indices)[rows.numpy()], device=device)
        log_px.append(model.log_likelihood(x, model.decode(z[start : start + batch_size].to(device))).float().cpu())
    log_px = torch.cat(log_px)
    sets, groups = decomposition_sets(D, group_size)
    log_q = Posterior(mu, logvar, z=z, estimator="exact").log_density(sets)
    log_qzx = gaussian_log_density(z, mu[pick], logvar[pick]).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    terms = kl_terms(log_qzx, log_q, log_pz, groups)
    kl = kl_to_standard_normal(mu, logvar)
    singles = log_q[:, len(sets) - D :]
    return ELBODecomposition(
        elbo=Estimate(float(log_px.double().mean() - kl.double().mean()), _estimate(log_px).stderr),
        recon=_estimate(log_px),
        kl=_estimate(kl),
        tc=_estimate(terms["tc_groups"] + terms["tc_within"]),
        marginal_entropies=[float(v) for v in -singles.double().mean(0)],
        **{name: _estimate(values) for name, values in terms.items()},
    )


def omniscient_latents(marginal_entropies, epsilon: float = 1e-3) -> list[int]:
    """Dims whose marginal entropy E_q(z_i)[-log q(z_i)] is below epsilon (paper eq. 9, epsilon = 0.001)."""
    if not (isinstance(epsilon, (int, float)) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number of nats, got {epsilon!r}")
    return [k for k, h in enumerate(marginal_entropies) if h < epsilon]
