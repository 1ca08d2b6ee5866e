"""A Tune sweep of two tiny trials: ASHA, concurrency cap, MLflow runs, best trial -> challenger."""

from __future__ import annotations

import json

import pytest
from ray_helpers import seed_registry, tiny_config

pytestmark = pytest.mark.ray


def test_sweep_picks_the_best_trial_and_registers_it(ray_cluster, tiny_champion, tmp_path):
    import mlflow
    import ray
    from ray.util.state import list_actors

    from arena.baseline import load_splits
    from arena.registry import Registry
    from arena.tune import run_sweep

    cfg = tiny_config("ray.tune.enabled=true", "ray.tune.num_samples=2", "ray.tune.max_concurrent_trials=2",
                      "ray.tune.cpus_per_trial=0.5", "ray.tune.space.epochs=[1,2]", "ray.tune.space.lr=[0.0005,0.005]",
                      "ray.tune.grace_period=1", "ray.tune.reduction_factor=2")
    out = tmp_path / "campaign"
    champion = seed_registry(cfg, out, tiny_champion)
    splits = load_splits(cfg)
    texts, labels = splits["train"].texts[:48], splits["train"].labels[:48]
    val_texts, val_labels = splits["val"].texts[:32], splits["val"].labels[:32]

    reg = Registry.from_config(cfg, out)
    with reg.run("campaign-test", tags={"arena.kind": "campaign", "campaign_id": "c-test"}) as parent:
        sweep = run_sweep(cfg, out, champion, texts, labels, val_texts, val_labels, rnd=0, seed=7,
                          tags={"campaign_id": "c-test"}, parent_run_id=parent.info.run_id)
        with reg.run("challenger-round-0", nested=True) as run:
            reg.log_metrics(sweep.metrics(), prefix="train.")
            version = reg.register(sweep.best_dir, run.info.run_id, tags={"tune_trial": sweep.best_trial})

    # two trials, each with a fractional GPU share of the fake GPU and its own config
    assert len(sweep.trials) == 2 and all(t["status"] in ("completed", "stopped") for t in sweep.trials)
    best_metric = max(t["val_macro_f1"] for t in sweep.trials)
    assert sweep.best_metric == pytest.approx(best_metric)
    assert 0.0 <= sweep.best_metric <= 1.0
    assert sweep.best_config["lora_r"] == 4 and sweep.best_config["lora_alpha"] == 8  # warm start keeps the shape
    assert 0.0005 <= sweep.best_config["lr"] <= 0.005 and sweep.best_config["epochs"] in (1, 2)
    saved = json.loads((out / "models" / "round-0" / "defender.json").read_text())
    assert saved["lora"]["dropout"] == pytest.approx(sweep.best_config["dropout"])

    # the best trial is a registered version that loads and scores
    assert version != champion
    defender = reg.load_defender(version, device="cpu")
    assert len(defender.score(["you are an idiot"])) == 1

    # every trial is an MLflow run in the campaign's experiment, nested under the campaign run
    runs = mlflow.search_runs(experiment_ids=[reg.experiment_id], filter_string="tags.`arena.kind` = 'tune-trial'",
                              output_format="list")
    assert len(runs) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parent.info.run_id}
    assert all("val_macro_f1" in r.data.metrics and r.data.params.get("lr") for r in runs)

    # stopped and finished trials gave their actors (and their models' memory) back
    alive = [a for a in list_actors(filters=[("state", "=", "ALIVE")]) if "ImplicitFunc" in a.class_name
             or "train_trial" in a.class_name]
    assert alive == []
    assert ray.available_resources().get("GPU", 0) == pytest.approx(1.0)
