#!/usr/bin/env bash
# Issue 16's all-mpnet-base-v2 teacher (the GPU trip's recipe: "trust" mix, 2 epochs, lr 5e-5, seed 31) trained
# on the CPU a few hours at a time, because no GPU has been lent since session 13. Each call trains for
# MINUTES (default 100), checkpoints every 10 minutes (TrainConfig's default) and exits; the next call
# resumes where it stopped (the data order follows from the seed, so the run is the same as one
# uninterrupted run). bf16 autocast: about 10 s a batch on a 2-core AVX512-BF16 CPU against about 18 s
# in fp32 (BENCHMARKS, "Session 27").
# Training only: the service never loads this model. Needs runs/data/dev_more_{train,heldout}.json from
# `qa reader split` (BENCHMARKS, "Reader on held-out SQuAD 2.0 articles").
set -euo pipefail
cd "$(dirname "$0")/.."
S=${S:-../shared/qa-train}
OUT=${OUT:-runs/teacher-t1}
MINUTES=${1:-100}
bash scripts/get-mpnet.sh
exec .venv/bin/qa reader train --out "$OUT" --base-model runs/base/all-mpnet-base-v2 \
  --data "$S/squad_train.json" --data "$S/xquad_en.json" --data "$S/qed_nq.json" --data "$S/unansq_pairs.json" \
  --data "$S/squadshifts_new_wiki.json" --data runs/data/dev_more_train.json \
  --holdout "$S/squad_dev.json" --holdout runs/data/dev_more_heldout.json \
  --synthetic-negatives 0.25 --keep-negative-windows 0.2 --max-examples-per-source 10000 --max-answer-words 10 \
  --lr 5e-5 --epochs 2 --seed 31 --bf16 --max-minutes "$MINUTES" --resume
