"""How close each backend's group_logsumexp must come to its float64 reference, per input dtype.

The reference is ``naive_group_logsumexp`` in float64 on the same (already rounded) inputs, so only the
backend's own arithmetic differs. ``forward`` is (rtol, atol) for the values; ``gradient`` bounds the largest
gradient error relative to the largest reference gradient (at least 1). Why each row is what it is:

* torch (the chunked code) in float64 differs from the reference only in summation order;
* the fused CPU kernel (Inductor C++) in float64 likewise, with one more reassociation;
* float32 anywhere: logsumexp of N terms carries a few ulp per term of the max-shifted sum (~1e-6
  relative), gradients one more rounding per tile;
* half inputs are computed in float32 (their rounding is in the reference's inputs);
* Triton's exp/log are the GPU's fast approximations (a few ulp).
"""

import torch

#: (backend, input dtype) -> forward (rtol, atol), gradient relative error
TOLERANCES = {
    ("torch", torch.float64): ((1e-10, 1e-10), 1e-9),
    ("torch", torch.float32): ((1e-5, 1e-5), 1e-4),
    ("torch", torch.float16): ((1e-5, 1e-5), 1e-4),
    ("torch", torch.bfloat16): ((1e-5, 1e-5), 1e-4),
    ("fused_cpu", torch.float64): ((1e-12, 1e-12), 1e-11),
    ("fused_cpu", torch.float32): ((2e-5, 2e-5), 2e-4),
    ("triton", torch.float32): ((1e-5, 1e-5), 1e-4),
    ("triton", torch.float16): ((1e-5, 1e-5), 1e-4),
    ("triton", torch.bfloat16): ((1e-5, 1e-5), 1e-4),
}

#: float32 with logvar in [-20, 10] and |mu| up to 10: log-densities reach 1e3 in magnitude, so the absolute
#: tolerance is 1e-3 (still 1e-6 relative)
EXTREME_FLOAT32 = (1e-5, 1e-3)


def forward(backend: str, dtype: torch.dtype) -> dict:
    """``rtol`` and ``atol`` for ``torch.testing.assert_close`` on the values."""
    rtol, atol = TOLERANCES[(backend, dtype)][0]
    return {"rtol": rtol, "atol": atol}


def gradient(backend: str, dtype: torch.dtype) -> float:
    """The largest allowed |grad - reference| / max(|reference|, 1)."""
    return TOLERANCES[(backend, dtype)][1]


def assert_gradients_close(got, want, backend: str, dtype: torch.dtype, names=("z", "mu", "logvar")) -> None:
    bound = gradient(backend, dtype)
    for name, a, b in zip(names, got, want):
        b = b.detach().double().cpu()
        err = float((a.detach().double().cpu() - b).abs().max() / b.abs().max().clamp_min(1.0))
        assert err <= bound, f"d{name} relative error {err:.2e} > {bound:.0e} ({backend}, {dtype})"
