import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tcdecomp import Posterior, PosteriorBank
from tcdecomp.kernels import group_logsumexp, mss_log_weights

from .conftest import draw_plan


def log_normal(z, mu, logvar):
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 * torch.exp(-logvar))


def brute_log_q(z, mu, logvar, dims, log_w):
    """log sum_m w[b, m] prod_{k in dims} N(z_bk; mu_mk, sigma_mk^2), materialised, float64."""
    dens = log_normal(z[:, None, dims], mu[None, :, dims], logvar[None, :, dims]).sum(-1)
    return torch.logsumexp(dens + log_w, dim=1)


def posterior_data(n, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=dtype) * 1.5
    logvar = torch.rand(n, d, generator=g, dtype=dtype) * 2 - 2.5
    return mu, logvar, g


# -- MSS weights ------------------------------------------------------------------------------------
@pytest.mark.parametrize("M, N", [(2, 2), (2, 9), (5, 5), (7, 30), (64, 1000)])
def test_mss_rows_sum_to_one_and_own_weight_is_one_over_n(M, N):
    W = mss_log_weights(M, N).dense(M, M)
    assert torch.allclose(torch.logsumexp(W, dim=1), torch.zeros(M, dtype=W.dtype), atol=1e-12)
    assert torch.allclose(torch.diagonal(W), torch.full((M,), -math.log(N), dtype=W.dtype))


@pytest.mark.parametrize("N", [4, 5])
def test_mss_is_unbiased_over_every_minibatch(N):
    """Enumerate every ordered minibatch of every size (a short last batch included): for a fixed
    point z and own example i, the average of sum_m w_bm q(z_S | x_m) over all batches with i at
    row b equals q(z_S) exactly, for the joint, each dim and a pair."""
    d = 3
    mu, logvar, g = posterior_data(N, d, seed=N)
    point = torch.randn(1, d, generator=g, dtype=torch.float64)
    sets = [[0, 1, 2], [0], [1], [2], [0, 2]]
    exact = torch.stack(
        [brute_log_q(point, mu, logvar, s, torch.full((1, N), -math.log(N), dtype=torch.float64)) for s in sets], 1
    )[0]
    for M in range(2, N + 1):
        sums = torch.zeros(N, len(sets), dtype=torch.float64)
        counts = torch.zeros(N, dtype=torch.float64)
        for batch in itertools.permutations(range(N), M):
            idx = list(batch)
            post = Posterior(mu[idx], logvar[idx], z=point.expand(M, d), dataset_size=N, estimator="mss")
            q_hat = post.log_density(sets).exp()
            for b, i in enumerate(idx):
                sums[i] += q_hat[b]
                counts[i] += 1
        mean = sums / counts[:, None]
        assert torch.allclose(mean, exact.exp().expand(N, -1), rtol=1e-12, atol=0), f"biased at M={M}"


def test_regression_own_weight_on_the_diagonal_not_down_a_column():
    # Published bug: a stride of M instead of M+1 when filling 1/N puts it down column 0.
    M, N = 6, 100
    W = mss_log_weights(M, N).dense(M, M).exp()
    own = torch.tensor(1.0 / N, dtype=W.dtype)
    assert torch.allclose(torch.diagonal(W), own.expand(M))
    off_diagonal_col0 = W[1:, 0]
    assert not torch.any(torch.isclose(off_diagonal_col0[off_diagonal_col0 != W[M - 1, 0]], own))
    # The designated other example of row b is b+1 (cyclically).
    designated = torch.tensor((N - M + 1) / (N * (M - 1)), dtype=W.dtype)
    for b in range(M):
        assert torch.isclose(W[b, (b + 1) % M], designated)


def test_regression_weights_enter_the_joint_once_not_once_per_dim():
    # Published bug: adding log w to every dim's density before summing gives the joint W^D.
    M, N, d = 8, 50, 5
    mu, logvar, g = posterior_data(M, d, seed=3)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(M, d, generator=g, dtype=torch.float64)
    W = mss_log_weights(M, N).dense(M, M)
    got = Posterior(mu, logvar, z=z, dataset_size=N).log_density([list(range(d))])[:, 0]
    right = brute_log_q(z, mu, logvar, list(range(d)), W)
    wrong = torch.logsumexp((log_normal(z[:, None], mu[None], logvar[None]) + W[:, :, None]).sum(-1), dim=1)
    assert torch.allclose(got, right, atol=1e-12)
    assert not torch.allclose(got, wrong, atol=1e-3)


@pytest.mark.parametrize("estimator", ["mss", "bank"])
def test_regression_normalising_constants_kept(estimator):
    # Published bug: dropping the weights' normalisation makes TC estimates negative by ~(D-1) log M.
    # Each row's weights sum to one, so every marginal estimate is a normalised density ...
    M, N, d = 16, 200, 4
    mu, logvar, _ = posterior_data(M, d, seed=5)
    row = (
        mss_log_weights(M, N).dense(M, M)[3]
        if estimator == "mss"
        else torch.full((M,), math.log(1 / M), dtype=torch.float64)
    )
    grid = torch.linspace(-12, 12, 6001, dtype=torch.float64)[:, None].expand(-1, d).contiguous()
    dens = group_logsumexp(grid, mu, logvar, [[0], [3]], row.expand(grid.shape[0], M)).exp()
    integral = torch.trapezoid(dens, grid[:, 0], dim=0)
    assert torch.allclose(integral, torch.ones(2, dtype=torch.float64), atol=1e-6)
    # ... and TC of a posterior with independent dims (one shared component spread) is near zero, not negative.
    big_m, big_n = 512, 512
    g = torch.Generator().manual_seed(0)
    mu_i = torch.randn(big_m, d, generator=g, dtype=torch.float64)
    logvar_i = torch.full((big_m, d), math.log(0.5**2), dtype=torch.float64)
    kw = {"bank": PosteriorBank(10)} if estimator == "bank" else {}
    tc = Posterior(mu_i, logvar_i, dataset_size=big_n, estimator=estimator, generator=g, **kw).total_correlation()
    exact = Posterior(mu_i, logvar_i, estimator="exact", generator=g).total_correlation()
    assert float(tc) > -0.1
    assert float(tc) == pytest.approx(float(exact), abs=0.15)


# -- each estimator against a brute-force float64 formula ---------------------------------------------
def test_mws_matches_beta_tcvae_formula():
    M, N, d = 12, 300, 4
    mu, logvar, g = posterior_data(M, d, seed=7)
    post = Posterior(mu, logvar, dataset_size=N, estimator="mws", generator=g)
    sets = [[0, 1, 2, 3], [1], [0, 2]]
    got = post.log_density(sets)
    lw = torch.full((M, M), -math.log(N * M), dtype=torch.float64)
    for j, s in enumerate(sets):
        assert torch.allclose(got[:, j], brute_log_q(post.z, mu, logvar, s, lw), atol=1e-12)


def test_exact_matches_brute_force_and_has_monte_carlo_error():
    N, d = 300, 4
    mu, logvar, g = posterior_data(N, d, seed=8)
    post = Posterior(mu, logvar, estimator="exact", num_samples=500, generator=g)
    assert post.z.shape == (500, d)
    lw = torch.full((500, N), -math.log(N), dtype=torch.float64)
    full = list(range(d))
    log_q = brute_log_q(post.z, mu, logvar, full, lw)
    marg = sum(brute_log_q(post.z, mu, logvar, [k], lw) for k in range(d))
    tc = post.total_correlation()
    assert float(tc) == pytest.approx(float((log_q - marg).mean()), abs=1e-10)
    assert tc.stderr == pytest.approx(float((log_q - marg).std() / math.sqrt(500)), rel=1e-6)


def test_bank_covering_the_data_set_is_exact():
    # With batch + bank = the whole data set, the bank weights are all 1/N: the exact estimator.
    N, M, d = 40, 10, 3
    mu, logvar, g = posterior_data(N, d, seed=9)
    bank = PosteriorBank(capacity=N - M)
    bank.update(mu[M:], logvar[M:])
    post = Posterior(mu[:M], logvar[:M], dataset_size=N, estimator="bank", bank=bank, generator=g)
    sets = [[0, 1, 2], [0], [1, 2]]
    exact = Posterior(mu, logvar, z=post.z, estimator="exact").log_density(sets)
    assert torch.allclose(post.log_density(sets), exact, atol=1e-12)


def test_bank_is_fifo_and_detached():
    bank = PosteriorBank(capacity=5)
    a = torch.arange(12.0, requires_grad=True).reshape(4, 3)
    bank.update(a, a * 0)
    bank.update(a + 100, a * 0)
    assert len(bank) == 5
    assert not bank.mu.requires_grad
    assert torch.equal(bank.mu[0], (a[3]).detach())
    assert torch.equal(bank.mu[1:], (a + 100).detach())


@pytest.mark.parametrize("estimator", ["mss", "mws", "exact", "bank"])
def test_values_are_differentiable(estimator):
    M, N, d = 16, 64, 4
    mu, logvar, g = posterior_data(M, d, seed=11)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    kw = {"bank": PosteriorBank(8)} if estimator == "bank" else {}
    if estimator == "bank":
        kw["bank"].update(torch.randn(8, d, dtype=torch.float64), torch.zeros(8, d, dtype=torch.float64))
    post = Posterior(
        mu, logvar, dataset_size=None if estimator == "exact" else N, estimator=estimator, generator=g, **kw
    )
    tc = post.total_correlation()
    assert isinstance(tc, torch.Tensor) and tc.dim() == 0
    # the standard error is the spread of the per-sample terms log q(z_b) - sum_k log q(z_bk) over sqrt(B)
    log_q = post.log_density([list(range(d))] + [[k] for k in range(d)]).detach()
    per_sample = log_q[:, 0] - log_q[:, 1:].sum(1)
    assert tc.stderr == pytest.approx(float(per_sample.std() / per_sample.numel() ** 0.5), rel=1e-9)
    assert float(tc) == pytest.approx(float(per_sample.mean()), rel=1e-9, abs=1e-12)
    tc.backward()
    assert mu.grad is not None and torch.isfinite(mu.grad).all() and mu.grad.abs().sum() > 0
    assert torch.isfinite(logvar.grad).all()


# -- identities: every estimator telescopes -------------------------------------------------------------
@st.composite
def posterior_and_plan(draw):
    d = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    plan = draw_plan(draw, d, rng)
    return d, seed, plan, draw(st.integers(2, 40))


@given(posterior_and_plan(), st.sampled_from(["mss", "mws", "exact", "bank"]))
def test_every_estimator_telescopes(case, estimator):
    d, seed, plan, M = case
    mu, logvar, g = posterior_data(M, d, seed)
    kw = {}
    if estimator == "bank":
        kw["bank"] = PosteriorBank(32)
        kw["bank"].update(*posterior_data(20, d, seed + 1)[:2])
    post = Posterior(
        mu, logvar, dataset_size=None if estimator == "exact" else 3 * M + 20, estimator=estimator, generator=g, **kw
    )
    tc = float(post.total_correlation())
    total = float(post.decompose(plan).total)
    assert total == pytest.approx(tc, rel=1e-6, abs=1e-9)
