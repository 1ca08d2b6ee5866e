"""The HTTP API of the arena: FastAPI routes over a backend object.

    app = create_api(backend, ApiSettings(max_texts_per_request=64, max_chars_per_text=2000, token="s3cret"))

In production the backend talks to the Serve deployments (arena/serve/deployments.py); unit tests
pass a fake one, so everything here runs without Ray.

    POST /api/v1/moderate            {"texts": [...]} -> labels, scores, model version
    POST /api/v1/attack              {"text", "strategy", "n", "seed", ...} -> candidates + defender scores
    POST /api/v1/battles      (auth) {"rounds": 10, "attack_strategy": "unicode_evasion"} -> 202 + id
    GET  /api/v1/battles[/{id}]      status and per-round summary
    GET  /api/v1/models              champion, challenger, versions, history
    POST /api/v1/models/promote (auth) {"version": "3"} -> alias flip, defender hot swap
    GET  /api/v1/strategies          attack strategies and recipes
    GET  /healthz                    200 once a champion is loaded
    GET  /dashboard                  the live battle dashboard (arena/dashboard.py), a picker over the battles
    GET  /docs, /openapi.json        OpenAPI

Input rules: JSON bodies only, unknown fields and wrong types rejected (422); at most
``max_texts_per_request`` texts of at most ``max_chars_per_text`` characters (413 beyond, and a
body larger than those limits allow is refused before it is parsed); empty texts and strings that
are not valid Unicode (lone surrogates) are rejected (422). Mutating endpoints need
``Authorization: Bearer <token>`` (401 without or with a wrong one; 503 when the server has no
token configured). Error bodies never echo the input back.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.serve.schemas import (
    AttackRequest,
    AttackResponse,
    BattleRequest,
    BattleStatus,
    HealthResponse,
    ModelsResponse,
    ModerateRequest,
    ModerateResponse,
    PromoteRequest,
)

API = "/api/v1"
BATTLE_ID = re.compile(r"^b-[0-9a-f]{12}$")
ADAPTIVE = "adaptive"
ALL = "all"


class ApiError(Exception):
    """Raised by a backend to answer with ``status`` and a message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Backend(Protocol):
    async def moderate(self, texts: list[str]) -> dict[str, Any]: ...
    async def attack(self, req: AttackRequest) -> dict[str, Any]: ...
    async def start_battle(self, req: BattleRequest) -> dict[str, Any]: ...
    async def battle(self, battle_id: str) -> dict[str, Any] | None: ...
    async def battles(self) -> list[dict[str, Any]]: ...
    async def models(self) -> dict[str, Any]: ...
    async def promote(self, version: str) -> dict[str, Any]: ...
    async def health(self) -> dict[str, Any]: ...
    def strategies(self) -> list[dict[str, Any]]: ...


@dataclass
class ApiSettings:
    max_texts_per_request: int = 64
    max_chars_per_text: int = 2000
    token: str | None = None
    token_env: str = "ARENA_API_TOKEN"

    @property
    def max_body_bytes(self) -> int:
        """The largest JSON body the text limits allow (6 bytes per char covers \\uXXXX escapes)."""
        return self.max_texts_per_request * (self.max_chars_per_text * 6 + 8) + 65_536


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by Content-Length or while streaming."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _too_large(send, self.limit)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large: at most {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def check_texts(texts: list[str], settings: ApiSettings, field: str = "texts") -> None:
    """Count, size, emptiness and Unicode checks; raises HTTPException naming the offending item."""
    if not texts:
        raise HTTPException(422, f"{field}: give at least one text")
    if len(texts) > settings.max_texts_per_request:
        raise HTTPException(413, f"{field}: {len(texts)} texts, at most {settings.max_texts_per_request} per request")
    for i, text in enumerate(texts):
        where = f"{field}[{i}]" if field == "texts" else field
        if len(text) > settings.max_chars_per_text:
            raise HTTPException(413, f"{where}: {len(text)} characters, at most {settings.max_chars_per_text}")
        if not text.strip():
            raise HTTPException(422, f"{where}: empty text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPException(422, f"{where}: not valid Unicode (a lone surrogate escape)") from None


def _validation_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with location, message and type of each error, but never the (maybe huge) input."""
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


def _api_error_handler(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


async def _http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own 400 for a body it cannot decode gets a message that says what is wrong."""
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return JSONResponse({"detail": "request body is not valid UTF-8 JSON"}, status_code=400)
    return await http_exception_handler(request, exc)


def create_api(backend: Backend, settings: ApiSettings,
               observe: Callable[[str, float], None] | None = None,
               battles_dir: str | Path | None = None) -> FastAPI:
    """The FastAPI app. ``observe(status, seconds)`` is called once per moderation request.

    With ``battles_dir`` (the folder of the battles' campaign folders) it also serves the live
    dashboard (arena/dashboard.py) at ``GET /dashboard``, with a picker over the battles."""
    app = FastAPI(
        title="Content Arena", version="0.1.0",
        description="Moderation by the champion defender, attacks on it, battle campaigns, and the model registry.",
    )
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def require_token(authorization: str | None = Header(None, description="Bearer <token>")) -> None:
        if not settings.token:
            raise HTTPException(503, f"mutating endpoints are disabled: no API token configured "
                                f"(set {settings.token_env} on the server)")
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(),
                                                                 settings.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def known_strategy(name: str, extra: tuple[str, ...]) -> None:
        names = [s["name"] for s in backend.strategies()]
        if name not in names and name not in extra:
            raise HTTPException(422, f"unknown strategy {name!r}; known: {', '.join([*extra, *names])}")

    @app.get("/healthz", response_model=HealthResponse, tags=["ops"])
    async def healthz() -> dict[str, Any]:
        try:
            return await backend.health()
        except ApiError:
            raise
        except Exception as exc:
            raise HTTPException(503, f"not ready: {type(exc).__name__}") from None

    @app.post(f"{API}/moderate", response_model=ModerateResponse, tags=["moderation"])
    async def moderate(req: ModerateRequest) -> dict[str, Any]:
        t0, status = time.perf_counter(), "error"
        try:
            try:
                check_texts(req.texts, settings)
            except HTTPException:
                status = "rejected"
                raise
            out = await backend.moderate(req.texts)
            status = "ok"
            threshold = out["threshold"]
            return {"model_version": str(out["model_version"]), "threshold": threshold, "scores": out["scores"],
                    "labels": ["toxic" if s >= threshold else "not_toxic" for s in out["scores"]]}
        finally:
            if observe:
                observe(status, time.perf_counter() - t0)

    @app.get(f"{API}/strategies", tags=["attack"])
    async def strategies() -> list[dict[str, Any]]:
        return backend.strategies()

    @app.post(f"{API}/attack", response_model=AttackResponse, tags=["attack"])
    async def attack(req: AttackRequest) -> dict[str, Any]:
        check_texts([req.text], settings, field="text")
        known_strategy(req.strategy, (ALL,))
        return await backend.attack(req)

    @app.post(f"{API}/battles", response_model=BattleStatus, status_code=202, tags=["battles"],
              dependencies=[Depends(require_token)])
    async def start_battle(req: BattleRequest) -> dict[str, Any]:
        known_strategy(req.attack_strategy, (ADAPTIVE,))
        return await backend.start_battle(req)

    @app.get(f"{API}/battles", response_model=list[BattleStatus], tags=["battles"])
    async def list_battles() -> list[dict[str, Any]]:
        return await backend.battles()

    @app.get(f"{API}/battles/{{battle_id}}", response_model=BattleStatus, tags=["battles"])
    async def get_battle(battle_id: str) -> dict[str, Any]:
        found = await backend.battle(battle_id) if BATTLE_ID.match(battle_id) else None
        if found is None:
            raise HTTPException(404, f"no battle {battle_id[:40]!r}")
        return found

    @app.get(f"{API}/models", response_model=ModelsResponse, tags=["models"])
    async def models() -> dict[str, Any]:
        return await backend.models()

    @app.post(f"{API}/models/promote", tags=["models"], dependencies=[Depends(require_token)])
    async def promote(req: PromoteRequest) -> dict[str, Any]:
        version = str(req.version)
        if not version.isdigit():
            raise HTTPException(422, f"version must be a registered version number, got {version[:40]!r}")
        return await backend.promote(version)

    if battles_dir is not None:
        _add_dashboard(app, backend, Path(battles_dir))
    return app


def _add_dashboard(app: FastAPI, backend: Backend, root: Path) -> None:
    from arena.dashboard import CampaignView, page_html, plotly_js

    views: dict[str, CampaignView] = {}
    page = page_html(api="dashboard/api/state", battles_api="dashboard/api/battles",
                     plotly_src="dashboard/plotly.min.js", title="Content Arena: battles")
    js: list[bytes] = []

    @app.get("/dashboard", response_class=HTMLResponse, tags=["dashboard"])
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/dashboard/plotly.min.js", tags=["dashboard"], include_in_schema=False)
    async def dashboard_js() -> Response:
        if not js:
            js.append(plotly_js())
        return Response(js[0], media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/dashboard/api/battles", tags=["dashboard"])
    async def dashboard_battles() -> list[dict[str, Any]]:
        return await backend.battles()

    @app.get("/dashboard/api/state", tags=["dashboard"])
    async def dashboard_state(battle: str) -> dict[str, Any]:
        folder = root / battle
        if not BATTLE_ID.match(battle) or not folder.is_dir():
            raise HTTPException(404, f"no battle {battle[:40]!r}")
        view = views.setdefault(battle, CampaignView(folder))
        return view.state()
