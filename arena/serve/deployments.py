"""Ray Serve deployments: the defender (dynamic batching, hot swap), the attacker, the HTTP ingress.

The classes are plain; arena/serve/app.py applies ``serve.deployment`` with the options from
``AppArgs`` when the app is built.

Hot swap: a daemon thread in every defender replica reads the served alias from the registry
every ``poll_interval_s`` (``POST /api/v1/models/promote`` also triggers it at once). A new
version is loaded next to the old one while requests keep flowing; then one reference assignment
makes it current. A batch always scores with one model, and a request whose texts straddle a swap
is scored again, so every response names the single version that scored all of its texts.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from ray import serve

from arena import prometheus as m
from arena.serve.api import ALL, ApiError, ApiSettings, create_api
from arena.serve.battles import BattleManager
from arena.serve.schemas import AppArgs, AttackRequest, BattleRequest


def _registry(args: AppArgs):
    from arena.registry import Registry

    cfg = args.arena_config()
    return Registry(args.tracking_uri, cfg.tracking.experiment, args.model_name,
                    cache_dir=Path(args.out_dir) / ".model_cache")


# ============================================================================ defender
class DefenderDeployment:
    """Scores texts with the model the alias points at; texts from many requests share a batch."""

    def __init__(self, args: AppArgs) -> None:
        import torch

        self.args = args
        self._threads = args.torch_threads or max(1, int(args.defender_num_cpus))
        torch.set_num_threads(self._threads)
        self.registry = _registry(args)
        self._lock = threading.Lock()
        self._stats = {"batches": 0, "texts": 0, "max_batch": 0, "swaps": 0}
        self._current: tuple[Any, str] | None = None
        self.sync()
        if self._current is None:
            raise RuntimeError(f"no {args.alias!r} version of {args.model_name!r} in {args.tracking_uri}: train one "
                               "(`arena train --out DIR`) or run a campaign first")
        self._score_batch.set_max_batch_size(args.max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(args.batch_wait_timeout_s)
        self._batch_hist = m.moderation_batch_size()
        self._stop = threading.Event()
        threading.Thread(target=self._poll, name="arena-alias-poll", daemon=True).start()

    # ------------------------------------------------------------------ model following the alias
    def sync(self) -> dict[str, Any]:
        """Load the alias's version if it changed; returns the served version and whether it swapped."""
        with self._lock:
            version = self.registry.get_alias(self.args.alias)
            swapped = False
            if version is not None and (self._current is None or self._current[1] != version):
                first = self._current is None
                model = self._load(version)
                self._current = (model, version)  # one assignment: in-flight batches keep the old model
                self._stats["swaps"] += 0 if first else 1
                swapped = not first
            served = self._current[1] if self._current else None
        if served is not None and served.isdigit():
            m.champion_version().set(int(served))
        return {"version": served, "swapped": swapped}

    def _load(self, version: str):
        model = self.registry.load_defender(version, device=self.args.device)
        runtime = self.args.runtime
        if runtime == "auto":
            runtime = "onnx" if model.device == "cpu" else "torch"
        if runtime == "onnx":
            cache = Path(self.args.out_dir) / ".model_cache" / "onnx" / self.args.model_name / str(version)
            model.use_onnx(cache, threads=self._threads)
        return model

    def _poll(self) -> None:
        while not self._stop.wait(self.args.poll_interval_s):
            try:
                self.sync()
            except Exception as exc:  # a registry hiccup: keep serving the current model
                print(f"warning: alias poll failed: {exc!r}", flush=True)

    async def reload(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.sync)

    # ------------------------------------------------------------------ scoring
    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _score_batch(self, texts: list[str]) -> list[tuple[str, float, float]]:
        model, version = self._current
        scores = await asyncio.to_thread(model.score, texts)
        n = len(texts)
        self._stats["batches"] += 1
        self._stats["texts"] += n
        self._stats["max_batch"] = max(self._stats["max_batch"], n)
        self._batch_hist.observe(n)
        threshold = float(model.spec.threshold)
        return [(version, float(s), threshold) for s in scores]

    async def moderate(self, texts: list[str]) -> dict[str, Any]:
        for _ in range(3):
            results = await asyncio.gather(*(self._score_batch(t) for t in texts))
            if len({v for v, _, _ in results}) == 1:
                break
        version, _, threshold = results[0]
        return {"model_version": version, "threshold": threshold, "scores": [s for _, s, _ in results]}

    # ------------------------------------------------------------------ introspection
    def version(self) -> str | None:
        return self._current[1] if self._current else None

    def stats(self) -> dict[str, Any]:
        runtime = self._current[0].runtime if self._current else None
        return {**self._stats, "version": self.version(), "runtime": runtime, "pid": os.getpid()}

    def check_health(self) -> None:
        if self._current is None:
            raise RuntimeError("no model loaded")


# ============================================================================ attacker
class _HandleScorer:
    """Blocking ``score(texts)`` over the defender handle, for the attack code run in a thread."""

    def __init__(self, defender) -> None:
        self.defender = defender
        self.version: str | None = None
        self.threshold = 0.5
        self.queries = 0

    def score(self, texts):
        out = self.defender.moderate.remote(list(texts)).result()
        self.version, self.threshold = out["model_version"], out["threshold"]
        self.queries += len(texts)
        return out["scores"]


class AttackerDeployment:
    """Runs strategies on one text, checks validity, and scores the candidates with the defender."""

    def __init__(self, args: AppArgs, defender) -> None:
        from arena.attack.pipeline import AttackPipeline

        self.args, self.defender = args, defender
        cfg = args.arena_config()
        cfg = cfg.model_copy(update={"attack": cfg.attack.model_copy(update={
            "llm": cfg.attack.llm.model_copy(update={"backend": args.attacker_llm_backend})})})
        # the one attack pipeline (arena/attack/pipeline.py); "all" here = every strategy but the LLM family
        self.pipeline = AttackPipeline.from_config(cfg, "all", llm=False)

    async def attack(self, request: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._attack, AttackRequest.model_validate(request))

    def _attack(self, req: AttackRequest) -> dict[str, Any]:
        names = self.pipeline.strategies if req.strategy == ALL else [req.strategy]
        scorer = _HandleScorer(self.defender)
        res = self.pipeline.attack_text(req.text, scorer, seed=req.seed, n=req.n, strategies=names,
                                        targeted=req.targeted, budget=req.budget)
        rows = [{"text": c.text, "strategy": c.strategy, "params": c.params, "seed": c.seed,
                 "validity": c.validity, "valid": c.valid, "score": c.score,
                 "evaded": None if c.score is None else c.score < scorer.threshold} for c in res.candidates]
        return {"original": req.text, "original_score": float(res.original_score), "model_version": scorer.version,
                "threshold": scorer.threshold, "candidates": rows, "queries": scorer.queries}


# ============================================================================ ingress
class ServeBackend:
    """The API's backend (arena/serve/api.py) over the deployment handles and the registry."""

    def __init__(self, args: AppArgs, defender, attacker) -> None:
        self.args, self.defender, self.attacker = args, defender, attacker
        self.battle_manager = BattleManager(args)
        self._registry = None
        self._strategies: list[dict[str, Any]] | None = None

    @property
    def registry(self):
        if self._registry is None:
            self._registry = _registry(self.args)
        return self._registry

    async def moderate(self, texts: list[str]) -> dict[str, Any]:
        return await self.defender.moderate.remote(texts)

    async def attack(self, req: AttackRequest) -> dict[str, Any]:
        return await self.attacker.attack.remote(req.model_dump())

    async def start_battle(self, req: BattleRequest) -> dict[str, Any]:
        return await self.battle_manager.start(req)

    async def battle(self, battle_id: str) -> dict[str, Any] | None:
        return self.battle_manager.status(battle_id)

    async def battles(self) -> list[dict[str, Any]]:
        return self.battle_manager.all()

    async def models(self) -> dict[str, Any]:
        from arena.registry import CHALLENGER

        def read() -> dict[str, Any]:
            reg = self.registry
            return {"model_name": self.args.model_name, "alias": self.args.alias,
                    "champion": reg.get_alias(self.args.alias), "challenger": reg.get_alias(CHALLENGER),
                    "versions": reg.list_versions(), "history": reg.history(alias=None)}

        out = await asyncio.to_thread(read)
        out["served_version"] = await self.defender.version.remote()
        return out

    async def promote(self, version: str) -> dict[str, Any]:
        def flip() -> str | None:
            reg = self.registry
            if version not in {v["version"] for v in reg.list_versions()}:
                raise ApiError(404, f"{self.args.model_name} has no version {version}")
            previous = reg.get_alias(self.args.alias)
            if previous != version:
                reg.set_alias(self.args.alias, version, reason="promoted via API")
            return previous

        previous = await asyncio.to_thread(flip)
        if previous != version:
            m.promotions().inc(1.0, tags={"source": "api"})
        served = await self.defender.reload.remote()
        return {"alias": self.args.alias, "version": version, "previous": previous,
                "served_version": served["version"]}

    async def health(self) -> dict[str, Any]:
        version = await self.defender.version.remote()
        if version is None:
            raise ApiError(503, "no model loaded")
        return {"status": "ok", "model_version": version}

    def strategies(self) -> list[dict[str, Any]]:
        if self._strategies is None:
            from arena.attack import list_strategies

            self._strategies = [{"name": i.name, "family": i.family, "kind": i.kind, "description": i.description}
                                for i in list_strategies()]
        return self._strategies


@serve.ingress()
class ArenaIngress:
    """FastAPI ingress; routes in arena/serve/api.py, bearer token from ``auth_token`` or its env var."""

    def __init__(self, args: AppArgs, defender, attacker) -> None:
        self.args = args
        token = args.auth_token.get_secret_value() if args.auth_token else os.environ.get(args.auth_token_env or "")
        self.settings = ApiSettings(args.max_texts_per_request, args.max_chars_per_text, token or None,
                                    args.auth_token_env or "ARENA_API_TOKEN")
        self.backend = ServeBackend(args, defender, attacker)
        self._requests, self._latency = m.moderation_requests(), m.moderation_latency()

    def _observe(self, status: str, seconds: float) -> None:
        self._requests.inc(1.0, tags={"status": status})
        if status == "ok":
            self._latency.observe(seconds)

    def __serve_build_asgi_app__(self):
        return create_api(self.backend, self.settings, observe=self._observe,
                          battles_dir=Path(self.args.out_dir) / "battles")
