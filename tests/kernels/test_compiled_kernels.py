"""Every Triton kernel variant the dispatcher can launch compiles for sm_80 and sm_90 (no GPU needed),
without spilling to local memory and within the register budget below.

The interpreter (the other kernel tests) runs the kernels' logic; this test runs the real compiler, which
rejects code the interpreter accepts (plain globals in jit functions, for one), and reads each cubin's
resource usage with Triton's bundled cuobjdump. Compiled artefacts are cached in Triton's cache directory
(TRITON_CACHE_DIR, default ~/.triton/cache), so repeated runs are fast.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

#: registers per thread every kernel may use at every config of the autotune space (255 is the hardware limit):
#: 128 keeps at least 16 warps resident per SM at 4 to 16 warps a block (docs/kernel.md).
REGISTER_BUDGET = {"_forward_kernel": 128, "_dz_kernel": 128, "_dmu_kernel": 128}

SCRIPT = r"""
import json, sys
from tcdecomp.kernels.resources import CAPABILITIES, compile_variant, resource_usage, variants
rows = []
for v in variants():
    for cap in CAPABILITIES:
        u = resource_usage(compile_variant(v, cap))
        rows.append({"label": v.label(), "kernel": v.kernel, "capability": cap, "registers": u.registers,
                     "local": u.local_bytes, "shared": u.shared_bytes})
json.dump(rows, sys.stdout)
"""


@pytest.fixture(scope="module")
def usage():
    # A fresh process without TRITON_INTERPRET (the test session sets it before triton is imported).
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    return json.loads(done.stdout)


def test_every_variant_compiles_for_sm80_and_sm90(usage):
    from tcdecomp.kernels.resources import CAPABILITIES, variants

    assert len(usage) == len(variants()) * len(CAPABILITIES)
    assert {r["capability"] for r in usage} == {80, 90}


def test_no_variant_spills_to_local_memory(usage):
    spilled = [f"{r['label']} sm_{r['capability']}: {r['local']} B" for r in usage if r["local"] > 0]
    assert not spilled, spilled


def test_registers_within_budget(usage):
    over = [
        f"{r['label']} sm_{r['capability']}: {r['registers']}"
        for r in usage
        if r["registers"] > REGISTER_BUDGET[r["kernel"]]
    ]
    assert not over, over
