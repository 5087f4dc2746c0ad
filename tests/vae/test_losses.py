import math

import pytest
import torch

from tcdecomp.kernels import mss_log_weights
from tcdecomp.vae.losses import DIPVAE, HFVAE, BetaSTCVAE, BetaTCVAE, BetaVAE, FactorVAE, build_loss
from tcdecomp.vae.models import build_vae, gaussian_log_density


@pytest.fixture
def model_and_x():
    torch.manual_seed(0)
    model = build_vae("mlp", latent_dim=6, capacity=32, image_shape=(1, 8, 8)).double()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.mul_(3.0)  # spread the posteriors so TC is far from zero
    x = (torch.rand(24, 1, 8, 8) > 0.5).double()
    return model, x


def run(loss, model, x, seed=1):
    torch.manual_seed(seed)
    return loss(model(x))


def test_stcvae_group_size_one_is_beta_tcvae(model_and_x):
    model, x = model_and_x
    a, pa = run(BetaSTCVAE(500, group_size=1, beta=5.0), model, x)
    b, pb = run(BetaTCVAE(500, beta=5.0), model, x)
    assert float(a.detach()) == pytest.approx(float(b.detach()), abs=1e-6)
    assert pa["tc_within"] == pytest.approx(0.0, abs=1e-9)


def test_beta_tcvae_matches_the_materialised_mss_formula(model_and_x):
    """beta-TCVAE's loss written out with a dense B x B x D tensor and the MSS weight matrix."""
    model, x = model_and_x
    N, beta = 500, 5.0
    total, parts = run(BetaTCVAE(N, beta=beta), model, x)
    torch.manual_seed(1)
    out = model(x)
    B = x.shape[0]
    W = mss_log_weights(B, N).dense(B, B)
    dens = gaussian_log_density(out.z[:, None], out.mu[None], out.logvar[None])  # B x B x D
    log_qz = torch.logsumexp(dens.sum(2) + W, dim=1)
    log_prod = torch.logsumexp(dens + W[:, :, None], dim=1).sum(1)
    log_qzx = gaussian_log_density(out.z, out.mu, out.logvar).sum(1)
    log_pz = gaussian_log_density(out.z, torch.zeros_like(out.z), torch.zeros_like(out.z)).sum(1)
    recon = -model.log_likelihood(x, out.logits).mean()
    expected = recon + (log_qzx - log_qz).mean() + beta * (log_qz - log_prod).mean() + (log_prod - log_pz).mean()
    assert float(total.detach()) == pytest.approx(float(expected.detach()), abs=1e-8)
    assert parts["tc"] > 0.05


def test_parts_telescope_to_the_sampled_kl(model_and_x):
    model, x = model_and_x
    _, parts = run(HFVAE(500, gamma=2.0, group_size=3), model, x)
    torch.manual_seed(1)
    out = model(x)
    sampled_kl = (
        gaussian_log_density(out.z, out.mu, out.logvar).sum(1)
        - gaussian_log_density(out.z, torch.zeros_like(out.z), torch.zeros_like(out.z)).sum(1)
    ).mean()
    assert parts["mi"] + parts["tc_groups"] + parts["tc_within"] + parts["dim_kl"] == pytest.approx(
        float(sampled_kl.detach()), abs=1e-8
    )
    assert parts["tc"] == pytest.approx(parts["tc_groups"] + parts["tc_within"], abs=1e-10)


def test_hfvae_with_gamma_equal_beta_is_beta_tcvae(model_and_x):
    model, x = model_and_x
    a, _ = run(HFVAE(500, gamma=4.0, group_size=2, beta=4.0), model, x)
    b, _ = run(BetaTCVAE(500, beta=4.0), model, x)
    assert float(a.detach()) == pytest.approx(float(b.detach()), abs=1e-6)


def test_stcvae_penalises_only_between_group_tc(model_and_x):
    model, x = model_and_x
    total, parts = run(BetaSTCVAE(500, group_size=2, beta=10.0), model, x)
    expected = parts["recon"] + parts["mi"] + 10.0 * parts["tc_groups"] + parts["dim_kl"]
    assert float(total.detach()) == pytest.approx(expected, abs=1e-6)
    assert parts["elbo"] == pytest.approx(-(parts["recon"] + parts["kl"]), abs=1e-9)


def test_group_size_must_divide_latent_dim(model_and_x):
    model, x = model_and_x
    with pytest.raises(ValueError, match=r"\[1, 2, 3, 6\]"):
        BetaSTCVAE(500, group_size=4)(model(x))


def test_bank_estimator_updates_after_step(model_and_x):
    model, x = model_and_x
    loss = BetaSTCVAE(500, group_size=2, estimator="bank", bank_capacity=50)
    torch.manual_seed(1)
    out = model(x)
    loss(out)
    loss.after_step(out)
    assert len(loss.bank) == 24
    _, parts = run(loss, model, x)
    assert math.isfinite(parts["tc_groups"])
    state = loss.state_dict()
    fresh = BetaSTCVAE(500, group_size=2, estimator="bank", bank_capacity=50)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.bank.mu, loss.bank.mu)


def test_beta_vae_and_dip_vae_formulas(model_and_x):
    model, x = model_and_x
    total, parts = run(BetaVAE(beta=4.0), model, x)
    assert float(total.detach()) == pytest.approx(parts["recon"] + 4.0 * parts["kl"], abs=1e-8)
    total, parts = run(DIPVAE(lambda_od=2.0, lambda_d=3.0), model, x)
    torch.manual_seed(1)
    mu = model(x).mu.detach()
    cov = torch.cov(mu.T, correction=0)
    off = cov - torch.diag(torch.diagonal(cov))
    expected = 2.0 * (off**2).sum() + 3.0 * ((torch.diagonal(cov) - 1) ** 2).sum()
    assert parts["dip"] == pytest.approx(float(expected), rel=1e-8)


def test_factorvae_discriminator_learns(model_and_x):
    model, x = model_and_x
    model = model.float()
    loss = FactorVAE(latent_dim=6, gamma=6.4, hidden=32, lr=1e-3)
    before = [p.detach().clone() for p in loss.discriminator.parameters()]
    torch.manual_seed(1)
    out = model(x.float())
    _, parts = loss(out)
    loss.after_step(out)
    assert any(not torch.equal(a, b) for a, b in zip(before, loss.discriminator.parameters()))
    assert {"recon", "kl", "tc", "elbo"} <= set(parts)


def test_build_loss_by_name():
    assert isinstance(build_loss("beta_stcvae", dataset_size=100, latent_dim=4, group_size=2), BetaSTCVAE)
    with pytest.raises(ValueError, match="loss"):
        build_loss("vqvae", dataset_size=100, latent_dim=4)
    with pytest.raises(ValueError, match="loss.group_size is not a parameter of beta_vae"):
        build_loss("beta_vae", dataset_size=100, latent_dim=4, group_size=2)
    with pytest.raises(ValueError, match="loss.group_size is not a parameter of beta_tcvae"):
        build_loss("beta_tcvae", dataset_size=100, latent_dim=4, group_size=2)
