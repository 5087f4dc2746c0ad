"""The fused CPU forward (torch.compile of the tile function) against the float64 reference, ragged tiles and
chunks included, and its fallback to the chunked code when compiling fails."""

import logging

import pytest
import torch

from tcdecomp.kernels import fused_cpu, group_logsumexp, naive_group_logsumexp

from . import tolerances

SETS = [[0, 1, 2, 3, 4], [0], [3], [1, 2], [2, 3, 4]]


@pytest.fixture
def small_tiles(monkeypatch):
    # Every call takes the fused path, over several row tiles and column chunks with ragged ends.
    monkeypatch.setattr(fused_cpu, "MIN_PAIRS", 0)
    monkeypatch.setattr(fused_cpu, "ROWS", 16)
    monkeypatch.setattr(fused_cpu, "COLUMNS", 64)
    monkeypatch.setattr(fused_cpu, "_broken", False)


def _inputs(dtype, B=37, M=150, D=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(M, D, generator=g, dtype=torch.float64) * 0.8
    logvar = torch.rand(M, D, generator=g, dtype=torch.float64) * 3 - 4
    z = mu[torch.randint(M, (B,), generator=g)] + torch.randn(B, D, generator=g, dtype=torch.float64)
    return [t.to(dtype) for t in (z, mu, logvar)]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_forward_and_gradients_match_the_reference(small_tiles, dtype):
    z, mu, logvar = (t.requires_grad_(True) for t in _inputs(dtype))
    out = group_logsumexp(z, mu, logvar, SETS)
    assert fused_cpu._compiled.cache_info().currsize > 0 and not fused_cpu._broken  # the fused path ran
    ref_in = [t.detach().double().requires_grad_(True) for t in (z, mu, logvar)]
    ref = naive_group_logsumexp(*ref_in, SETS)
    torch.testing.assert_close(out.detach().double(), ref.detach(), **tolerances.forward("fused_cpu", dtype))
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = torch.autograd.grad(out, (z, mu, logvar), grad.to(out.dtype))
    want = torch.autograd.grad(ref, ref_in, grad)
    tolerances.assert_gradients_close(got, want, "fused_cpu", dtype)


def test_a_failed_compile_falls_back_to_the_chunked_code(small_tiles, monkeypatch, caplog):
    def broken(sets, dtype):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(fused_cpu, "_compiled", broken)
    z, mu, logvar = _inputs(torch.float64)
    with caplog.at_level(logging.WARNING, logger="tcdecomp.kernels.fused_cpu"):
        out = group_logsumexp(z, mu, logvar, SETS)
    assert fused_cpu._broken and "chunked torch code" in caplog.text
    torch.testing.assert_close(out, naive_group_logsumexp(z, mu, logvar, SETS), rtol=1e-12, atol=1e-12)


def test_fused_path_applies_only_to_large_unweighted_cpu_calls(monkeypatch):
    monkeypatch.setattr(fused_cpu, "_broken", False)
    z = torch.zeros(3, 2)
    assert not fused_cpu.applies(z, 10, None)  # too few pairs
    monkeypatch.setattr(fused_cpu, "MIN_PAIRS", 0)
    assert fused_cpu.applies(z, 10, None)
    assert not fused_cpu.applies(z, 10, torch.zeros(3, 10))  # weights: the chunked code
    monkeypatch.setenv("TCDECOMP_FUSED_CPU", "0")
    assert not fused_cpu.applies(z, 10, None)
