"""The arithmetic lower bound of one grouped log-density logsumexp call on a GPU.

The model (docs/math.md#arithmetic-lower-bound-of-the-kernel): every (b, m) pair needs, per dim,
a subtraction, a square and a scaling (3 D), then per set the sum of its dims' terms and the
constant, maximum and sum of the online logsumexp (sum_s |s| + 3 S), and one exp per set. The
backward recomputes all of that, one more exp per (b, m, s), collects each dim's weights from its
sets (sum_s |s|) and accumulates dz, dmu and dlogvar (6 D). A call can finish no sooner than its
FP32 operations on the FP32 lanes or its exps on the special-function units, whichever is longer;
inputs and outputs are O((B + M) D + B S) and never bound it.
"""

from __future__ import annotations

import shutil
import subprocess

# Results per clock per SM, from the CUDA C++ Programming Guide's "Arithmetic Instructions" table:
# 32-bit floating-point add, multiply, multiply-add; and 32-bit exp2 (the special-function unit).
FP32_PER_CLOCK = {(8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128}
EXP2_PER_CLOCK = {(8, 0): 16, (8, 6): 16, (8, 7): 16, (8, 9): 16, (9, 0): 16}


def operation_counts(B: int, M: int, D: int, sets, backward: bool) -> tuple[int, int]:
    """(FP32 operations, exps) of one call."""
    S = len(sets)
    members = sum(len(s) for s in sets)
    forward = 3 * D + members + 3 * S
    ops, exps = B * M * forward, B * M * S
    if backward:
        ops += B * M * (forward + members + 6 * D)
        exps += B * M * S
    return ops, exps


def max_sm_clock_hz(index: int = 0) -> float | None:
    """The GPU's maximum SM clock from nvidia-smi, or None where it cannot be read."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", f"--id={index}", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"]
    try:
        return float(subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()) * 1e6
    except (ValueError, subprocess.SubprocessError):
        return None


def lower_bound_seconds(counts: tuple[int, int], capability, sms: int, clock_hz: float | None) -> float | None:
    """The larger of the FP32 and exp times at full throughput; None for an unknown GPU or clock."""
    capability = tuple(capability)
    if clock_hz is None or capability not in FP32_PER_CLOCK:
        return None
    ops, exps = counts
    return max(
        ops / (FP32_PER_CLOCK[capability] * sms * clock_hz), exps / (EXP2_PER_CLOCK[capability] * sms * clock_hz)
    )


# -- the CPU ----------------------------------------------------------------------------------------------
#: FP32 results per clock per core of the multiply/FMA pipes: two 256-bit FMA pipes (AMD Zen 3/4, Intel
#: client cores; Zen 4 runs AVX-512 as two 256-bit halves). float64 gets half.
CPU_FMA_LANES_FP32 = 16
#: multiply/FMA-pipe operations of one vectorised exp (range reduction and a degree-6 polynomial)
CPU_OPS_PER_EXP = 10


def cpu_forward_ops(D: int, sets) -> tuple[int, int]:
    """(multiply/FMA-pipe, add-pipe) FP operations of one (b, m) pair of the unweighted forward: per dim a
    square and a scaling (2D, FMA) and a subtraction (D, add); per set its sum (|s| - 1 adds), the constant
    (1 FMA), the maximum, the shift and the sum (3 adds) and an exp (CPU_OPS_PER_EXP)."""
    S, members = len(sets), sum(len(s) for s in sets)
    fma = 2 * D + S + S * CPU_OPS_PER_EXP
    add = D + (members - S) + 3 * S
    return fma, add


def cpu_clock_hz() -> float | None:
    """The first core's clock from /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except OSError:
        return None
    return None


def cpu_lower_bound_seconds(pairs: int, D: int, sets, cores: int, clock_hz: float, float64: bool = False) -> float:
    """The multiply/FMA pipes' time for ``pairs`` (b, m) pairs (they, not the add pipes, bound this mix)."""
    fma, add = cpu_forward_ops(D, sets)
    lanes = CPU_FMA_LANES_FP32 // (2 if float64 else 1)
    return pairs * max(fma, add) / (lanes * cores * clock_hz)
