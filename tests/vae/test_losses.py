import math
from types import SimpleNamespace

import pytest
import torch

from tcdecomp.kernels import mss_log_weights
from tcdecomp.vae.losses import DIPVAE, HFVAE, BetaSTCVAE, BetaTCVAE, BetaVAE, FactorVAE, build_loss
from tcdecomp.vae.models import build_vae, gaussian_log_density, kl_to_standard_normal


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


def dense_terms(out, N):
    """log q^ with the MSS weights written out densely (a B x B x D tensor), independently of Posterior and the
    kernel: the per-dim log densities, the weight matrix, log q^(z), log q(z|x) and log p(z)."""
    B = out.z.shape[0]
    W = mss_log_weights(B, N).dense(B, B)
    dens = gaussian_log_density(out.z[:, None], out.mu[None], out.logvar[None])  # B x B x D
    log_qz = torch.logsumexp(dens.sum(2) + W, dim=1)
    log_qzx = gaussian_log_density(out.z, out.mu, out.logvar).sum(1)
    log_pz = gaussian_log_density(out.z, torch.zeros_like(out.z), torch.zeros_like(out.z)).sum(1)
    return dens, W, log_qz, log_qzx, log_pz


def test_beta_tcvae_matches_the_materialised_mss_formula(model_and_x):
    """beta-TCVAE's loss written out with a dense B x B x D tensor and the MSS weight matrix."""
    model, x = model_and_x
    N, beta = 500, 5.0
    total, parts = run(BetaTCVAE(N, beta=beta), model, x)
    torch.manual_seed(1)
    out = model(x)
    dens, W, log_qz, log_qzx, log_pz = dense_terms(out, N)
    log_prod = torch.logsumexp(dens + W[:, :, None], dim=1).sum(1)
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


@pytest.mark.parametrize("gamma", [0.0, 2.5])
def test_grouped_losses_match_a_dense_float64_computation(model_and_x, gamma):
    """beta-STCVAE (gamma = 0) and HFVAE written out with a dense B x B x D tensor of log densities,
    the MSS weight matrix and groups (0,1), (2,3), (4,5), independently of Posterior and the kernel."""
    model, x = model_and_x
    N, beta = 500, 7.0
    loss = BetaSTCVAE(N, group_size=2, beta=beta) if gamma == 0 else HFVAE(N, gamma=gamma, group_size=2, beta=beta)
    total, parts = run(loss, model, x)
    torch.manual_seed(1)
    out = model(x)
    dens, W, log_qz, log_qzx, log_pz = dense_terms(out, N)
    pairs = [torch.logsumexp(dens[:, :, [2 * g, 2 * g + 1]].sum(2) + W, dim=1) for g in range(3)]
    log_groups = torch.stack(pairs, 1).sum(1)
    log_singles = torch.logsumexp(dens + W[:, :, None], dim=1).sum(1)
    recon = -out.log_px.mean()
    mi, tc_groups = (log_qzx - log_qz).mean(), (log_qz - log_groups).mean()
    tc_within, dim_kl = (log_groups - log_singles).mean(), (log_singles - log_pz).mean()
    expected = recon + mi + beta * tc_groups + gamma * tc_within + dim_kl
    assert float(total.detach()) == pytest.approx(float(expected.detach()), abs=1e-8)
    assert parts["tc_within"] == pytest.approx(float(tc_within.detach()), abs=1e-8)
    assert parts["tc_groups"] == pytest.approx(float(tc_groups.detach()), abs=1e-8)
    assert parts["elbo"] == pytest.approx(
        float((out.log_px.mean() - kl_to_standard_normal(out.mu, out.logvar).mean()).detach())
    )


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
    # Independently in float64: Bernoulli log-likelihood from the logits, KL in closed form
    # (Kingma & Welling 2014, appendix B): 1/2 sum_k (mu^2 + sigma^2 - 1 - log sigma^2).
    torch.manual_seed(1)
    with torch.no_grad():
        out = model(x)
        p = torch.sigmoid(out.logits)
        recon = -(x * torch.log(p) + (1 - x) * torch.log1p(-p)).flatten(1).sum(1).mean()
        kl = 0.5 * (out.mu**2 + out.logvar.exp() - 1 - out.logvar).sum(1).mean()
    assert parts["recon"] == pytest.approx(float(recon), rel=1e-9)
    assert parts["kl"] == pytest.approx(float(kl), rel=1e-9)
    assert float(total.detach()) == pytest.approx(float(recon + 4.0 * kl), rel=1e-9)
    total, parts = run(DIPVAE(lambda_od=2.0, lambda_d=3.0), model, x)
    torch.manual_seed(1)
    mu = model(x).mu.detach()
    cov = torch.cov(mu.T, correction=0)
    off = cov - torch.diag(torch.diagonal(cov))
    expected = 2.0 * (off**2).sum() + 3.0 * ((torch.diagonal(cov) - 1) ** 2).sum()
    assert parts["dip"] == pytest.approx(float(expected), rel=1e-8)


def test_factorvae_discriminator_estimates_a_known_tc():
    # Trained by after_step on z ~ N(0, [[1, rho], [rho, 1]]), the discriminator's density ratio
    # log D(z) / (1 - D(z)) averages to TC = -1/2 log(1 - rho^2) = 0.830 nats on rho = 0.9.
    torch.manual_seed(0)
    rho = 0.9
    chol = torch.linalg.cholesky(torch.tensor([[1.0, rho], [rho, 1.0]]))
    loss = FactorVAE(latent_dim=2, gamma=1.0, hidden=64, lr=1e-3)
    for _ in range(600):
        loss.after_step(SimpleNamespace(z=torch.randn(256, 2) @ chol.T))
    with torch.no_grad():
        logits = loss.discriminator(torch.randn(8192, 2) @ chol.T)
    assert float((logits[:, 0] - logits[:, 1]).mean()) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.2)
    model = build_vae("mlp", latent_dim=2, capacity=8, image_shape=(1, 4, 4))
    _, parts = loss(model((torch.rand(8, 1, 4, 4) > 0.5).float()))
    assert {"recon", "kl", "tc", "elbo"} <= set(parts)


def test_build_loss_by_name():
    assert isinstance(build_loss("beta_stcvae", dataset_size=100, latent_dim=4, group_size=2), BetaSTCVAE)
    with pytest.raises(ValueError, match="loss"):
        build_loss("vqvae", dataset_size=100, latent_dim=4)
    with pytest.raises(ValueError, match="loss.group_size is not a parameter of beta_vae"):
        build_loss("beta_vae", dataset_size=100, latent_dim=4, group_size=2)
    with pytest.raises(ValueError, match="loss.group_size is not a parameter of beta_tcvae"):
        build_loss("beta_tcvae", dataset_size=100, latent_dim=4, group_size=2)


def test_losses_are_modules_whose_state_is_torch_s(model_and_x):
    # The bank's posteriors are buffers and FactorVAE's discriminator a submodule (its optimiser extra state):
    # state_dict, load_state_dict and .to() are nn.Module's, not hand-written.
    model, x = model_and_x
    bank_loss = BetaSTCVAE(500, group_size=2, estimator="bank", bank_capacity=50)
    out = model(x)
    bank_loss(out)
    bank_loss.after_step(out)
    assert set(bank_loss.state_dict()) == {"bank.mu", "bank.logvar"}
    assert bank_loss.to(torch.float64).bank.mu.dtype == torch.float64  # buffers move with the module
    factor = build_loss("factorvae", dataset_size=500, latent_dim=out.z.shape[1], hidden=16).to(out.z.dtype)
    factor(out)
    factor.after_step(out)
    state = factor.state_dict()
    assert any(k.startswith("discriminator.") for k in state) and "_extra_state" in state
    fresh = build_loss("factorvae", dataset_size=500, latent_dim=out.z.shape[1], hidden=16).to(out.z.dtype)
    fresh.load_state_dict(state)
    for name, value in factor.state_dict().items():
        if name != "_extra_state":
            assert torch.equal(value, fresh.state_dict()[name]), name
    assert fresh.optimizer.state_dict()["state"].keys() == factor.optimizer.state_dict()["state"].keys()
    with pytest.raises(RuntimeError, match="Missing key"):
        fresh.load_state_dict({})  # strict, as every module
