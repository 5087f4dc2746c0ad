"""group_logsumexp: naive materialised computation vs chunked torch vs Triton kernel.

CPU mode (default): forward+backward extra peak memory of naive and chunked (each in
a fresh subprocess, from the kernel's peak-RSS counter) and time on one thread, with
the ratios naive / chunked. The project's target: memory ratio >= 20 and time ratio >= 1 at
B = M = 4096, D = 32, sets = the D/2 pairs plus the joint.

    python -m benchmarks.group_logsumexp                 # the default size
    python -m benchmarks.group_logsumexp --B 1024 --D 10 # another size
    python -m benchmarks.group_logsumexp --by-dtype      # float32 vs float64 per set kind

The peer: with pykeops installed, the joint term (one set: pykeops's LazyTensor logsumexp
cannot reduce grouped sets in one pass) at B = M = --B, D = 10, float32 and float64,
forward, against pykeops, with the ratio; without it, a note says it was skipped.

GPU sweep: B = M in {1024, 4096, 16384}, D in {10, 64}, sets in {joint,
D/2 pairs + joint, D singles + joint}; forward and forward+backward times (CUDA
events, median of repeats) and peak memory (torch.cuda.max_memory_allocated) of
naive, chunked, Triton and (joint only) pykeops, with the ratios against Triton. Naive
runs that do not fit in memory print OOM.

    python -m benchmarks.group_logsumexp --sweep --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from tcdecomp._constants import LOG_2PI
from tcdecomp.kernels import group_logsumexp, naive_group_logsumexp

from . import harness


def pykeops_available() -> bool:
    try:
        import pykeops.torch  # noqa: F401
    except Exception:  # absent, or present without a working compiler
        return False
    return True


def keops_joint_logsumexp(z, mu, logvar, sets=None):
    """The joint term log sum_m N(z_b; mu_m, diag exp(logvar_m)) by pykeops (B x 1); ``sets`` is ignored."""
    from pykeops.torch import LazyTensor

    const = -0.5 * (logvar + LOG_2PI).sum(1)
    quad = ((LazyTensor(z[:, None, :]) - LazyTensor(mu[None])) ** 2 * LazyTensor(torch.exp(-logvar)[None])).sum(-1)
    return (LazyTensor(const[None, :, None]) - 0.5 * quad).logsumexp(dim=1)


def peer_comparison(B: int, D: int = 10, repeats: int = 3) -> list[dict]:
    """Forward joint term: tcdecomp vs pykeops at B = M, float32 and float64 (best of ``repeats``), both
    on every core (pykeops's CPU code is OpenMP-parallel)."""
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for dtype in (torch.float32, torch.float64):
        z, mu, logvar = (t.detach().to(dtype) for t in make_inputs(B, B, D))
        joint = [list(range(D))]
        ours = group_logsumexp(z, mu, logvar, joint)[:, 0]
        theirs = keops_joint_logsumexp(z, mu, logvar)[:, 0]  # the first call compiles
        seconds = {}
        for name, fn in (("tcdecomp", group_logsumexp), ("pykeops", keops_joint_logsumexp)):
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fn(z, mu, logvar, joint)
                best = min(best, time.perf_counter() - start)
            seconds[name] = best
        rows.append(
            {
                "dtype": str(dtype).replace("torch.", ""),
                "max_abs_diff": float((ours - theirs).abs().max()),
                **{f"{k}_s": v for k, v in seconds.items()},
                "pykeops_over_tcdecomp": seconds["pykeops"] / seconds["tcdecomp"],
            }
        )
    return rows


def make_inputs(B, M, D, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(M, D, generator=g)
    logvar = torch.rand(M, D, generator=g) * 2 - 2
    z = torch.randn(B, D, generator=g)
    return [t.requires_grad_(True) for t in (z, mu, logvar)]


def pair_sets(D):
    return [list(range(D))] + [[2 * i, 2 * i + 1] for i in range(D // 2)]


def run_once(variant, z, mu, logvar, sets):
    fn = group_logsumexp if variant == "chunked" else naive_group_logsumexp
    out = fn(z, mu, logvar, sets)
    out.sum().backward()
    return out


def child(args):
    """Measure one variant's extra peak memory in this (fresh) process."""
    from ._memory import peak_since_reset_kib, reset_peak

    torch.set_num_threads(1)
    z, mu, logvar = make_inputs(args.B, args.M, args.D)
    sets = pair_sets(args.D)
    before = reset_peak()
    run_once(args.child, z, mu, logvar, sets)
    print(json.dumps({"extra_peak_mib": (peak_since_reset_kib() - before) / 1024}))


def measure_memory(args, variant):
    cmd = [sys.executable, "-m", "benchmarks.group_logsumexp", "--child", variant, "--quick"]
    cmd += ["--B", str(args.B), "--M", str(args.M), "--D", str(args.D)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=harness.ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])["extra_peak_mib"]


def measure_time(args, variant, repeats):
    torch.set_num_threads(1)
    z, mu, logvar = make_inputs(args.B, args.M, args.D)
    sets = pair_sets(args.D)
    best = float("inf")
    for _ in range(repeats):
        for t in (z, mu, logvar):
            t.grad = None
        start = time.perf_counter()
        run_once(variant, z, mu, logvar, sets)
        best = min(best, time.perf_counter() - start)
    return best


def set_kinds(D):
    return {
        "joint": [list(range(D))],
        "pairs+joint": pair_sets(D),
        "singles+joint": [list(range(D))] + [[k] for k in range(D)],
    }


def device_measure(fn, z, mu, logvar, sets, backward, repeats):
    """Median milliseconds and peak extra MiB (CUDA only; NaN on CPU) of one call."""
    cuda = z.is_cuda
    for t in (z, mu, logvar):
        t.grad = None
    if cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats + 1):  # the first call compiles / warms up
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(z, mu, logvar, sets)
        if backward:
            out.sum().backward()
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
        del out
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else float("nan")
    return sorted(times[1:])[len(times[1:]) // 2], peak


def sweep(args, recorder):
    from functools import partial

    device = args.device
    variants = {
        "naive": naive_group_logsumexp,
        "chunked": partial(group_logsumexp, backend="torch"),
        "triton": partial(group_logsumexp, backend="triton"),
    }
    if pykeops_available():
        variants["pykeops"] = keops_joint_logsumexp
    print(
        f"device: {torch.cuda.get_device_name() if device.startswith('cuda') else device} "
        "(times: median wall ms after a warm-up call)"
    )
    header = f"{'B=M':>6} {'D':>3} {'sets':>14} {'pass':>8} " + " ".join(
        f"{v + ' ms':>11} {v + ' MiB':>11}" for v in variants
    )
    print(header + f" {'naive/triton':>13} {'chunked/triton':>15}")
    for B in args.sizes:
        for D in (10, 64):
            for kind, sets in set_kinds(D).items():
                z, mu, logvar = (t.detach().to(device).requires_grad_(True) for t in make_inputs(B, B, D))
                for backward in (False, True):
                    cells, ms = [], {}
                    for name, fn in variants.items():
                        if name == "pykeops" and kind != "joint":
                            cells.append(f"{'-':>11} {'-':>11}")
                            continue
                        try:
                            ms[name], mib = device_measure(fn, z, mu, logvar, sets, backward, args.repeats)
                            cells.append(f"{ms[name]:>11.3f} {mib:>11.1f}")
                        except torch.OutOfMemoryError:
                            torch.cuda.empty_cache()
                            cells.append(f"{'OOM':>11} {'-':>11}")
                    ratio = lambda a: f"{ms[a] / ms['triton']:.2f}x" if a in ms and "triton" in ms else "-"
                    pass_name = "fwd+bwd" if backward else "fwd"
                    case = {"B": B, "M": B, "D": D, "sets": kind, "pass": pass_name, "device": device}
                    recorder.add(case, {f"{name}_ms": value for name, value in ms.items()})
                    print(
                        f"{B:>6} {D:>3} {kind:>14} {pass_name:>8} "
                        + " ".join(cells)
                        + f" {ratio('naive'):>13} {ratio('chunked'):>15}",
                        flush=True,
                    )


def dtype_times(B: int, D: int = 10, repeats: int = 3) -> list[dict]:
    """Forward seconds (best of ``repeats``, every core) per set kind in float32 and float64 at B = M: float64 should
    cost about twice float32 (twice the bytes and half the SIMD lanes), whatever the sets."""
    torch.set_num_threads(os.cpu_count() or 1)
    kinds = {"one dim": [[0]], "joint": [list(range(D))], "D/2 pairs": [[2 * i, 2 * i + 1] for i in range(D // 2)]}
    rows = []
    for dtype in (torch.float32, torch.float64):
        z, mu, logvar = (t.detach().to(dtype) for t in make_inputs(B, B, D))
        for kind, sets in kinds.items():
            group_logsumexp(z, mu, logvar, sets)
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                group_logsumexp(z, mu, logvar, sets)
                best = min(best, time.perf_counter() - start)
            rows.append({"dtype": str(dtype).replace("torch.", ""), "sets": kind, "seconds": best})
    return rows


def main(argv=None):
    parser = harness.parser("group_logsumexp", __doc__, quick={"B": 256, "D": 8, "repeats": 1, "sizes": [256]})
    parser.add_argument("--sweep", action="store_true", help="the GPU sweep (B = M up to 16384)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--B", type=int, default=4096)
    parser.add_argument("--M", type=int, default=None)
    parser.add_argument("--D", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["naive", "chunked"], help=argparse.SUPPRESS)
    parser.add_argument("--by-dtype", action="store_true", help="forward time per set kind, float32 vs float64")
    args = harness.parse(parser, argv)
    args.M = args.M or args.B
    if args.child:
        return child(args)  # a measuring subprocess: its parent keeps the records
    recorder = harness.Recorder(args)
    if args.sweep:
        sweep(args, recorder)
        return recorder.close()
    if args.by_dtype:
        print(f"forward, B = M = {args.B}, D = 10, {os.cpu_count()} threads, best of {args.repeats}:")
        for row in dtype_times(args.B, repeats=args.repeats):
            print(f"  {row['dtype']:<8} {row['sets']:<10} {row['seconds']:.3f} s")
            recorder.add({"B": args.B, "M": args.B, "D": 10, "dtype": row["dtype"], "sets": row["sets"]}, row)
        return recorder.close()
    print(
        f"group_logsumexp forward+backward, B={args.B} M={args.M} "
        f"D={args.D}, sets = {args.D // 2} pairs + joint, float32, CPU"
    )
    mem = {v: measure_memory(args, v) for v in ("naive", "chunked")}
    secs = {v: measure_time(args, v, args.repeats) for v in ("naive", "chunked")}
    print(f"{'variant':<10}{'extra peak MiB':>16}{'seconds (1 thread)':>22}")
    for v in ("naive", "chunked"):
        print(f"{v:<10}{mem[v]:>16.1f}{secs[v]:>22.3f}")
    print(f"memory ratio naive/chunked: {mem['naive'] / max(mem['chunked'], 1e-9):.1f}x  (bar: >= 20x)")
    print(f"time ratio naive/chunked:   {secs['naive'] / secs['chunked']:.2f}x  (bar: >= 1x)")
    case = {"B": args.B, "M": args.M, "D": args.D, "sets": "pairs+joint", "pass": "fwd+bwd", "threads": 1}
    recorder.add(
        case,
        {
            **{f"{v}_extra_peak_mib": mem[v] for v in mem},
            **{f"{v}_seconds": secs[v] for v in secs},
            "memory_ratio": mem["naive"] / max(mem["chunked"], 1e-9),
            "time_ratio": secs["naive"] / secs["chunked"],
        },
    )
    if not pykeops_available():
        print("pykeops: not installed (pip install pykeops; it compiles at first use); peer comparison skipped")
        return recorder.close()
    print(f"joint term, forward, B = M = {args.B}, D = 10, {os.cpu_count()} threads, vs pykeops:")
    for row in peer_comparison(args.B):
        print(
            f"  {row['dtype']}: tcdecomp {row['tcdecomp_s']:.3f} s, pykeops {row['pykeops_s']:.3f} s, "
            f"pykeops/tcdecomp {row['pykeops_over_tcdecomp']:.2f}x (max |difference| {row['max_abs_diff']:.2g})"
        )
        recorder.add({"B": args.B, "M": args.B, "D": 10, "sets": "joint", "peer": "pykeops"}, row)
    return recorder.close()


if __name__ == "__main__":
    main()
