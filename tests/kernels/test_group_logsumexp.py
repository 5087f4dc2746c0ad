import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tcdecomp.kernels import chunked, group_logsumexp, mss_log_weights, naive_group_logsumexp
from tcdecomp.kernels.weights import bank_log_weights

from . import tolerances


def inputs(B, M, D, seed, dtype=torch.float64, logvar_range=(-3.0, 1.0), mu_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(M, D, generator=g, dtype=torch.float64) * mu_scale
    lo, hi = logvar_range
    logvar = torch.rand(M, D, generator=g, dtype=torch.float64) * (hi - lo) + lo
    z = mu[torch.randint(M, (B,), generator=g)] + torch.randn(B, D, generator=g, dtype=torch.float64) * torch.exp(
        0.5 * logvar.mean(0)
    )
    return [t.to(dtype).requires_grad_(True) for t in (z, mu, logvar)]


def random_sets(D, S, seed):
    g = torch.Generator().manual_seed(seed)
    sets = [list(range(D))] + [[k] for k in range(D)]
    while len(sets) < S:
        size = int(torch.randint(1, D + 1, (1,), generator=g))
        sets.append(sorted(torch.randperm(D, generator=g)[:size].tolist()))
    return sets


def compare(z, mu, logvar, sets, log_w):
    out = group_logsumexp(z, mu, logvar, sets, log_w)
    ref_inputs = [t.detach().double().requires_grad_(True) for t in (z, mu, logvar)]
    ref = naive_group_logsumexp(*ref_inputs, sets, log_w.double() if isinstance(log_w, torch.Tensor) else log_w)
    assert out.shape == ref.shape
    torch.testing.assert_close(out.double(), ref.detach(), **tolerances.forward("torch", z.dtype))
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = torch.autograd.grad(out, (z, mu, logvar), grad.to(out.dtype))
    want = torch.autograd.grad(ref, ref_inputs, grad)
    tolerances.assert_gradients_close(got, want, "torch", z.dtype)


@pytest.mark.parametrize("B, M, D, S", [(7, 5, 3, 6), (37, 53, 6, 12), (64, 19, 10, 15), (3, 130, 2, 3)])
@pytest.mark.parametrize("weights", ["none", "dense", "mss", "bank"])
def test_matches_naive_float64(B, M, D, S, weights, monkeypatch):
    # Tiny tiles so that every size here spans several ragged (b, m) tiles.
    monkeypatch.setattr(chunked, "TILE_ELEMENTS", 97)
    z, mu, logvar = inputs(B, M, D, seed=B * M)
    if weights == "mss" and B != M:
        z, mu, logvar = inputs(M, M, D, seed=B * M)
    if weights == "bank" and B > M:
        # Structured weights put row b's own example at column b: at most M rows.
        z = z.detach()[:M].requires_grad_(True)
    log_w = {
        "none": None,
        "dense": torch.randn(z.shape[0], M, dtype=torch.float64, generator=torch.Generator().manual_seed(1)),
        "mss": mss_log_weights(M, 3 * M) if weights == "mss" else None,
        "bank": bank_log_weights(min(z.shape[0], M), M, 5 * M),
    }[weights]
    compare(z, mu, logvar, random_sets(D, S, seed=D), log_w)


def test_dense_log_w_gradient():
    z, mu, logvar = inputs(9, 11, 3, seed=2)
    log_w = torch.randn(9, 11, dtype=torch.float64, requires_grad=True)
    f = lambda lw: group_logsumexp(z.detach(), mu.detach(), logvar.detach(), [[0, 1, 2], [1]], lw)
    assert torch.autograd.gradcheck(f, (log_w,))


def test_gradcheck_all_inputs():
    z, mu, logvar = inputs(6, 8, 3, seed=4)
    f = lambda a, b, c: group_logsumexp(
        a, b, c, [[0, 1, 2], [0], [2, 1]], mss_log_weights(8, 20) if a.shape[0] == 8 else None
    )
    assert torch.autograd.gradcheck(f, (z, mu, logvar))


def test_extreme_logvar_and_large_means_float32():
    # Extreme logvar (-20..10), small sigma with large |mu|: float32 stays within tolerance.
    z, mu, logvar = inputs(33, 41, 5, seed=5, logvar_range=(-20.0, 10.0), mu_scale=10.0)
    sets = random_sets(5, 9, seed=1)
    out = group_logsumexp(z.float(), mu.float(), logvar.float(), sets)
    # The reference runs in float64 on the float32-rounded inputs, so only the arithmetic differs.
    ref = naive_group_logsumexp(z.float().double(), mu.float().double(), logvar.float().double(), sets)
    assert out.dtype == torch.float32
    rtol, atol = tolerances.EXTREME_FLOAT32
    torch.testing.assert_close(out.double(), ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_compute_and_return_float32(dtype):
    z, mu, logvar = inputs(10, 12, 4, seed=6)
    zh, muh, lvh = (t.detach().to(dtype).requires_grad_(True) for t in (z, mu, logvar))
    out = group_logsumexp(zh, muh, lvh, [[0, 1, 2, 3], [2]])
    assert out.dtype == torch.float32
    ref = naive_group_logsumexp(zh.double(), muh.double(), lvh.double(), [[0, 1, 2, 3], [2]])
    torch.testing.assert_close(out.double(), ref.detach(), **tolerances.forward("torch", dtype))
    out.sum().backward()
    assert zh.grad.dtype == dtype and torch.isfinite(zh.grad.float()).all()


def test_all_minus_inf_weights_give_minus_inf_and_no_nan_gradient():
    # The public entry refuses such a row (a -inf result is no estimate); the chunked path itself
    # must still keep it from turning into NaN gradients for the other rows.
    z, mu, logvar = inputs(4, 5, 2, seed=7)
    log_w = torch.zeros(4, 5, dtype=torch.float64)
    log_w[1] = -math.inf
    with pytest.raises(ValueError, match="log_w row 1"):
        group_logsumexp(z, mu, logvar, [[0, 1]], log_w)
    z, mu, logvar = (t.detach() for t in (z, mu, logvar))
    member = torch.ones(2, 1, dtype=torch.float64)
    out = chunked.forward(z, mu, logvar, member, log_w)
    assert out[1, 0] == -math.inf and torch.isfinite(out[[0, 2, 3]]).all()
    grad_out = torch.ones_like(out)
    grad_out[1] = 0.0  # what out[[0, 2, 3]].sum() sends back
    for g in chunked.backward(z, mu, logvar, member, log_w, out, grad_out, want_log_w=True):
        assert torch.isfinite(g).all()


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any aten op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_never_materialises_b_by_m_by_d(monkeypatch):
    monkeypatch.setattr(chunked, "TILE_ELEMENTS", 8192)
    B, M, D = 600, 700, 16
    z, mu, logvar = inputs(B, M, D, seed=8, dtype=torch.float32)
    sets = [list(range(D))] + [[2 * i, 2 * i + 1] for i in range(D // 2)]
    with _LargestTensor() as probe:
        out = group_logsumexp(z, mu, logvar, sets, mss_log_weights(B, 5000) if B == M else None)
        out.sum().backward()
    # Nothing beyond one tile or an input/output-sized tensor; the naive version makes B*M*D = 6.7M elements.
    assert probe.largest <= max(chunked.TILE_ELEMENTS, B * len(sets), B * D, M * D)
    assert probe.largest < B * M * D / 100
