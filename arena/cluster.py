"""The Ray cluster helpers every Ray module shares: environment defaults, joining or starting a
loopback cluster, GPU shares, placement, worker threads, waiting with a reason.

Dependencies flow one way: ``arena.cluster`` <- ``arena.tune`` <- ``arena.actors`` <- ``arena.serve`` /
``arena.jobs``. This module imports Ray at module level and nothing of the campaign; the core loop
(``arena.arena``) never imports it.
"""

from __future__ import annotations

import os
from typing import Any

import ray

#: Environment defaults for a Ray process on this project's machines (setdefault: an explicit
#: value wins). Token auth is off because the local cluster binds to 127.0.0.1 only; set
#: RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN) on a shared cluster.
RAY_ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
LOOPBACK = "127.0.0.1"


def ray_env_defaults() -> None:
    for key, value in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def init_ray(rcfg=None, *, address: str | None = None, num_cpus: float | None = None,
             num_gpus: float | None = None, include_dashboard: bool = False, dashboard_port: int | None = None,
             metrics_export_port: int | None = None, log_to_driver: bool = True) -> None:
    """Join ``address`` (or ``ray.address`` / RAY_ADDRESS), or start a local loopback cluster.

    A local cluster binds to 127.0.0.1, caps the object store (``ray.object_store_memory``) and
    runs with token auth disabled unless RAY_AUTH_MODE says otherwise. No-op when already initialised.
    """
    from arena.config import RayConfig

    ray_env_defaults()
    if ray.is_initialized():
        return
    rcfg = rcfg or RayConfig()
    address = address or rcfg.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, namespace=rcfg.namespace, log_to_driver=log_to_driver)
        return
    kwargs: dict[str, Any] = dict(
        _node_ip_address=LOOPBACK, namespace=rcfg.namespace, num_cpus=num_cpus or rcfg.num_cpus,
        num_gpus=num_gpus, object_store_memory=rcfg.object_store_memory, include_dashboard=include_dashboard,
        log_to_driver=log_to_driver,
    )
    if include_dashboard:
        kwargs.update(dashboard_host=LOOPBACK, dashboard_port=dashboard_port or 8265)
    if metrics_export_port:
        kwargs["_metrics_export_port"] = metrics_export_port
    ray.init(**kwargs)


def gpu_share(role: str, rcfg) -> float:
    """``ray.num_gpus.<role>`` when the cluster has GPUs, else 0 (so the actor fits on CPUs)."""
    fraction = float(getattr(rcfg.num_gpus, role))
    return fraction if fraction and ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def wait_logged(ref, what: str, needs: dict[str, float], every_s: float = 60.0):
    """``ray.get(ref)``, printing what is missing every ``every_s`` seconds while it waits.

    A task that never starts is usually a resource shortage (e.g. Serve replicas holding the
    logical CPUs of a 2-CPU cluster); the message says what the task asks for and what is free.
    """
    waited = 0.0
    while True:
        ready, _ = ray.wait([ref], timeout=every_s)
        if ready:
            return ray.get(ref)
        waited += every_s
        free = {k: round(v, 2) for k, v in ray.available_resources().items() if k in ("CPU", "GPU")}
        print(f"warning: {what} still waiting after {waited:.0f}s; it needs "
              f"{ {k: v for k, v in needs.items() if v} }, the cluster has {free} free "
              "(more logical CPUs: ray start --num-cpus=N, or lower ray.trainer_cpus)", flush=True)


def placement() -> dict[str, Any]:
    """Where the calling worker runs and what it holds (for logs and the placement test)."""
    ctx = ray.get_runtime_context()
    import sys

    torch = sys.modules.get("torch")  # reported when loaded; placement() itself loads nothing
    return {"pid": os.getpid(), "node_id": ctx.get_node_id(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "resources": ctx.get_assigned_resources(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "torch_threads": torch.get_num_threads() if torch is not None else None}


def use_worker_threads(rcfg) -> int:
    """Set torch's threads in a campaign worker to ``ray.worker_threads`` (None = the node's cores).

    Ray starts workers with OMP_NUM_THREADS = their CPU reservation (1 for the 0-CPU coordinator,
    the 0.25-CPU actors and the 1-CPU trainer), but a campaign's stages run one after another
    (attack, retrain, gate), so each stage may use the whole node. Measured on 2 cores: the
    `make demo` baseline epoch took 576 s in a job at 1 thread, 371 s with this (336 s in-process).
    Tune trials keep ``cpus_per_trial`` threads (they run concurrently). In a container,
    ``os.cpu_count()`` may count the host's cores: set ``ray.worker_threads`` to the CPU limit.
    """
    import torch

    threads = max(1, int(getattr(rcfg, "worker_threads", None) or os.cpu_count() or 1))
    torch.set_num_threads(threads)
    return threads


def actor_alive(name: str, namespace: str) -> bool:
    """Whether a named actor exists in ``namespace``."""
    try:
        ray.get_actor(name, namespace=namespace)
        return True
    except ValueError:
        return False
