"""Chunked group_logsumexp against the naive materialised computation (CPU).

Prints, for forward+backward, the extra peak memory of each (measured in a fresh
subprocess from the kernel's peak-RSS counter) and the time on one thread, with the
ratios naive / chunked. Issue 2's bar: memory ratio >= 20 and time ratio >= 1 at
B = M = 4096, D = 32, sets = the D/2 pairs plus the joint.

    python3 benchmarks/group_logsumexp.py                 # the issue's size
    python3 benchmarks/group_logsumexp.py --B 1024 --D 10 # another size
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tcdecomp.kernels import group_logsumexp, naive_group_logsumexp  # noqa: E402


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
    from _memory import peak_since_reset_kib, reset_peak

    torch.set_num_threads(1)
    z, mu, logvar = make_inputs(args.B, args.M, args.D)
    sets = pair_sets(args.D)
    before = reset_peak()
    run_once(args.child, z, mu, logvar, sets)
    print(json.dumps({"extra_peak_mib": (peak_since_reset_kib() - before) / 1024}))


def measure_memory(args, variant):
    cmd = [sys.executable, __file__, "--child", variant, "--B", str(args.B), "--M", str(args.M), "--D", str(args.D)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--B", type=int, default=4096)
    parser.add_argument("--M", type=int, default=None)
    parser.add_argument("--D", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["naive", "chunked"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.M = args.M or args.B
    if args.child:
        return child(args)
    print(f"group_logsumexp forward+backward, B={args.B} M={args.M} D={args.D}, sets = {args.D // 2} pairs + joint, float32, CPU")
    mem = {v: measure_memory(args, v) for v in ("naive", "chunked")}
    secs = {v: measure_time(args, v, args.repeats) for v in ("naive", "chunked")}
    print(f"{'variant':<10}{'extra peak MiB':>16}{'seconds (1 thread)':>22}")
    for v in ("naive", "chunked"):
        print(f"{v:<10}{mem[v]:>16.1f}{secs[v]:>22.3f}")
    print(f"memory ratio naive/chunked: {mem['naive'] / max(mem['chunked'], 1e-9):.1f}x  (bar: >= 20x)")
    print(f"time ratio naive/chunked:   {secs['naive'] / secs['chunked']:.2f}x  (bar: >= 1x)")


if __name__ == "__main__":
    main()
