"""The HTTP API without Ray: routes, limits, auth and error bodies over a fake backend."""

from __future__ import annotations

import json
import sys

import pytest
from fastapi.testclient import TestClient

from arena.serve.api import ApiError, ApiSettings, create_api
from arena.serve.schemas import AppArgs, AttackRequest, BattleRequest

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeBackend:
    def __init__(self) -> None:
        self.moderated: list[list[str]] = []
        self.battles_started: list[BattleRequest] = []
        self.promoted: list[str] = []

    async def moderate(self, texts):
        self.moderated.append(texts)
        return {"model_version": "7", "threshold": 0.5, "scores": [0.9 if "idiot" in t else 0.1 for t in texts]}

    async def attack(self, req: AttackRequest):
        return {"original": req.text, "original_score": 0.9, "model_version": "7", "threshold": 0.5, "queries": 3,
                "candidates": [{"text": req.text.upper(), "strategy": "case_mix", "params": {}, "seed": req.seed,
                                "validity": 1.0, "valid": True, "score": 0.2, "evaded": True}]}

    async def start_battle(self, req):
        self.battles_started.append(req)
        return {"id": "b-0123456789ab", "status": "running", "attack_strategy": req.attack_strategy,
                "rounds_requested": req.rounds}

    async def battle(self, battle_id):
        if battle_id != "b-0123456789ab":
            return None
        return {"id": battle_id, "status": "succeeded", "attack_strategy": "homoglyph", "rounds_requested": 1,
                "rounds": [{"round": 0, "frozen_detection": 0.5}]}

    async def battles(self):
        return []

    async def models(self):
        return {"model_name": "arena-defender", "alias": "champion", "champion": "7", "challenger": "8",
                "served_version": "7", "versions": [], "history": []}

    async def promote(self, version):
        if version == "99":
            raise ApiError(404, "arena-defender has no version 99")
        self.promoted.append(version)
        return {"alias": "champion", "version": version, "previous": "7", "served_version": version}

    async def health(self):
        return {"status": "ok", "model_version": "7"}

    def strategies(self):
        return [{"name": n, "family": "char", "kind": "strategy", "description": ""} for n in ("homoglyph", "leet")]


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def observed() -> list:
    return []


@pytest.fixture
def client(backend, observed) -> TestClient:
    settings = ApiSettings(max_texts_per_request=4, max_chars_per_text=50, token=TOKEN)
    return TestClient(create_api(backend, settings, observe=lambda s, t: observed.append(s)))


def test_moderate_labels_scores_and_version(client, backend, observed):
    r = client.post("/api/v1/moderate", json={"texts": ["have a nice day", "you idiot", "emoji 🙂 ok"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "7" and body["labels"] == ["not_toxic", "toxic", "not_toxic"]
    assert body["scores"] == [0.1, 0.9, 0.1]
    assert backend.moderated == [["have a nice day", "you idiot", "emoji 🙂 ok"]]
    assert observed == ["ok"]


def test_invisible_characters_are_valid_input(client):
    r = client.post("/api/v1/moderate", json={"texts": ["id\u200biot \u202eyou"]})
    assert r.status_code == 200


BAD_MODERATE = [
    ("empty body", dict(content=b"", headers={"content-type": "application/json"}), 422),
    ("invalid JSON", dict(content=b'{"texts": [', headers={"content-type": "application/json"}), 422),
    ("invalid UTF-8 bytes", dict(content=b'{"texts": ["\xff\xfe"]}', headers={"content-type": "application/json"}), 400),
    ("no texts field", dict(json={}), 422),
    ("empty list", dict(json={"texts": []}), 422),
    ("texts not a list", dict(json={"texts": "you idiot"}), 422),
    ("numbers as texts", dict(json={"texts": [1, 2]}), 422),
    ("null text", dict(json={"texts": [None]}), 422),
    ("unknown field", dict(json={"texts": ["a"], "mode": "fast"}), 422),
    ("empty text", dict(json={"texts": ["   "]}), 422),
    ("lone surrogate", dict(content=b'{"texts": ["\\ud800 x"]}', headers={"content-type": "application/json"}), 422),
    ("too many texts", dict(json={"texts": ["a"] * 5}), 413),
    ("text too long", dict(json={"texts": ["a" * 51]}), 413),
    ("1 MB text", dict(json={"texts": ["a" * 1_000_000]}), 413),
    ("10k-item batch", dict(json={"texts": ["a"] * 10_000}), 413),
]


@pytest.mark.parametrize("name,kwargs,status", BAD_MODERATE, ids=[b[0] for b in BAD_MODERATE])
def test_bad_moderation_input_is_a_clear_4xx(client, backend, name, kwargs, status):
    r = client.post("/api/v1/moderate", **kwargs)
    assert r.status_code == status, (name, r.status_code, r.text[:300])
    assert len(r.content) < 5000  # errors never echo a huge input back
    assert "detail" in r.json()
    assert backend.moderated == []  # nothing reached the defender
    assert client.get("/healthz").status_code == 200


def test_limit_messages_name_the_limit(client):
    bad_utf8 = client.post("/api/v1/moderate", content=b'{"texts": ["\xff"]}', headers={"content-type": "application/json"})
    assert bad_utf8.json()["detail"] == "request body is not valid UTF-8 JSON"
    assert "at most 4 per request" in client.post("/api/v1/moderate", json={"texts": ["a"] * 5}).json()["detail"]
    assert "texts[1]: 51 characters, at most 50" in client.post(
        "/api/v1/moderate", json={"texts": ["ok", "a" * 51]}).json()["detail"]
    assert "request body too large" in client.post("/api/v1/moderate", json={"texts": ["a" * 1_000_000]}).json()["detail"]


def test_attack_and_unknown_strategy(client):
    r = client.post("/api/v1/attack", json={"text": "you idiot", "strategy": "leet", "n": 1, "seed": 3})
    assert r.status_code == 200, r.text
    cand = r.json()["candidates"][0]
    assert {"strategy", "validity", "valid", "score", "evaded"} <= set(cand) and cand["seed"] == 3
    bad = client.post("/api/v1/attack", json={"text": "you idiot", "strategy": "nope"})
    assert bad.status_code == 422 and "unknown strategy 'nope'" in bad.json()["detail"]
    assert "homoglyph" in bad.json()["detail"]
    assert client.post("/api/v1/attack", json={"text": "you idiot", "n": 100}).status_code == 422
    assert client.post("/api/v1/attack", json={"text": ""}).status_code == 422


def test_battles_need_the_token(client, backend):
    body = {"rounds": 10, "attack_strategy": "homoglyph"}
    assert client.post("/api/v1/battles", json=body).status_code == 401
    wrong = client.post("/api/v1/battles", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/battles", json=body, headers={"Authorization": TOKEN}).status_code == 401
    assert backend.battles_started == []
    r = client.post("/api/v1/battles", json=body, headers=AUTH)
    assert r.status_code == 202 and r.json()["id"] == "b-0123456789ab"
    assert client.post("/api/v1/battles", json={"attack_strategy": "adaptive"}, headers=AUTH).status_code == 202
    bad = client.post("/api/v1/battles", json={"rounds": 1, "attack_strategy": "nuke"}, headers=AUTH)
    assert bad.status_code == 422 and "unknown strategy" in bad.json()["detail"]
    assert client.post("/api/v1/battles", json={"rounds": "ten"}, headers=AUTH).status_code == 422
    assert client.post("/api/v1/battles", json={"rounds": -1}, headers=AUTH).status_code == 422


def test_battle_status_and_unknown_ids(client):
    r = client.get("/api/v1/battles/b-0123456789ab")
    assert r.status_code == 200 and r.json()["rounds"][0]["frozen_detection"] == 0.5
    for bad in ("b-ffffffffffff", "..%2F..%2Fetc", "x" * 300):
        assert client.get(f"/api/v1/battles/{bad}").status_code == 404


def test_models_and_promote(client, backend):
    assert client.get("/api/v1/models").json()["champion"] == "7"
    assert client.post("/api/v1/models/promote", json={"version": "8"}).status_code == 401
    r = client.post("/api/v1/models/promote", json={"version": 8}, headers=AUTH)
    assert r.status_code == 200 and r.json()["served_version"] == "8" and backend.promoted == ["8"]
    assert client.post("/api/v1/models/promote", json={"version": "99"}, headers=AUTH).status_code == 404
    assert client.post("/api/v1/models/promote", json={"version": "latest"}, headers=AUTH).status_code == 422


def test_no_configured_token_disables_mutations(backend):
    client = TestClient(create_api(backend, ApiSettings(token=None, token_env="MY_TOKEN")))
    r = client.post("/api/v1/battles", json={"rounds": 1}, headers=AUTH)
    assert r.status_code == 503 and "MY_TOKEN" in r.json()["detail"]
    assert client.post("/api/v1/moderate", json={"texts": ["hi"]}).status_code == 200  # reads stay open


def test_openapi_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/moderate", "/api/v1/attack", "/api/v1/battles", "/api/v1/battles/{battle_id}",
                 "/api/v1/models", "/api/v1/models/promote", "/healthz"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_app_args_accept_the_k8s_manifest_args_and_resolve(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = AppArgs.model_validate({
        "tracking_uri": "http://mlflow:5000", "model_name": "arena-defender", "alias": "champion",
        "max_batch_size": 32, "batch_wait_timeout_s": 0.02, "auth_token_env": "ARENA_API_TOKEN",
        "attacker_llm_backend": "llama_cpp"})
    assert args.max_texts_per_request is None
    local = AppArgs(out_dir=str(tmp_path / "runs"), max_chars_per_text=100).resolved()
    assert local.tracking_uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert local.max_chars_per_text == 100 and local.max_texts_per_request == 64  # from the serve defaults
    assert local.max_batch_size == 32 and local.auth_token_env == "ARENA_API_TOKEN"
    with pytest.raises(ValueError):
        AppArgs.model_validate({"max_batch_sise": 3})
    assert json.loads(AppArgs(auth_token="s3cret").model_dump_json())["auth_token"] == "**********"


def test_the_api_module_needs_no_ray():
    assert "arena.serve.api" in sys.modules
    import arena.serve

    assert callable(arena.serve.run_cli)


def test_dashboard_routes_list_and_read_battles(tmp_path):
    """GET /dashboard: the live page over the app's battle folders (arena/dashboard.py)."""
    root = tmp_path / "battles"
    folder = root / "b-0123456789ab"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({
        "campaign_id": "c-1", "rounds_planned": 0, "heldout_strategies": [],
        "rounds": [{"round": 0, "champion_version": "1", "frozen_detection": 0.5, "clean_macro_f1": 0.7,
                    "benign_perturbed_fpr": 0.05, "per_strategy_detection": {"leet": 0.5}, "promoted": False}]}))

    class Battles(FakeBackend):
        async def battles(self):
            return [{"id": "b-0123456789ab", "status": "succeeded", "attack_strategy": "leet", "rounds_requested": 0}]

    client = TestClient(create_api(Battles(), ApiSettings(token=TOKEN), battles_dir=root))
    page = client.get("/dashboard")
    assert page.status_code == 200 and "dashboard/api/state" in page.text and "dashboard/plotly.min.js" in page.text
    assert client.get("/dashboard/api/battles").json()[0]["id"] == "b-0123456789ab"
    state = client.get("/dashboard/api/state", params={"battle": "b-0123456789ab"}).json()
    assert state["status"] == "finished" and state["rounds"][0]["per_strategy"] == {"leet": 0.5}
    assert client.get("/dashboard/api/state", params={"battle": "../../etc"}).status_code == 404
    assert client.get("/dashboard/api/state", params={"battle": "b-ffffffffffff"}).status_code == 404
    js = client.get("/dashboard/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert "/dashboard/api/state" in client.get("/openapi.json").json()["paths"]
    # without a battles folder there is no dashboard route
    assert TestClient(create_api(Battles(), ApiSettings(token=TOKEN))).get("/dashboard").status_code == 404
