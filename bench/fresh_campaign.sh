#!/usr/bin/env bash
# A fresh campaign folder that reuses another campaign's baseline champion (v1), so a campaign
# variant can run without retraining the baseline (about 6 min on 2 cores):
#
#   bash bench/fresh_campaign.sh runs/demo runs/exp2 [configs/demo.yaml]
#   .venv/bin/arena campaign --config configs/demo.yaml --out runs/exp2 [--set KEY=VALUE ...]
#
# Copies SRC's registry (mlflow.db, artifacts, models) into OUT (opening it points its artifact
# locations at OUT: arena.registry.relocate) and sets OUT's champion alias back to version 1; no
# state, records or train sets are copied, so the new campaign builds its pools and frozen suite
# from scratch (the same seed gives the same ones).
set -euo pipefail
src=${1:?usage: fresh_campaign.sh SRC OUT [CONFIG]}
out=${2:?usage: fresh_campaign.sh SRC OUT [CONFIG]}
config=${3:-configs/demo.yaml}
[ -f "$src/mlflow.db" ] || { echo "error: $src/mlflow.db not found: run make demo (or a campaign) first" >&2; exit 2; }
[ -e "$out" ] && { echo "error: $out exists; remove it first" >&2; exit 2; }
mkdir -p "$out"
cp -r "$src/mlflow.db" "$src/mlartifacts" "$src/models" "$out/"
[ -f "$src/metrics.json" ] && cp "$src/metrics.json" "$out/"
"$(dirname "$0")/../.venv/bin/python" - "$out" "$config" <<'PY'
import sys
from pathlib import Path
out = Path(sys.argv[1]).resolve()
from arena.config import load_config
from arena.registry import CHAMPION, Registry
reg = Registry.from_config(load_config(sys.argv[2]), out)
reg.set_alias(CHAMPION, "1", round=0, reason="baseline (reused)")
print(f"{out}: champion v{reg.get_alias(CHAMPION)}")
PY
