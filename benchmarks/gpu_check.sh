#!/usr/bin/env bash
# The GPU pack (see benchmarks/gpu_check.py): run it first whenever a GPU is lent, from the
# repository root, with nothing to install:
#   OUT=gpu-results bash benchmarks/gpu_check.sh
#   OUT=/tmp/pack bash benchmarks/gpu_check.sh --dry-run     # the CPU rehearsal CI runs
# summary.json, summary.md and the log go under $OUT.
set -uo pipefail
OUT=${OUT:-./gpu-results}
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 -m benchmarks.gpu_check --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
