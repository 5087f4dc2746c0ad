"""The Triton kernel against a float64 reference computed on the float32-rounded inputs.

On the CPU it runs under the Triton interpreter (TRITON_INTERPRET=1, set in conftest.py
before triton is imported), so sizes stay small but span several ragged tiles. On a GPU
machine (TRITON_INTERPRET=0) the same tests compile the kernel for real.
"""

import math
import os

import pytest
import torch

from tcdecomp.kernels import group_logsumexp, mss_log_weights, naive_group_logsumexp, resolve_backend, triton_available
from tcdecomp.kernels.weights import bank_log_weights

from . import tolerances

triton_glse = pytest.importorskip("tcdecomp.kernels.triton_glse") if triton_available() else None

pytestmark = [
    pytest.mark.skipif(not triton_available(), reason="triton is not installed"),
    # Numpy overflow warnings (RuntimeWarning) in the interpreter mean padded lanes computed garbage: fail on
    # them. Other warnings, e.g. triton 3.6 interpreter's own numpy deprecations, are not ours.
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cuda" if torch.cuda.is_available() and not INTERPRET else "cpu"
if DEVICE == "cpu" and not INTERPRET:
    pytestmark.append(pytest.mark.skip(reason="no GPU and the Triton interpreter is off"))


def make(B, M, D, seed, logvar_range=(-3.0, 1.0), mu_scale=1.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(M, D, generator=g) * mu_scale
    lo, hi = logvar_range
    logvar = torch.rand(M, D, generator=g) * (hi - lo) + lo
    pick = torch.randint(M, (B,), generator=g)
    z = mu[pick] + torch.randn(B, D, generator=g) * torch.exp(0.5 * logvar[pick]) * 1.5
    return [t.to(dtype).to(DEVICE).requires_grad_(True) for t in (z, mu, logvar)]


def random_sets(D, extra, seed):
    g = torch.Generator().manual_seed(seed)
    sets = [list(range(D))] + [[k] for k in range(min(D, 3))]
    for _ in range(extra):
        size = int(torch.randint(1, D + 1, (1,), generator=g))
        sets.append(sorted(torch.randperm(D, generator=g)[:size].tolist()))
    return sets


def check(z, mu, logvar, sets, log_w=None):
    out = group_logsumexp(z, mu, logvar, sets, log_w, backend="triton")
    assert out.dtype == torch.float32 and out.device.type == DEVICE
    # Reference: float64 on the float32-rounded inputs, so only the kernel's arithmetic differs.
    ref_in = [t.detach().float().double().cpu().requires_grad_(True) for t in (z, mu, logvar)]
    ref_w = log_w.detach().double().cpu() if isinstance(log_w, torch.Tensor) else log_w
    ref = naive_group_logsumexp(*ref_in, sets, ref_w)
    torch.testing.assert_close(out.detach().double().cpu(), ref.detach(), **tolerances.forward("triton", z.dtype))
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = torch.autograd.grad(out, (z, mu, logvar), grad.float().to(DEVICE))
    want = torch.autograd.grad(ref, ref_in, grad)
    tolerances.assert_gradients_close(got, want, "triton", z.dtype)


@pytest.mark.parametrize("weights", ["none", "mss", "dense"])
def test_ragged_tiles_random_sets(weights):
    # B, M not multiples of the tiles (32 x 64), two or more tiles per axis, B != M.
    B, M, D = (70, 70, 6) if weights == "mss" else (37, 75, 6)
    z, mu, logvar = make(B, M, D, seed=3)
    log_w = {
        "none": None,
        "mss": mss_log_weights(M, 500),
        "dense": (torch.randn(B, M, generator=torch.Generator().manual_seed(2)) - 1).to(DEVICE),
    }[weights]
    check(z, mu, logvar, random_sets(D, 3, seed=4), log_w)


def test_bank_weights_more_components_than_rows():
    z, mu, logvar = make(33, 90, 4, seed=5)
    check(z, mu, logvar, [[0, 1, 2, 3], [1], [2, 3]], bank_log_weights(33, 90, 400))


def test_extreme_logvar_small_sigma_large_mu():
    z, mu, logvar = make(40, 70, 5, seed=6, logvar_range=(-20.0, 10.0), mu_scale=10.0)
    check(z, mu, logvar, random_sets(5, 2, seed=7))


def test_d64_pairs_and_joint_small_m():
    D = 64
    z, mu, logvar = make(17, 19, D, seed=8)
    check(z, mu, logvar, [list(range(D))] + [[2 * i, 2 * i + 1] for i in range(D // 2)])


def test_without_splitting_the_reduction(monkeypatch):
    monkeypatch.setattr(triton_glse, "target_programs", lambda device: 1)
    z, mu, logvar = make(35, 130, 3, seed=9)
    check(z, mu, logvar, [[0, 1, 2], [0, 2]])


@pytest.mark.skipif(not INTERPRET, reason="on a GPU the autotuner picks the config")
@pytest.mark.parametrize("config", triton_glse.LAUNCH_CONFIGS if triton_glse else [])
def test_every_launch_config(monkeypatch, config):
    # The interpreter runs one config; every config of the autotune space must give the same numbers.
    monkeypatch.setattr(triton_glse, "interpreter_config", config)
    z, mu, logvar = make(37, 75, 4, seed=12)
    log_w = (torch.randn(37, 75, generator=torch.Generator().manual_seed(13)) - 1).to(DEVICE)
    check(z, mu, logvar, random_sets(4, 2, seed=14), log_w)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype):
    z, mu, logvar = make(36, 66, 3, seed=10, dtype=dtype)
    out = group_logsumexp(z, mu, logvar, [[0, 1, 2], [1]], backend="triton")
    ref = naive_group_logsumexp(*(t.detach().double().cpu() for t in (z, mu, logvar)), [[0, 1, 2], [1]])
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.detach().double().cpu(), ref, **tolerances.forward("triton", dtype))
    out.sum().backward()
    assert z.grad.dtype == dtype and torch.isfinite(z.grad.float()).all()


def test_minus_inf_weight_rows_give_minus_inf_and_finite_gradients():
    z, mu, logvar = make(5, 70, 2, seed=11)
    log_w = torch.zeros(5, 70, device=DEVICE)
    log_w[2] = -math.inf
    # group_logsumexp refuses such a row; the kernel itself must keep it from spoiling the others.
    prep = triton_glse.Prepared(*(t.detach() for t in (z, mu, logvar)), torch.ones(2, 1, device=DEVICE), log_w)
    out = triton_glse.forward(prep)
    assert out[2, 0] == -math.inf and torch.isfinite(out[[0, 1, 3, 4]]).all()
    grad_out = torch.ones_like(out)
    grad_out[2] = 0.0  # what out[[0, 1, 3, 4]].sum() sends back
    for g in triton_glse.backward(prep, out, grad_out, True, True, True):
        assert torch.isfinite(g).all()


def test_dispatch():
    z = torch.zeros(3, 2, device=DEVICE)
    assert resolve_backend(z, "torch") == "torch"
    assert resolve_backend(z, "triton") == "triton"
    assert resolve_backend(z, "auto") == ("triton" if DEVICE == "cuda" else "torch")
    with pytest.raises(ValueError, match="float64"):
        resolve_backend(z.double(), "triton")
    with pytest.raises(ValueError, match="backend"):
        resolve_backend(z, "cuda")
