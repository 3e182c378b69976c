#!/bin/bash
# Score a large image folder with a Slurm job array: each array task scores one shard (mvfa predict --shard I/N),
# then one dependent job merges them (mvfa merge). Submit with:  sbatch examples/slurm-array.sh
# Paths must be on storage every node sees. Adjust N (--array=1-N and SHARDS) to your archive and cluster.
#SBATCH --job-name=mvfa-score
#SBATCH --array=1-16
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --output=logs/mvfa-%A_%a.out
set -euo pipefail

SHARDS=16
CLIP=/shared/models/ViT-L-14-336px.pt
ADAPTERS=/shared/models/brain.safetensors
IMAGES=/shared/archive/brain_mri
RUN=/shared/runs/brain-$(date +%Y%m%d)

I=${SLURM_ARRAY_TASK_ID}
mkdir -p "$RUN/shard$I"
# --dump keeps the raw maps: merge needs them when the adapters store no calibration (official .pth files).
npx mvfa --threads "${SLURM_CPUS_PER_TASK}" --quiet predict --shard "$I/$SHARDS" \
  --clip "$CLIP" --adapters "$ADAPTERS" \
  --out "$RUN/shard$I/out" --dump "$RUN/shard$I/dump" "$IMAGES"

# The last array task to finish does not know it is last: merge in a job that depends on the whole array:
#   sbatch --dependency=afterok:<array job id> --wrap \
#     "npx mvfa merge --out $RUN/merged --dump $RUN/merged/dump $RUN/shard*/out $RUN/shard*/dump"
