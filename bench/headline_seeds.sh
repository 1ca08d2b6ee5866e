#!/usr/bin/env bash
# The headline campaign replicated with other seeds: each seed is a whole independent run (its own
# baseline trained with that seed, pools, frozen suite, attacks and retraining), 10 rounds of
# configs/default.yaml, so the curve's spread across seeds is visible (docs/retrain.md).
#
#   bash bench/headline_seeds.sh "1 2"          # runs/headline-s1, runs/headline-s2 (~40 min each on 2 cores)
#   .venv/bin/python bench/headline_seeds.py    # the table over make headline (seed 13) and these
#
# Each run writes bench/results/headline_seeds/s<seed>/headline.json (bench/headline.py); an existing
# runs/headline-s<seed> is resumed, not restarted.
set -euo pipefail
seeds=${1:-"1 2"}
bin="$(dirname "$0")/../.venv/bin"
for seed in $seeds; do
  out=runs/headline-s$seed
  echo "== seed $seed -> $out"
  "$bin/arena" campaign --config configs/default.yaml --set seed="$seed" --rounds 10 --out "$out"
  "$bin/arena" report "$out"
  "$bin/python" bench/headline.py --run "$out" --out "bench/results/headline_seeds/s$seed" --no-copy-curve \
    --command "bash bench/headline_seeds.sh $seed (arena campaign --config configs/default.yaml --set seed=$seed --rounds 10 --out $out)"
done
"$bin/python" bench/headline_seeds.py
