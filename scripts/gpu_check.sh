#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU: the CUDA-marked unit tests (the fused LSTM and
# GRU kernels and the ensembles on CUDA among them), rnnlib's layers timed against torch.nn's
# (cuDNN) on the benchmark grid (benchmarks/layer_speed.py --device cuda, about a minute), then
# every chapter executed on the GPU under nbval, with the chapter timing table. Sized to fit in
# 8 minutes on one GPU (the chapters' asserted experiments are the same on every device).
# SKIP_CHAPTERS=1 stops after the timing table.
#
# Usage: bash scripts/gpu_check.sh   (installs requirements.txt first unless NO_INSTALL=1)
# Logs and the timing table also go to $OUT/ when OUT is set (e.g. on a lent GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-test-artifacts/gpu}"
mkdir -p "$out"

if [ "${NO_INSTALL:-0}" != "1" ]; then
  python -m pip install --quiet -r requirements.txt
fi
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: torch sees no CUDA GPU here; nothing to check" >&2
  exit 2
fi
python - <<'PY' | tee "$out/device.txt"
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
print(f"GPU: {torch.cuda.get_device_name(0)}")
PY

start=$SECONDS
status=0
python -m pytest tests -m cuda -q -p no:cacheprovider 2>&1 | tee "$out/cuda_tests.log" || status=1
tests_done=$SECONDS
# rnnlib / torch.nn (cuDNN) on the same grid as the CPU table, wall time after synchronising
python benchmarks/layer_speed.py --device cuda --output "$out/layer_speed_cuda.md" \
  2>&1 | tee "$out/layer_speed_cuda.log" || status=1
timing_done=$SECONDS
if [ "${SKIP_CHAPTERS:-0}" != "1" ]; then
  python -m pytest chapters --nbval-lax -q -p no:cacheprovider 2>&1 | tee "$out/chapters.log" \
    || status=1
fi
echo "gpu_check: cuda tests $((tests_done - start)) s, timing $((timing_done - tests_done)) s," \
  "chapters $((SECONDS - timing_done)) s, total $((SECONDS - start)) s, status $status" \
  | tee -a "$out/summary.log"
exit "$status"
