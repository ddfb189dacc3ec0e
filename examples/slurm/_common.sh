# Sourced by the sbatch templates. Override any of these with `sbatch --export=ALL,VAR=value ...`.
set -euo pipefail
export CXRGEN_WORKSPACE="${CXRGEN_WORKSPACE:-$PWD/cxrgen-workspace}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"          # compute nodes usually have no internet
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}"
DATASET="${DATASET:-mimic}"
ENCODER="${ENCODER:-medclip-vit}"
MODE="${MODE:-prefix}"
LLM="${LLM:-qwen1.5-0.5b}"
RUN="${RUN:-${MODE}-${LLM}-${DATASET}}"
GPUS_PER_NODE="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-1}}"
# first host of the allocation (drain the rest so nothing dies of SIGPIPE under pipefail)
first_host() { scontrol show hostnames "${SLURM_JOB_NODELIST:-localhost}" 2>/dev/null | { read -r h; echo "${h:-localhost}"; cat >/dev/null; }; }
MASTER_ADDR="${MASTER_ADDR:-$(first_host || true)}"
MASTER_PORT="${MASTER_PORT:-29500}"
export MASTER_ADDR MASTER_PORT
# one torchrun per node; torchrun starts one process per GPU and sets RANK/WORLD_SIZE/LOCAL_RANK
TORCHRUN_MULTI=(torchrun --nnodes "${SLURM_NNODES:-1}" --nproc_per_node "$GPUS_PER_NODE"
                --rdzv_id "${SLURM_JOB_ID:-0}" --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT")
TORCHRUN_SINGLE=(torchrun --standalone --nproc_per_node "$GPUS_PER_NODE")
