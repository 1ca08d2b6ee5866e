#!/usr/bin/env bash
# The headline campaign replicated with other seeds: each seed is a whole independent run (its own
# baseline trained with that seed, pools, frozen suite, attacks and retraining), 10 rounds of
# configs/default.yaml, so the curve's spread across seeds is visible (docs/retrain.md).
#
#   bash bench/headline_seeds.sh "1 2"          # runs/headline-s1, runs/headline-s2 (30-40 min each on 2 cores)
#   .venv/bin/python bench/headline_seeds.py    # the table over make headline (seed 13) and these
#
# An experiment over seeds: a run prefix and config overrides after the seeds,
#
#   bash bench/headline_seeds.sh "1 2" runs/exp-probe100 --set campaign.val_probe_size=100
#
# runs runs/exp-probe100-s1 and -s2 with the overrides and writes bench/results/experiments/
# exp-probe100-s<seed>/headline.json (the default prefix writes bench/results/headline_seeds/s<seed>/).
# An existing run folder is resumed, not restarted.
set -euo pipefail
seeds=${1:-"1 2"}
prefix=${2:-runs/headline}
shift $(( $# < 2 ? $# : 2 ))
bin="$(dirname "$0")/../.venv/bin"
for arg in "$@"; do
  case "$arg" in --set|*=*) ;; *) echo "error: after the seeds and the run prefix only --set KEY=VALUE pairs are accepted, got '$arg'" >&2; exit 2;; esac
done
for seed in $seeds; do
  out=$prefix-s$seed
  if [ "$prefix" = runs/headline ]; then res=bench/results/headline_seeds/s$seed; else res=bench/results/experiments/$(basename "$prefix")-s$seed; fi
  echo "== seed $seed -> $out"
  "$bin/arena" campaign --config configs/default.yaml --set seed="$seed" "$@" --rounds 10 --out "$out"
  "$bin/arena" report "$out"
  "$bin/python" bench/headline.py --run "$out" --out "$res" --no-copy-curve \
    --command "bash bench/headline_seeds.sh $seed $prefix $* (arena campaign --config configs/default.yaml --set seed=$seed $* --rounds 10 --out $out)"
done
if [ "$prefix" = runs/headline ]; then "$bin/python" bench/headline_seeds.py; fi
