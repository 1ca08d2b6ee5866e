#!/usr/bin/env bash
# The baseline recipes compared in docs/retrain.md ("The baseline defender: which recipe"): each trains
# the defender from scratch on TweetEval offensive (bench/baseline.py) and is judged on VAL macro-F1 at
# its val-picked threshold (the choice never reads test); test macro-F1, ROC-AUC and training time are
# reported beside it. Every setting is spelled out in full, so the rows do not depend on the defaults.
#
#   bash bench/baseline_sweep.sh [SEEDS]          # default seeds: "13" (the config's); e.g. "13 1 2"
#   RECIPES="qv_ep1 all_ep2" bash bench/baseline_sweep.sh "13 1 2"
#
# recipes:
#   qv_ep1     LoRA r=16 on query/value, 1 epoch (the default before 2026-12-05)
#   qv_ep2     LoRA r=16 on query/value, 2 epochs
#   all_ep2    LoRA r=16 on every linear layer (query, key, value, dense), 2 epochs (the default since)
#   full_ep2   full fine-tune (lr 5e-5, head 5e-4), 2 epochs
#
# Rows go to bench/results/baseline_sweep.jsonl (one per recipe and seed, with the command);
# `python bench/baseline_sweep.py` prints the table. Each row takes 2-7 min on 2 cores.
set -euo pipefail
seeds=${1:-13}
py="$(dirname "$0")/../.venv/bin/python"
out=bench/results/baseline_sweep.jsonl
for seed in $seeds; do
  for recipe in ${RECIPES:-qv_ep1 qv_ep2 all_ep2 full_ep2}; do
    case $recipe in
      qv_ep1) sets=(--set defender.method=lora --set 'defender.lora.target_modules=[query,value]' --set train.epochs=1 --set train.patience=1 --set train.lr=5e-4) ;;
      qv_ep2) sets=(--set defender.method=lora --set 'defender.lora.target_modules=[query,value]' --set train.epochs=2 --set train.patience=2 --set train.lr=5e-4) ;;
      all_ep2) sets=(--set defender.method=lora --set 'defender.lora.target_modules=[query,key,value,dense]' --set train.epochs=2 --set train.patience=2 --set train.lr=5e-4) ;;
      full_ep2) sets=(--set defender.method=full --set train.epochs=2 --set train.patience=2 --set train.lr=5e-5) ;;
      *) echo "error: unknown recipe $recipe (qv_ep1, qv_ep2, all_ep2, full_ep2)" >&2; exit 2 ;;
    esac
    echo "== seed $seed, $recipe"
    "$py" bench/baseline.py --config configs/default.yaml --out "${TMPDIR:-/tmp}/arena-baseline-sweep/$recipe-s$seed" \
      --set seed="$seed" "${sets[@]}" --name "$recipe" --jsonl "$out"
  done
done
"$py" bench/baseline_sweep.py
