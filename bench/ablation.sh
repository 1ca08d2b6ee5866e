#!/usr/bin/env bash
# The ablation table of docs/retrain.md ("Where the points come from, 3 seeds"): a finished campaign's
# round-R champion layer by layer (no training: model only, + static canonicaliser, + the rules mined
# from round R's train-pool evasions), then round R's challenger retrained three times per setting
# (seeds 1-3), every row with per-strategy frozen-suite detection:
#
#   bash bench/ablation.sh [RUN] [CONFIG] [ROUND]      # defaults: runs/headline configs/default.yaml 0
#
# settings (config overrides of bench/retrain_ablation.py, which works on a copy of RUN):
#   balanced        the defaults: rules + new weights, perturbation on both classes (retrain.*)
#   toxic-only      rules + new weights, but only toxic texts perturbed (campaign.retrain.benign_ratio=0):
#                   perturbation predicts the label, as in the sets before issue 12
#   weights-only    new weights, balanced, no mined rules (campaign.retrain.mine_rules=false)
#   full            as balanced, but a full fine-tune: the LoRA champion merged into its base and every
#                   weight trained (campaign.retrain.method=full, lr 3e-5); not in the default set
#   lr_half         as balanced, at half the warm start's learning rate (campaign.retrain.lr=1.5e-4); not in
#                   the default set
#   replay3x        as balanced, with three times the clean replay (campaign.retrain.replay_size=2400); not
#                   in the default set
#
# SETTINGS="balanced full" picks the settings; LAYERS=0 skips the (training-free) layer rows.
# Rows go to bench/results/ablation_layers.jsonl and bench/results/ablation.jsonl;
# `python bench/ablation_table.py` prints the markdown tables from them.
set -euo pipefail
run=${1:-runs/headline}
config=${2:-configs/default.yaml}
round=${3:-0}
py="$(dirname "$0")/../.venv/bin/python"
[ -f "$run/state.json" ] || { echo "error: $run/state.json not found: run make headline (or a campaign) first" >&2; exit 2; }
settings=${SETTINGS:-balanced toxic-only weights-only}
if [ "${LAYERS:-1}" = 1 ]; then
  "$py" bench/layers.py --run "$run" --config "$config" --round "$round" --out bench/results/ablation_layers.jsonl
fi
for seed in 1 2 3; do
  for setting in $settings; do
    case $setting in
      balanced) sets=() ;;
      toxic-only) sets=(--set campaign.retrain.benign_ratio=0) ;;
      weights-only) sets=(--set campaign.retrain.mine_rules=false) ;;
      full) sets=(--set campaign.retrain.method=full --set campaign.retrain.lr=3e-5) ;;
      lr_half) sets=(--set campaign.retrain.lr=1.5e-4) ;;
      replay3x) sets=(--set campaign.retrain.replay_size=2400) ;;
      *) echo "error: unknown setting $setting (balanced, toxic-only, weights-only, full, lr_half, replay3x)" >&2; exit 2 ;;
    esac
    echo "== seed $seed, $setting"
    "$py" bench/retrain_ablation.py --run "$run" --config "$config" --round "$round" \
      --set seed="$seed" "${sets[@]}" --out bench/results/ablation.jsonl
  done
done
