"""The naive, materialised computation: the oracle for tests and the baseline for benchmarks.

It builds the full B x M x D tensor of per-dim log densities, so its memory grows as B M D.
"""

from __future__ import annotations

import math

import torch

from .weights import StructuredLogWeights


def naive_group_logsumexp(z, mu, logvar, sets, log_w=None):
    """``out[b, s] = logsumexp_m(log_w[b, m] + sum_{k in sets[s]} log N(z_bk; mu_mk, exp(logvar_mk)))``."""
    dens = -0.5 * (math.log(2 * math.pi) + logvar[None] + (z[:, None, :] - mu[None]) ** 2 * torch.exp(-logvar[None]))
    if isinstance(log_w, StructuredLogWeights):
        log_w = log_w.dense(z.shape[0], mu.shape[0], dtype=dens.dtype, device=dens.device)
    cols = []
    for s in sets:
        a = dens[:, :, list(s)].sum(-1)
        if log_w is not None:
            a = a + log_w
        cols.append(torch.logsumexp(a, dim=1))
    return torch.stack(cols, dim=1)
