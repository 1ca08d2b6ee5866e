"""Registry.log_metrics: names MLflow refuses (a val-probe candidate named ``blend0.5@fpr``) are made legal."""

from __future__ import annotations

from pathlib import Path


def test_metric_names_with_characters_mlflow_refuses(tmp_path: Path):
    from arena.registry import Registry

    reg = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "exp", "model")
    with reg.run("r") as run:
        reg.log_metrics({"selection": {"candidates": {"blend0.5@fpr": {"detection": 0.9}, "weights": {"fpr": 0.1}}}})
    got = reg.client.get_run(run.info.run_id).data.metrics
    assert got == {"selection.candidates.blend0.5_fpr.detection": 0.9, "selection.candidates.weights.fpr": 0.1}
