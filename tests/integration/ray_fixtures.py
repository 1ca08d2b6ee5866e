"""Shared fixtures of the Ray tests (``from ray_fixtures import *`` style imports in test_ray_*.py).

* ``ray_cluster``: ONE local loopback cluster per test session (4 logical CPUs, a fake GPU so the
  fractional placements are exercised, 200 MB object store, dashboard for job submission, a
  metrics port). Every test module imports this fixture; the cluster is started by whichever
  module asks first and shut down once at the end of the session.
* ``tiny_champion``: a defender trained once per session on a tiny subset (no registry); tests
  register it into their own OUT with :func:`seed_registry`, so no test retrains a baseline.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = REPO / "configs" / "test.yaml"

#: Campaign sizes that keep a 1-round campaign to about a minute on 2 busy cores.
TINY = [
    "data.max_train=128", "data.max_val=64", "data.max_test=96",
    "train.epochs=1", "train.num_threads=1",
    # a 128-tweet model is near-random: its val-calibrated threshold flags every text, so no attack
    # evades, nothing is retrained and the kill-mid-round test has no window; keep it at 0.5
    "train.calibrate_threshold=false",
    "attack.strategies=[homoglyph,leet,typos]", "campaign.heldout_family=unicode",  # homoglyph: held out
    "campaign.eval_pool_size=8", "campaign.benign_pool_size=8", "campaign.attack_train_pool_size=24",
    "campaign.live_eval_attacks=6", "campaign.train_attacks=12",
    "campaign.retrain.replay_size=48", "campaign.retrain.benign_perturbed_size=8",
    "campaign.gate.bootstrap=100", "campaign.retrain_below=1.0",
    "ray.actor_cpus=0.25", "ray.trainer_cpus=0.5",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_config(*extra: str):
    from arena.config import load_config

    return load_config(TEST_CONFIG, TINY + list(extra))


@dataclass
class Cluster:
    dashboard_url: str
    metrics_url: str
    metrics_port: int


_cluster: Cluster | None = None


def _start_cluster() -> Cluster:
    global _cluster
    if _cluster is None:
        from arena.actors import init_ray
        from arena.config import RayConfig

        dash, metrics = free_port(), free_port()
        init_ray(RayConfig(), num_cpus=4, num_gpus=1, include_dashboard=True, dashboard_port=dash,
                 metrics_export_port=metrics, log_to_driver=os.environ.get("ARENA_RAY_LOGS") == "1")
        _cluster = Cluster(f"http://127.0.0.1:{dash}", f"http://127.0.0.1:{metrics}/metrics", metrics)
    return _cluster


def _stop_cluster() -> None:
    global _cluster
    import ray

    if _cluster is not None:
        try:
            from ray import serve

            serve.shutdown()
        except Exception:
            pass
        ray.shutdown()
        _cluster = None


@pytest.fixture(scope="session")
def ray_cluster(mirror) -> Cluster:
    cluster = _start_cluster()
    yield cluster
    _stop_cluster()


_champion: list[Path] = []


@pytest.fixture(scope="session")
def tiny_champion(mirror, tmp_path_factory) -> Path:
    """A saved defender folder trained on the tiny subset (shared by all Ray tests, trained once)."""
    from arena.baseline import train_baseline

    if not _champion:
        out = tmp_path_factory.mktemp("tiny-champion")
        metrics = train_baseline(tiny_config(), out, progress=False, register=False)
        _champion.append(Path(metrics["model_dir"]))
    return _champion[0]


def seed_registry(cfg, out: Path, defender_dir: Path, alias: str = "champion") -> str:
    """Register ``defender_dir`` in OUT's registry and point ``alias`` at it; returns the version."""
    from arena.registry import Registry

    reg = Registry.from_config(cfg, out)
    with reg.run("seeded-baseline", tags={"arena.kind": "baseline"}) as run:
        version = reg.register(defender_dir, run.info.run_id, tags={"kind": "baseline"})
    if alias:
        reg.set_alias(alias, version, round=0, reason="seeded by the test")
    return version


def scrape(url: str, needles: list[str], timeout: float = 60.0) -> str:
    """Poll a Prometheus endpoint until every needle appears; returns the last text."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            text = ""
        if all(n in text for n in needles):
            return text
        time.sleep(2)
    return text
