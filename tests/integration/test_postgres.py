"""MLflow on PostgreSQL, for real: a mini campaign round tracked in postgresql://.

Runs only with the `postgres` marker and ARENA_PG_URI set (`.ci/run` starts a server with
`.ci/postgres.sh`). Each test uses its own experiment and registered-model name, so the
database may be reused between runs.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("mirror")]

PG = os.environ.get("ARENA_PG_URI")


@pytest.fixture
def pg_uri() -> str:
    if not PG:
        pytest.skip("ARENA_PG_URI not set (eval \"$(bash .ci/postgres.sh)\")")
    pytest.importorskip("psycopg")
    return PG


def test_campaign_round_tracked_in_postgres(pg_uri: str, tmp_path: Path, repo_root: Path):
    from arena.arena import Campaign
    from arena.config import load_config
    from arena.registry import Registry

    tag = uuid.uuid4().hex[:8]
    cfg = load_config(repo_root / "configs/test.yaml", overrides=[
        f"tracking.uri={pg_uri}", f"tracking.experiment=arena-pg-{tag}", f"tracking.registered_model=arena-pg-{tag}",
        "data.max_train=256", "campaign.eval_pool_size=16", "campaign.benign_pool_size=16",
        "campaign.train_attacks=40", "campaign.live_eval_attacks=10", "campaign.retrain.replay_size=128",
    ])
    # artifacts still go to a local folder; the tracking and registry metadata live in PostgreSQL
    summary = Campaign(cfg, tmp_path, progress=False).run(rounds=1)
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert not (tmp_path / "mlflow.db").exists(), "sqlite used instead of PostgreSQL"

    reg = Registry.from_config(cfg, tmp_path)
    assert reg.tracking_uri.startswith("postgresql")
    versions = reg.list_versions()
    # baseline, then the round's candidates (new weights, blends, rules-only; the val probe picks one)
    assert [v["version"] for v in versions][:2] == ["1", "2"]
    assert reg.get_alias("champion") == summary["rounds"][-1]["champion_version"]
    gated = [r["gate"] for r in summary["rounds"] if r.get("gate")]
    assert len(gated) == 1
    picked = str(gated[0]["challenger_version"])
    assert picked in {v["version"] for v in versions} - {"1"}
    assert reg.get_alias("challenger") == picked
    hist = reg.history()
    assert hist[0]["version"] == "1" and hist[0]["reason"] == "baseline"
    # a fresh client (another process would see the same) reads the same aliases back
    again = Registry(pg_uri, cfg.tracking.experiment, cfg.tracking.registered_model)
    assert again.get_alias("champion") == reg.get_alias("champion")
    assert again.history() == hist
    d = again.load_defender("champion")
    assert len(d.score(["you are an idiot"])) == 1
    # the round's metrics are in the campaign run
    runs = again.client.search_runs([again.experiment_id], "tags.`arena.kind` = 'campaign'")
    assert runs and "frozen_detection" in runs[0].data.metrics
    assert json.loads((tmp_path / "summary.json").read_text())["campaign_id"]
