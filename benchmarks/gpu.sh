#!/usr/bin/env bash
# One-GPU benchmark of the real architectures with random weights (nothing downloaded), < 8 min:
#   bash benchmarks/gpu.sh            → benchmarks/results/gpu.md   (needs one CUDA GPU)
#   bash benchmarks/gpu.sh --smoke    → the same code with tiny twins on CPU (a check, not a measurement)
# Extra arguments go to benchmarks/gpu.py (--out, --reports, --steps, …).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python3 benchmarks/gpu.py "$@"
