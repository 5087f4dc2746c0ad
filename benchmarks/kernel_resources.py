"""Registers, spills, shared memory and occupancy of every Triton kernel variant, from cubins compiled here
for sm_80 and sm_90 (no GPU needed); prints the markdown table of docs/kernel.md.

    env -u TRITON_INTERPRET python -m benchmarks.kernel_resources > /tmp/kernel_table.md
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict

if os.environ.get("TRITON_INTERPRET") == "1":
    sys.exit("unset TRITON_INTERPRET: this script compiles the kernels for real")

import triton  # noqa: E402

from tcdecomp.kernels.resources import CAPABILITIES, compile_variant, resource_usage, variants, warps_per_sm  # noqa: E402

from . import harness  # noqa: E402


def main(argv=None) -> None:
    parser = harness.parser("kernel_resources", __doc__, quick={"capabilities": [CAPABILITIES[-1]], "limit": 2})
    parser.add_argument("--capabilities", type=int, nargs="+", default=list(CAPABILITIES), choices=CAPABILITIES)
    parser.add_argument("--limit", type=int, help="compile only the first this many variants")
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    rows = defaultdict(dict)
    for v in variants()[: args.limit]:
        for cap in args.capabilities:
            u = resource_usage(compile_variant(v, cap))
            key = (v.kernel, v.weights, v.want_logw, v.block_b, v.block_m, v.num_warps, v.num_stages)
            rows[key].setdefault(cap, []).append((v.dtype, u))
            usage = {"registers": u.registers, "local_bytes": u.local_bytes, "shared_bytes": u.shared_bytes}
            recorder.add({"variant": v.label(), "kernel": v.kernel, "capability": cap}, usage)
    CAPS = args.capabilities
    print(f"Compiled with triton {triton.__version__}; weights 0 = none, 1 = structured (mss/bank), 2 = dense.")
    print("Registers per thread over the input dtypes (fp32, fp16, bf16); warps/SM is the occupancy the")
    print("registers allow (of 64); LOCAL is spilled bytes.\n")
    head = (
        "| kernel | weights | tile | warps | stages | "
        + " | ".join(f"sm_{c} registers | sm_{c} warps/SM | sm_{c} LOCAL | sm_{c} shared" for c in CAPS)
        + " |"
    )
    print(head)
    print("| --- | --- | --- | ---: | ---: | " + " | ".join("---: | ---: | ---: | ---:" for _ in CAPS) + " |")
    for (kernel, weights, want, bb, bm, warps, stages), by_cap in sorted(rows.items()):
        cells = []
        for cap in CAPS:
            regs = [u.registers for _, u in by_cap[cap]]
            cells.append(
                f"{min(regs)}-{max(regs)} | {warps_per_sm(max(regs), warps, cap)} | "
                f"{max(u.local_bytes for _, u in by_cap[cap])} | {max(u.shared_bytes for _, u in by_cap[cap])}"
            )
        name = kernel.strip("_") + (" (+dlog_w)" if want else "")
        print(f"| {name} | {weights} | {bb}x{bm} | {warps} | {stages} | " + " | ".join(cells) + " |")
    recorder.close()


if __name__ == "__main__":
    main()
