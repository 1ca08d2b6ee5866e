"""Fixtures of the integration tests that start Ray (marker ``ray``; ``make test-slow``).

* ``ray_cluster``: ONE local loopback cluster per test session (4 logical CPUs, a fake GPU so the
  fractional placements are exercised, 200 MB object store, dashboard for job submission, a
  metrics port), started by the first test that asks and shut down once at the end of the session.
* ``tiny_champion``: a defender trained once per session on a tiny subset (no registry); tests
  register it into their own OUT with ``ray_helpers.seed_registry``, so no test retrains a baseline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from ray_helpers import free_port, tiny_config


@dataclass
class Cluster:
    dashboard_url: str
    metrics_url: str
    metrics_port: int


_cluster: Cluster | None = None


def _start_cluster() -> Cluster:
    global _cluster
    if _cluster is None:
        from arena.cluster import init_ray
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


@pytest.fixture(scope="session")
def tiny_champion(mirror, tmp_path_factory) -> Path:
    """A saved defender folder trained on the tiny subset (shared by all Ray tests, trained once)."""
    from arena.baseline import train_baseline

    out = tmp_path_factory.mktemp("tiny-champion")
    metrics = train_baseline(tiny_config(), out, progress=False, register=False)
    return Path(metrics["model_dir"])
