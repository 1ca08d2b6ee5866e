"""Typed Serve builders: ``import_path: arena.serve.app:build_app`` in serve_configs/*.yaml and k8s/.

    serve run serve_configs/arena.yaml            # from the repository root
    serve run arena.serve.app:build_app out_dir=runs/arena

``build_app(args)`` = ingress (FastAPI, arena/serve/api.py) -> defender (dynamic batching,
champion by alias, hot swap) + attacker. ``build_defender_app(args)`` is the defender alone, for
Python callers through a handle (``handle.moderate.remote(texts)``).
"""

# No `from __future__ import annotations`: Serve reads the builder's parameter annotation at run
# time to turn the config's `args:` mapping into an AppArgs.
from ray import serve
from ray.serve import Application

from arena.serve.deployments import ArenaIngress, AttackerDeployment, DefenderDeployment
from arena.serve.schemas import AppArgs

#: Serve writes an access-log line per request and replica by default; at a few hundred requests
#: per second on 2 cores that costs more than the routing itself.
LOGGING = {"enable_access_log": False, "log_level": "WARNING"}


def _defender(args: AppArgs):
    return serve.deployment(
        DefenderDeployment, name="Defender", num_replicas=args.defender_replicas,
        # many requests must reach a replica at once, or there is nothing to batch
        max_ongoing_requests=max(64, 4 * (args.max_batch_size or 1)),
        ray_actor_options={"num_cpus": args.defender_num_cpus, "num_gpus": args.defender_num_gpus},
        health_check_period_s=10, logging_config=LOGGING,
    ).bind(args)


def _args(args: AppArgs | dict) -> AppArgs:
    return (args if isinstance(args, AppArgs) else AppArgs.model_validate(args)).resolved()


def build_defender_app(args: AppArgs) -> Application:
    """The defender deployment alone (no HTTP routes); call it through its handle."""
    return _defender(_args(args))


def build_app(args: AppArgs) -> Application:
    """The full arena API: ingress + defender + attacker."""
    args = _args(args)
    defender = _defender(args)
    attacker = serve.deployment(
        AttackerDeployment, name="Attacker", max_ongoing_requests=8,
        ray_actor_options={"num_cpus": args.attacker_num_cpus, "num_gpus": args.attacker_num_gpus},
        logging_config=LOGGING,
    ).bind(args, defender)
    return serve.deployment(
        ArenaIngress, name="ArenaIngress", max_ongoing_requests=256,
        ray_actor_options={"num_cpus": args.ingress_num_cpus}, logging_config=LOGGING,
    ).bind(args, defender, attacker)
