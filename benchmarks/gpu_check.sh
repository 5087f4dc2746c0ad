#!/usr/bin/env bash
# GPU check for the Triton kernel: the kernel tests compiled for real, then the
# benchmarks. Results go under $OUT (default ./gpu-results). Run from the repository root:
#   OUT=gpu-results bash benchmarks/gpu_check.sh
set -uo pipefail
OUT=${OUT:-./gpu-results}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
export TRITON_INTERPRET=0 PYTHONUNBUFFERED=1
{
  echo "== versions"; python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
  echo "== kernel tests (compiled)"; python3 -m pytest -q tests/kernels -p no:cacheprovider
  echo "== sweep"; python3 benchmarks/group_logsumexp.py --sweep --device cuda --repeats 5
  echo "== exact at dSprites scale"; python3 benchmarks/exact_dsprites.py --device cuda
} 2>&1 | tee "$OUT/gpu_check.log"
