"""The held-out ELBO decomposition: its identities and a dense float64 reference; omniscient latents."""

import numpy as np
import pytest
import torch

from tcdecomp.vae.data import ProceduralDSprites
from tcdecomp.vae.metrics import elbo_decomposition, omniscient_latents
from tcdecomp.vae.models import build_vae


def test_omniscient_latent_is_flagged():
    assert omniscient_latents([1.2, -3.0, 0.0005, 2.0]) == [1, 2]
    assert omniscient_latents([1.2, 0.5]) == []


def test_elbo_decomposition_identities():
    torch.manual_seed(0)
    data = ProceduralDSprites({"orientation": [0], "scale": [0, 5], "posX": range(0, 32, 4), "posY": range(0, 32, 4)})
    model = build_vae("mlp", latent_dim=4, capacity=32)
    rows = np.arange(len(data))
    d = elbo_decomposition(model, data, rows, group_size=2, num_samples=4000)
    # KL = MI + TC + dimKL holds in expectation; TC = TC_groups + TC_within exactly per sample.
    total = d.mi.value + d.tc.value + d.dim_kl.value
    err = np.sqrt(d.mi.stderr**2 + d.tc.stderr**2 + d.dim_kl.stderr**2 + d.kl.stderr**2)
    assert abs(total - d.kl.value) < 4 * err + 1e-3
    assert d.tc.value == pytest.approx(d.tc_groups.value + d.tc_within.value, abs=1e-5)
    assert d.elbo.value == pytest.approx(d.recon.value - d.kl.value, abs=1e-6)
    assert len(d.marginal_entropies) == 4


def test_elbo_decomposition_matches_a_dense_float64_computation():
    # The same draws z ~ q(z) (seeded), every log density recomputed densely in float64 over all N
    # posteriors, independently of Posterior, the kernel and the shared KL-term code.
    from tcdecomp.posterior import sample_aggregate
    from tcdecomp.vae.models import gaussian_log_density

    torch.manual_seed(0)
    data = ProceduralDSprites({"orientation": [0], "scale": [0, 5], "posX": range(0, 32, 8), "posY": range(0, 32, 8)})
    model = build_vae("mlp", latent_dim=4, capacity=16)
    rows = np.arange(len(data))
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(len(rows), 4, generator=g)
    logvar = -1.0 + 0.5 * torch.randn(len(rows), 4, generator=g)
    d = elbo_decomposition(model, data, rows, group_size=2, num_samples=500, seed=3, posteriors=(mu, logvar))
    z, pick = sample_aggregate(mu, logvar, 500, torch.Generator().manual_seed(3))
    z, mu64, lv64 = z.double(), mu.double(), logvar.double()
    dens = gaussian_log_density(z[:, None], mu64[None], lv64[None])  # S x N x D
    log_n = np.log(len(rows))

    def log_q(dims):
        return torch.logsumexp(dens[:, :, dims].sum(2), dim=1) - log_n

    joint, groups = log_q([0, 1, 2, 3]), log_q([0, 1]) + log_q([2, 3])
    singles = sum(log_q([k]) for k in range(4))
    log_qzx = gaussian_log_density(z, mu64[pick], lv64[pick]).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    expected = {
        "mi": log_qzx - joint,
        "tc_groups": joint - groups,
        "tc_within": groups - singles,
        "dim_kl": singles - log_pz,
        "tc": joint - singles,
    }
    for name, values in expected.items():
        assert getattr(d, name).value == pytest.approx(float(values.mean()), abs=2e-4), name
        assert getattr(d, name).stderr == pytest.approx(
            float(values.std() / np.sqrt(len(values))), rel=1e-2, abs=1e-5
        ), name
