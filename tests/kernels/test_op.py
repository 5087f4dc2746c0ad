"""group_logsumexp as the custom op tcdecomp::group_logsumexp: torch.library's opcheck, and a beta-STCVAE
loss step under torch.compile(fullgraph=True) that matches eager mode."""

import pytest
import torch

from tcdecomp.kernels import mss_log_weights, sets_to_membership
from tcdecomp.kernels.op import group_logsumexp_op, structured_args
from tcdecomp.vae.losses import build_loss
from tcdecomp.vae.models import VAEOutput, build_vae


def _inputs(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(5, 3, generator=g, dtype=dtype).requires_grad_()
    mu = torch.randn(6, 3, generator=g, dtype=dtype).requires_grad_()
    logvar = (0.3 * torch.randn(6, 3, generator=g, dtype=dtype)).requires_grad_()
    log_w = torch.randn(5, 6, generator=g, dtype=dtype).requires_grad_()
    return z, mu, logvar, log_w


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weights", ["none", "dense", "mss"])
def test_opcheck(dtype, weights):
    z, mu, logvar, log_w = _inputs(dtype)
    member = sets_to_membership([[0], [1, 2], [0, 1, 2]], 3, dtype=torch.float64)
    dense = log_w if weights == "dense" else None
    structured = structured_args(mss_log_weights(5, 100)) if weights == "mss" else []
    results = torch.library.opcheck(group_logsumexp_op, (z, mu, logvar, member, dense, structured, "torch"))
    assert set(results.values()) == {"SUCCESS"}, results


def _step(vae, loss, x, eps):
    mu, logvar = vae.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = vae.decode(z)
    total, _ = loss.objective(VAEOutput(mu, logvar, z, vae.log_likelihood(x, logits), logits))
    return total


@pytest.mark.parametrize(
    "estimator, backend",
    [("mss", "aot_eager"), ("mws", "aot_eager"), pytest.param("mss", "inductor", marks=pytest.mark.slow)],
)
def test_compiled_stcvae_step_has_no_graph_break_and_matches_eager(estimator, backend):
    torch.manual_seed(0)
    vae = build_vae("mlp", 4, 16, image_shape=(1, 6, 6))
    loss = build_loss("beta_stcvae", dataset_size=1000, latent_dim=4, group_size=2, estimator=estimator)
    x, eps = torch.rand(8, 1, 6, 6), torch.randn(8, 4)
    torch._dynamo.reset()
    compiled = torch.compile(_step, fullgraph=True, backend=backend)  # fullgraph: a graph break raises
    results = []
    for fn in (_step, compiled):
        vae.zero_grad()
        total = fn(vae, loss, x, eps)
        total.backward()
        results.append((total.detach(), [p.grad.clone() for p in vae.parameters()]))
    (eager, eager_grads), (comp, comp_grads) = results
    torch.testing.assert_close(comp, eager, rtol=1e-5, atol=1e-5)
    for g, h in zip(comp_grads, eager_grads):
        torch.testing.assert_close(g, h, rtol=1e-4, atol=1e-5)
    assert max(float(g.abs().max()) for g in eager_grads) > 1e-3  # the gradients are not trivially zero


def test_compiled_graph_still_refuses_bad_values():
    # The value checks run inside the op, at run time, so a compiled graph refuses NaN like eager mode.
    z, mu, logvar, _ = (t.detach() for t in _inputs(torch.float32))
    member = sets_to_membership([[0, 1, 2]], 3, dtype=torch.float64)
    torch._dynamo.reset()
    fn = torch.compile(lambda z, mu, lv: group_logsumexp_op(z, mu, lv, member, None, [], ""), fullgraph=True)
    fn(z, mu, logvar)
    mu[2, 1] = float("nan")
    with pytest.raises(ValueError, match="mu"):
        fn(z, mu, logvar)


@pytest.mark.parametrize("estimator", ["mss", "exact"])
def test_a_compiled_step_with_posterior_total_correlation_has_no_graph_break(estimator):
    # Posterior(...).total_correlation(), the API the README shows for a VAE, computed its standard error with
    # .item() and numpy, which ended a fullgraph graph; now the error is a 0-d tensor inside the graph.
    from tcdecomp import Posterior

    g = torch.Generator().manual_seed(4)
    mu = torch.randn(12, 4, generator=g, requires_grad=True)
    logvar = (0.2 * torch.randn(12, 4, generator=g)).requires_grad_()
    eps = torch.randn(12, 4, generator=g)

    def step(mu, logvar):
        z = mu + torch.exp(0.5 * logvar) * eps
        size = None if estimator == "exact" else 1000
        tc = Posterior(mu, logvar, z=z, dataset_size=size, estimator=estimator).total_correlation()
        return tc, tc.stderr

    eager, eager_error = step(mu, logvar)
    compiled, compiled_error = torch.compile(step, fullgraph=True, backend="aot_eager")(mu, logvar)
    torch.testing.assert_close(compiled, eager)
    assert isinstance(eager_error, float) and float(compiled_error) == pytest.approx(eager_error, rel=1e-5)
    (g_eager,) = torch.autograd.grad(eager, mu)
    (g_compiled,) = torch.autograd.grad(compiled, mu)
    torch.testing.assert_close(g_compiled, g_eager)
