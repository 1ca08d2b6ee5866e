"""The live battle dashboard: one page that follows a campaign folder while it runs.

    arena dashboard runs/headline            # http://127.0.0.1:8765/ (binds 127.0.0.1 only; no Ray)

The page polls ``api/state`` every few seconds and redraws in place (no reload): frozen / live /
held-out detection and clean F1 / benign FPR by round, the per-strategy heat map, every gate
decision with its numbers, the champion history, a sample of the latest evasions from the
records (original -> attacked, strategy, validity, score), and any two versions' per-strategy
frozen-suite numbers side by side. Charts are plotly, whose JavaScript ships inside its wheel and
is served by this process (works offline, no CDN).

The same page is at ``GET /dashboard`` of the Serve app (arena/serve/api.py), listing its battles.

Sources, all read-only: ``OUT/summary.json`` (rewritten atomically after every round), the records
(``OUT/records``, Parquet) and the champion history of the registry (``OUT/mlflow.db``). Each is
re-read only when its files change.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from arena.errors import ArenaError

DEFAULT_PORT = 8765
POLL_S = 3.0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _r(x: Any, nd: int = 4) -> Any:
    return round(x, nd) if isinstance(x, float) else x


class CampaignView:
    """Everything the page shows about one campaign folder, re-read when its files change."""

    def __init__(self, out: str | os.PathLike, *, evasions: int = 15) -> None:
        self.out = Path(out)
        self.n_evasions = evasions
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Any, Any]] = {}  # name -> (key, value)
        self._registry: Any = None

    def _cached(self, name: str, key: Any, build) -> Any:
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        self._cache[name] = (key, value)
        return value

    # ------------------------------------------------------------------ sources
    def summary(self) -> dict[str, Any] | None:
        f = self.out / "summary.json"

        def load() -> dict[str, Any] | None:
            if not f.is_file():
                return None
            try:
                return json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                return None  # written atomically, so only a foreign file reads as broken

        return self._cached("summary", _mtime(f), load)

    def evasions(self) -> list[dict[str, Any]]:
        root = self.out / "records"
        parts = sorted(root.glob("round=*/part-*.parquet")) if root.is_dir() else []
        key = tuple((p.name, p.parent.name, _mtime(p)) for p in parts[-64:]) + (len(parts),)

        def load() -> list[dict[str, Any]]:
            if not parts:
                return []
            import pyarrow.compute as pc

            from arena.records import RecordStore

            table = RecordStore(self.out).read(complete_only=False)
            table = table.filter(pc.and_(pc.fill_null(table["evaded"], False), pc.fill_null(table["valid"], False)))
            if table.num_rows == 0:
                return []
            rows = table.select(["round", "pool", "strategy", "original", "attacked", "validity", "score",
                                 "defender_version", "timestamp"]).to_pylist()
            rows.sort(key=lambda r: (r["round"], r["timestamp"] or 0.0), reverse=True)
            return [{**r, "validity": _r(r["validity"], 3), "score": _r(r["score"], 3),
                     "original": (r["original"] or "")[:240], "attacked": (r["attacked"] or "")[:240]}
                    for r in rows[: self.n_evasions]]

        return self._cached("evasions", key, load)

    def history(self, summary: dict[str, Any] | None) -> list[dict[str, Any]]:
        db = self.out / "mlflow.db"

        def load() -> list[dict[str, Any]]:
            if db.is_file() and summary is not None:
                try:
                    if self._registry is None:  # opened once: MLflow's import and client setup cost seconds
                        from arena.config import ArenaConfig
                        from arena.registry import Registry

                        cfg = ArenaConfig.model_validate(summary.get("config") or {})
                        self._registry = Registry.from_config(cfg, self.out)
                    return [{"round": e.get("round"), "version": e.get("version"), "reason": e.get("reason", ""),
                             "at": e.get("at")} for e in self._registry.history()]
                except Exception:  # noqa: BLE001 - the derived history below is still true
                    pass
            return self._derived_history(summary)

        return self._cached("history", (_mtime(db), _mtime(self.out / "summary.json")), load)

    @staticmethod
    def _derived_history(summary: dict[str, Any] | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in (summary or {}).get("rounds", []):
            if not out or out[-1]["version"] != str(r["champion_version"]):
                out.append({"round": r["round"], "version": str(r["champion_version"]),
                            "reason": "baseline" if not out else f"promoted after round {r['round'] - 1}", "at": None})
        return out

    # ------------------------------------------------------------------ the page's JSON
    def state(self) -> dict[str, Any]:
        with self._lock:
            summary = self.summary()
            base = {"out": str(self.out), "now": time.time(), "updated": _mtime(self.out / "summary.json") or None}
            if summary is None:
                state = self.out / "state.json"
                return {**base, "status": "starting" if state.is_file() or self.out.is_dir() else "missing",
                        "rounds": [], "strategies": [], "heldout": [], "versions": {}, "history": [],
                        "evasions": self.evasions(), "campaign_id": None}
            rounds = summary.get("rounds", [])
            planned = summary.get("rounds_planned")
            last = rounds[-1]["round"] if rounds else None
            status = "finished" if planned is not None and last is not None and last >= planned else "running"
            strategies = sorted({s for r in rounds for s in (r.get("per_strategy_detection") or {})})
            versions: dict[str, dict[str, Any]] = {}
            for r in rounds:
                v = str(r["champion_version"])
                versions.setdefault(v, {"per_strategy": r.get("per_strategy_detection") or {},
                                        "frozen_detection": r.get("frozen_detection"),
                                        "clean_macro_f1": r.get("clean_macro_f1"),
                                        "benign_perturbed_fpr": r.get("benign_perturbed_fpr"),
                                        "seen": f"champion from round {r['round']}"})
                g = r.get("gate") or {}
                c = g.get("challenger") or {}
                if g.get("challenger_version") and c:
                    versions.setdefault(str(g["challenger_version"]), {
                        "per_strategy": c.get("per_strategy_detection") or {},
                        "frozen_detection": c.get("frozen_detection"), "clean_macro_f1": c.get("clean_macro_f1"),
                        "benign_perturbed_fpr": c.get("benign_perturbed_fpr"),
                        "seen": f"challenger of round {r['round']}"})
            return {
                **base, "status": status, "campaign_id": summary.get("campaign_id"),
                "rounds_planned": planned, "heldout": summary.get("heldout_strategies") or [],
                "strategies": strategies,
                "rounds": [_compact(r) for r in rounds],
                "versions": {k: versions[k] for k in sorted(versions, key=lambda x: int(x) if x.isdigit() else 0)},
                "history": self.history(summary),
                "evasions": self.evasions(),
            }


def _compact(r: dict[str, Any]) -> dict[str, Any]:
    g = r.get("gate")
    sel = r.get("selection") or {}
    live = r.get("live_attack_success")
    return {
        "round": r["round"], "champion_version": str(r["champion_version"]),
        "frozen_detection": _r(r.get("frozen_detection")), "heldout_detection": _r(r.get("heldout_strategy_detection")),
        "live_detection": None if live is None else _r(1 - live), "live_attack_success": _r(live),
        "clean_macro_f1": _r(r.get("clean_macro_f1")), "benign_perturbed_fpr": _r(r.get("benign_perturbed_fpr")),
        "threshold": r.get("threshold"), "promoted": bool(r.get("promoted")), "wall_s": _r(r.get("wall_s"), 1),
        "per_strategy": {k: _r(v) for k, v in (r.get("per_strategy_detection") or {}).items()},
        "selection": sel.get("chosen"),
        "gate": None if not g else {
            "challenger_version": str(g.get("challenger_version")), "promote": bool(r.get("promoted")),
            **{k: _r(g.get(k)) for k in ("detection_gain", "ci_low", "ci_high", "clean_f1_delta",
                                          "clean_f1_delta_vs_baseline", "fpr_delta", "fpr_delta_vs_baseline")},
            "reasons": list(g.get("reasons") or []),
        },
    }


# ============================================================================ the page
def plotly_js() -> bytes:
    """plotly.min.js from the installed plotly wheel (no CDN)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ArenaError("the dashboard needs plotly (pip install plotly): its wheel ships the chart library") from exc
    return get_plotlyjs().encode()


_PAGE = (Path(__file__).with_name("dashboard.html"))


def page_html(*, api: str = "api/state", battles_api: str | None = None, plotly_src: str = "plotly.min.js",
              title: str = "Content Arena: battle dashboard", poll_s: float = POLL_S) -> str:
    """The page; ``api`` is the state URL it polls, ``battles_api`` (Serve) lists battles to choose from."""
    cfg = {"api": api, "battlesApi": battles_api, "pollMs": int(poll_s * 1000)}
    return (_PAGE.read_text(encoding="utf-8").replace("__TITLE__", title).replace("__PLOTLY__", plotly_src)
            .replace("__CONFIG__", json.dumps(cfg)))


# ============================================================================ the local server
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet; errors still go to stderr
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlparse(self.path).path
        try:
            if path in ("/", "/index.html"):
                self._send(200, self.server.page, "text/html; charset=utf-8")
            elif path == "/plotly.min.js":
                self._send(200, self.server.plotly, "application/javascript; charset=utf-8", cache=True)
            elif path == "/api/state":
                body = json.dumps(self.server.view.state()).encode()
                self._send(200, body, "application/json")
            elif path == "/healthz":
                self._send(200, b'{"status":"ok"}', "application/json")
            else:
                self._send(404, json.dumps({"detail": f"no such page: {path}"}).encode(), "application/json")
        except BrokenPipeError:  # the browser went away
            pass
        except Exception as exc:  # noqa: BLE001 - one line to the page, the server keeps running
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"detail": str(exc)[:300]}).encode(),
                       "application/json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, view: CampaignView, page: bytes, plotly: bytes, verbose: bool) -> None:
        super().__init__(addr, _Handler)
        self.view, self.page, self.plotly, self.verbose = view, page, plotly, verbose


def make_server(out: str | os.PathLike, port: int = DEFAULT_PORT, *, poll_s: float = POLL_S,
                verbose: bool = False) -> _Server:
    """The dashboard server for ``out`` on 127.0.0.1:``port`` (0: any free port), not yet serving."""
    if not poll_s > 0:
        raise ArenaError(f"--poll {poll_s}: expected a positive number of seconds")
    if not 0 <= port <= 65535:
        raise ArenaError(f"--port {port}: expected 0-65535")
    out = Path(out)
    if not out.is_dir():
        raise ArenaError(f"{out} is not a folder: give a campaign folder (arena campaign --out DIR)")
    try:
        return _Server(("127.0.0.1", port), CampaignView(out), page_html(poll_s=poll_s).encode(), plotly_js(), verbose)
    except OSError as exc:
        raise ArenaError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another --port") from exc


def serve_dashboard(out: str | os.PathLike, port: int = DEFAULT_PORT, *, poll_s: float = POLL_S,
                    max_seconds: float | None = None) -> None:
    """Serve until Ctrl-C (or ``max_seconds``)."""
    server = make_server(out, port, poll_s=poll_s)
    host, real_port = server.server_address[:2]
    print(f"dashboard of {out}: http://{host}:{real_port}/  (Ctrl-C to stop)", flush=True)
    if max_seconds is not None:
        threading.Timer(max_seconds, server.shutdown).start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

