"""Which path computes a call, and at what precision: backend resolution, the float64 promotion test
and the value checks, run inside the custom op (they read the data, which a compiled graph cannot)."""

from __future__ import annotations

import functools
import logging
import math
import os

import torch

from .._checks import check_finite_tensor
from .environment import interpreting

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "triton")
#: exp(-logvar) leaves float64's normal range beyond this |logvar|: such inputs are refused.
LOGVAR_LIMIT = 700.0
#: the bound on D * max (z - mu)^2 / var that float64 evaluates without overflow (as a log).
FLOAT64_QUADRATIC_LIMIT = math.log(1e300)
#: below these, float32 neither overflows (exp(80) = 5.5e34) nor loses exp(-logvar) to subnormals,
#: so float32 inputs are computed in float32; beyond them they are promoted to float64.
FLOAT32_LOGVAR_LIMIT = 80.0
FLOAT32_QUADRATIC_LIMIT = math.log(1e30)


@functools.cache
def triton_available() -> bool:
    """Whether the Triton kernel can be imported here."""
    try:
        from . import triton_glse  # noqa: F401
    except Exception as exc:  # no triton, or a triton that fails to load: fall back to torch
        log.info("Triton kernel unavailable (%s); using the chunked torch path", exc)
        return False
    return True


def resolve_backend(z: torch.Tensor, backend: str | None, needs_float64: bool = False) -> str:
    """Which implementation runs for ``z``: "torch" or "triton" (float32 only)."""
    backend = backend or os.environ.get("TCDECOMP_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} (argument or TCDECOMP_BACKEND), got {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "auto":
        use = z.is_cuda and z.dtype != torch.float64 and not needs_float64 and triton_available()
        return "triton" if use else "torch"
    if not triton_available():
        raise ValueError("backend='triton' needs the triton package (pip install triton, Linux); use backend='torch'")
    if z.dtype == torch.float64:
        raise ValueError(
            "backend='triton' computes in float32; pass float32/16 inputs or use backend='torch' for float64"
        )
    if needs_float64:
        raise ValueError(
            "backend='triton' computes in float32, but these logvar/z/mu magnitudes need float64; "
            "use backend='torch' (or auto)"
        )
    if not z.is_cuda and not interpreting():
        raise ValueError("backend='triton' needs CUDA tensors (or TRITON_INTERPRET=1 set before importing triton)")
    return "triton"


def check_log_w_values(log_w: torch.Tensor) -> None:
    w = log_w.detach()
    if bool(torch.isnan(w).any() | (w == math.inf).any()):
        bad = torch.nonzero(torch.isnan(w) | (w == math.inf))[0].tolist()
        raise ValueError(
            f"log_w holds NaN or +inf (first at index {tuple(bad)}); log-weights are finite or -inf (weight 0)"
        )
    empty = ~torch.isfinite(w).any(1)
    if bool(empty.any()):
        row = int(torch.nonzero(empty)[0])
        raise ValueError(
            f"log_w row {row} is -inf everywhere: every row needs at least one component of positive weight"
        )


def needs_float64(z, mu, logvar) -> bool:
    """Check that the inputs are finite and representable; whether float32 inputs must be computed in float64.

    The quadratic (z - mu)^2 exp(-logvar) overflows or loses exp(-logvar) to subnormals in
    float32 long before float64; such inputs (logvar <= -89, logvar >= 100, |mu| ~ 1e6 with
    logvar = -60, ...) are promoted rather than turned into NaN or -inf.
    """
    # One reduction and one device sync per call (this runs every training step); NaN and inf propagate into
    # these extremes, and only then is each tensor searched for the culprit's index.
    stats = torch.stack(
        [
            logvar.detach().amin().double(),
            logvar.detach().amax().double(),
            z.detach().abs().amax().double(),
            mu.detach().abs().amax().double(),
        ]
    ).tolist()
    if not all(math.isfinite(v) for v in stats):
        for name, t in (("z", z), ("mu", mu), ("logvar", logvar)):
            check_finite_tensor(t.detach(), name)
    lv_min, lv_max, z_max, mu_max = stats
    worst = max(-lv_min, lv_max)
    if worst > LOGVAR_LIMIT:
        value = lv_min if -lv_min >= lv_max else lv_max
        raise ValueError(
            f"logvar holds {value:.4g}: exp(-logvar) leaves float64's range beyond |logvar| > "
            f"{LOGVAR_LIMIT:.0f}; clamp the encoder's log-variance"
        )
    span = z_max + mu_max
    quadratic = 2.0 * math.log(span) - lv_min + math.log(z.shape[1]) if span > 0 else -math.inf
    if quadratic > FLOAT64_QUADRATIC_LIMIT:
        raise ValueError(
            f"z and mu reach {span:.3g} with variances down to exp({lv_min:.4g}): (z - mu)^2 / var "
            "overflows float64; rescale z and mu, or raise logvar"
        )
    if z.dtype == torch.float64:
        return False
    return worst > FLOAT32_LOGVAR_LIMIT or quadratic > FLOAT32_QUADRATIC_LIMIT
