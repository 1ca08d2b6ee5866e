"""Battles started over HTTP: a campaign on the served registry, driven by a CoordinatorActor.

A battle is ``launch_campaign`` (arena/actors.py) on OUT/battles/<id> with the app's arena config,
whose tracking points at the registry the defender deployment serves from: a promotion during the
battle moves the ``champion`` alias and the deployment swaps to it. One battle runs at a time
(two would fight over the alias). ``battle.json`` in the battle folder keeps the request and the
outcome, so the status survives a restart of the ingress (a battle whose actors are gone is
reported as ``interrupted``; re-running the same OUT with ``python -m arena.jobs.campaign``
resumes it).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from arena.records import atomic_write_text
from arena.serve.api import ADAPTIVE, ApiError
from arena.serve.schemas import AppArgs, BattleRequest

ROUND_KEYS = ("round", "champion_version", "frozen_detection", "live_attack_success", "heldout_strategy_detection",
              "clean_macro_f1", "benign_perturbed_fpr", "promoted", "wall_s")


def battle_overrides(args: AppArgs, strategy: str) -> list[str]:
    """Config overrides of one battle: the chosen strategy alone (no held-out family), or adaptive."""
    out = list(args.config_overrides) + [f"attack.llm.backend={args.attacker_llm_backend}"]
    if strategy != ADAPTIVE:
        out += [f"attack.strategies=[{strategy}]", "campaign.heldout_family=null"]
        if strategy.startswith("llm"):
            out.append("attack.use_llm=true")
    return out


class BattleManager:
    def __init__(self, args: AppArgs) -> None:
        self.args = args
        self.root = Path(args.out_dir) / "battles"
        self._live: dict[str, Any] = {}  # id -> CampaignHandle
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ start / watch
    async def start(self, req: BattleRequest) -> dict[str, Any]:
        running = [bid for bid in self._live]
        if running:
            raise ApiError(409, f"battle {running[0]} is running; one battle at a time (it moves the champion alias)")
        from arena.actors import launch_campaign
        from arena.config import load_config
        from arena.errors import ArenaError

        bid = f"b-{uuid.uuid4().hex[:12]}"
        try:
            cfg = load_config(self.args.config, battle_overrides(self.args, req.attack_strategy))
        except ArenaError as exc:
            raise ApiError(422, f"battle config: {exc}") from None
        cfg.tracking.uri = self.args.tracking_uri
        cfg.tracking.registered_model = self.args.model_name
        cfg.train.device = self.args.device
        out = self.root / bid
        self._write(bid, {"id": bid, "status": "running", "attack_strategy": req.attack_strategy,
                          "rounds_requested": req.rounds, "created": time.time()})
        try:
            handle = await asyncio.to_thread(launch_campaign, cfg, out, req.rounds, progress=True, key=bid)
        except Exception as exc:
            self._finish(bid, "failed", repr(exc))
            raise ApiError(500, f"battle could not start: {type(exc).__name__}: {exc}") from None
        self._live[bid] = handle
        task = asyncio.get_running_loop().create_task(self._watch(bid, handle))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.status(bid)

    async def _watch(self, bid: str, handle) -> None:
        status, error = "succeeded", None
        try:
            await handle.ref
        except Exception as exc:  # the campaign failed (or its actors died beyond their restarts)
            status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            await asyncio.to_thread(handle.shutdown)
            self._finish(bid, status, error)
            self._live.pop(bid, None)

    # ------------------------------------------------------------------ status
    def status(self, bid: str) -> dict[str, Any] | None:
        meta_file = self.root / bid / "battle.json"
        if not meta_file.is_file():
            return None
        meta = json.loads(meta_file.read_text())
        if meta["status"] == "running" and bid not in self._live:
            meta["status"] = "interrupted"
        state_file = self.root / bid / "state.json"
        state = json.loads(state_file.read_text()) if state_file.is_file() else {}
        return {
            "id": bid, "status": meta["status"], "attack_strategy": meta["attack_strategy"],
            "rounds_requested": meta["rounds_requested"], "error": meta.get("error"),
            "campaign_id": state.get("campaign_id"), "champion_version": state.get("champion_version"),
            "rounds": [{k: r.get(k) for k in ROUND_KEYS} for r in state.get("rounds", [])],
        }

    def all(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        ids = sorted((p.name for p in self.root.iterdir() if (p / "battle.json").is_file()),
                     key=lambda b: (self.root / b / "battle.json").stat().st_mtime)
        return [s for s in (self.status(b) for b in ids) if s is not None]

    # ------------------------------------------------------------------ files
    def _write(self, bid: str, meta: dict[str, Any]) -> None:
        atomic_write_text(self.root / bid / "battle.json", json.dumps(meta, indent=1))

    def _finish(self, bid: str, status: str, error: str | None) -> None:
        path = self.root / bid / "battle.json"
        meta = json.loads(path.read_text()) if path.is_file() else {"id": bid}
        meta.update(status=status, error=error, finished=time.time())
        self._write(bid, meta)
