"""Ahead-of-time compilation of the Triton kernels for a GPU this machine may not have.

Triton compiles to PTX and cubin without a device (``triton.compile(ASTSource(...),
target=GPUTarget("cuda", capability, 32))``), and the ``cuobjdump`` bundled with Triton reads
registers, local memory (spills) and shared memory from the cubin. This catches what the
interpreter cannot (code that fails only when compiled) and measures the register budget,
which sets occupancy. Used by the compile test and by ``benchmarks/kernel_resources.py``.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

#: the GPU generations checked: Ampere (A100) and Hopper (H100/H200)
CAPABILITIES = (80, 90)
#: input dtypes the dispatcher launches with (z and a dense log_w keep theirs; the rest is float32)
INPUT_DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Variant:
    """One launchable specialisation of one kernel."""

    kernel: str
    weights: int
    want_logw: bool
    dtype: str
    block_b: int
    block_m: int
    num_warps: int
    num_stages: int

    def label(self) -> str:
        logw = ", dlog_w" if self.want_logw else ""
        return (
            f"{self.kernel} weights={self.weights}{logw} {self.dtype} "
            f"{self.block_b}x{self.block_m} warps={self.num_warps} stages={self.num_stages}"
        )


@dataclass(frozen=True)
class Usage:
    registers: int
    local_bytes: int
    shared_bytes: int


def variants() -> list[Variant]:
    """Every specialisation the dispatcher can launch, at every launch configuration in use."""
    from . import triton_glse as k

    out = []
    for config in k.LAUNCH_CONFIGS:
        for dtype, weights in itertools.product(INPUT_DTYPES, (k.NO_WEIGHTS, k.STRUCTURED_WEIGHTS, k.DENSE_WEIGHTS)):
            out.append(Variant("_forward_kernel", weights, False, dtype, *config))
            out.append(Variant("_dz_kernel", weights, False, dtype, *config))
            for want in (False, True) if weights == k.DENSE_WEIGHTS else (False,):
                out.append(Variant("_dmu_kernel", weights, want, dtype, *config))
    return out


def _signature(fn, dtype: str) -> dict:
    signature = {}
    for param in fn.params:
        name = param.name
        if param.is_constexpr:
            signature[name] = "constexpr"
        elif name in ("set_ptr", "set_dims_ptr"):
            signature[name] = "*i32"
        elif name in ("z_ptr", "logw_ptr"):
            signature[name] = f"*{dtype}"
        elif name.endswith("_ptr"):
            signature[name] = "*fp32"
        elif name in ("own", "designated", "rest"):
            signature[name] = "fp32"
        else:
            signature[name] = "i32"
    return signature


def compile_variant(variant: Variant, capability: int):
    """The compiled kernel (PTX and cubin in ``.asm``) of ``variant`` for ``sm_<capability>``."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from . import triton_glse as k

    fn = getattr(k, variant.kernel).fn  # the jit function under the autotuner
    constexprs = {"WEIGHTS": variant.weights, "BLOCK_B": variant.block_b, "BLOCK_M": variant.block_m}
    if "WANT_LOGW" in fn.arg_names:
        constexprs["WANT_LOGW"] = variant.want_logw
    source = ASTSource(fn=fn, signature=_signature(fn, variant.dtype), constexprs=constexprs)
    options = {"num_warps": variant.num_warps, "num_stages": variant.num_stages}
    return triton.compile(source, target=GPUTarget("cuda", capability, 32), options=options)


def cuobjdump() -> str:
    import triton

    return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def resource_usage(compiled) -> Usage:
    """Registers per thread, local memory (spills) and shared memory of a compiled kernel's cubin."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as fh:
        fh.write(compiled.asm["cubin"])
        fh.flush()
        text = subprocess.run(
            [cuobjdump(), "--dump-resource-usage", fh.name], capture_output=True, text=True, check=True
        ).stdout
    found = re.search(r"REG:(\d+) STACK:\d+ SHARED:(\d+) LOCAL:(\d+)", text)
    if found is None:
        raise RuntimeError(f"cuobjdump printed no resource usage: {text[-300:]}")
    return Usage(registers=int(found.group(1)), local_bytes=int(found.group(3)), shared_bytes=int(found.group(2)))


def warps_per_sm(registers: int, num_warps: int, capability: int) -> int:
    """Resident warps per SM allowed by registers alone (65,536 per SM, allocated per warp in units of 256;
    at most 64 warps on sm_80 and sm_90)."""
    per_warp = -(-registers * 32 // 256) * 256
    blocks = 65536 // (per_warp * num_warps)
    return min(blocks * num_warps, 64)
