"""The arena as a Ray Serve app: moderation API, attacks, battles, model registry (see docs/ray.md).

    from arena.serve import run_cli
    run_cli("serve_configs/arena.yaml")          # what `arena serve` runs; Ctrl-C stops it

Submodules: ``app`` (typed builders), ``deployments`` (defender, attacker, ingress), ``api``
(FastAPI routes, no Ray), ``schemas`` (typed args and bodies), ``battles``, ``metrics``.
Importing this package imports neither Ray nor torch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["run_cli", "wait_until_running"]


def wait_until_running(app_names: list[str], timeout: float = 300.0) -> None:
    """Block until every named Serve app is RUNNING; raise ArenaError if one fails to deploy."""
    from ray import serve

    from arena.errors import ArenaError

    deadline = time.monotonic() + timeout
    while True:
        apps = serve.status().applications
        states = {name: (apps[name].status if name in apps else "NOT_STARTED") for name in app_names}
        failed = [n for n, s in states.items() if s in ("DEPLOY_FAILED", "UNHEALTHY")]
        if failed:
            raise ArenaError(f"serve app {failed[0]} failed: {apps[failed[0]].message}")
        if all(s == "RUNNING" for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise ArenaError(f"serve apps not running after {timeout:.0f}s: {states}")
        time.sleep(1.0)


def run_cli(config_path: str, blocking: bool = True, timeout: float = 600.0) -> None:
    """``serve run CONFIG`` on a local loopback Ray cluster (or RAY_ADDRESS); blocks until Ctrl-C.

    With ``blocking=False`` it returns once every app of the config is RUNNING (the cluster and
    the apps keep running in this process's Ray session; call ``ray.serve.shutdown()`` to stop).
    """
    import yaml
    from ray import serve
    from ray.serve.scripts import run as serve_run

    from arena.cluster import init_ray
    from arena.errors import ConfigError

    path = Path(config_path)
    if not path.is_file():
        raise ConfigError(f"serve config not found: {path}")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = [a.get("name", "default") for a in config.get("applications", [])]
    if not names:
        raise ConfigError(f"{path}: no applications")
    # a local cluster gets at least 4 logical CPUs: the replicas hold 1.5, and a battle's actors and
    # trainer task need theirs too (logical CPUs are scheduling tokens, not cores)
    init_ray(num_cpus=max(4, os.cpu_count() or 1))
    serve_run.main([str(path), "--non-blocking"], standalone_mode=False)
    wait_until_running(names, timeout=timeout)
    print(f"serving {', '.join(names)}; Ctrl-C to stop", flush=True)
    if not blocking:
        return
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("shutting down", flush=True)
        serve.shutdown()
