"""The Serve app over real HTTP: moderation with batching, attack, bad input, hot swap, battles, metrics.

The app is deployed once per module from serve_configs/arena.yaml (with test paths and a free
port) through ``arena.serve.run_cli``, the function behind ``arena serve``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from ray_helpers import REPO, TINY, free_port, scrape, seed_registry, tiny_config

pytestmark = pytest.mark.ray

TOKEN = "serve-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class App:
    url: str
    out: Path
    cfg: object
    champion_dir: Path


@pytest.fixture(scope="module")
def app(ray_cluster, tiny_champion, tmp_path_factory) -> App:
    from ray import serve

    from arena.serve import run_cli

    out = tmp_path_factory.mktemp("serve")
    cfg = tiny_config()
    seed_registry(cfg, out, tiny_champion)
    config = yaml.safe_load((REPO / "serve_configs" / "arena.yaml").read_text())
    port = free_port()
    config["http_options"]["port"] = port
    config["applications"][0]["args"].update(
        out_dir=str(out), config=str(REPO / "configs" / "test.yaml"), config_overrides=TINY,
        auth_token=TOKEN, poll_interval_s=1, max_batch_size=16, batch_wait_timeout_s=0.05,
        max_texts_per_request=8, max_chars_per_text=500,
        defender_num_cpus=0.5, attacker_num_cpus=0.1, ingress_num_cpus=0.1)
    path = out / "arena.yaml"
    path.write_text(yaml.safe_dump(config))
    run_cli(str(path), blocking=False, timeout=300)
    yield App(f"http://127.0.0.1:{port}", out, cfg, tiny_champion)
    serve.delete("arena")


def defender_stats():
    from ray import serve

    return serve.get_deployment_handle("Defender", app_name="arena").stats.remote().result()


def test_moderate_batches_concurrent_requests(app):
    texts = [f"you are an idiot number {i}" for i in range(24)]
    before = defender_stats()
    with httpx.Client(base_url=app.url, timeout=60) as client, ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda t: client.post("/api/v1/moderate", json={"texts": [t]}), texts))
    assert [r.status_code for r in responses] == [200] * len(texts)
    for r in responses:
        body = r.json()
        assert body["model_version"] and len(body["scores"]) == 1 and 0.0 <= body["scores"][0] <= 1.0
        assert body["labels"] == ["toxic" if body["scores"][0] >= body["threshold"] else "not_toxic"]
    after = defender_stats()
    assert after["texts"] - before["texts"] == len(texts)
    assert after["batches"] - before["batches"] < len(texts)  # requests shared forward batches
    assert after["max_batch"] > 1
    assert after["runtime"] == "onnxruntime"  # runtime: auto on CPU (serve_configs/arena.yaml)

    multi = httpx.post(f"{app.url}/api/v1/moderate", json={"texts": ["have a nice day", "id\u200biot", "🙂 ok"]})
    assert multi.status_code == 200 and len(multi.json()["scores"]) == 3


def test_attack_endpoint(app):
    r = httpx.post(f"{app.url}/api/v1/attack", json={"text": "you are an idiot", "strategy": "homoglyph", "n": 2},
                   timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["candidates"] and body["queries"] > 1
    for c in body["candidates"]:
        assert c["strategy"] == "homoglyph" and c["text"] != "you are an idiot"
        assert c["valid"] is not None and c["validity"] is not None
        if c["valid"]:
            assert 0.0 <= c["score"] <= 1.0 and c["evaded"] == (c["score"] < body["threshold"])
    bad = httpx.post(f"{app.url}/api/v1/attack", json={"text": "you idiot", "strategy": "no_such_thing"})
    assert bad.status_code == 422 and "unknown strategy" in bad.json()["detail"]


BAD = [
    ("empty body", "/api/v1/moderate", dict(content=b"", headers={"content-type": "application/json"}), {422}),
    ("invalid JSON", "/api/v1/moderate", dict(content=b"{nope", headers={"content-type": "application/json"}), {422}),
    ("invalid UTF-8", "/api/v1/moderate", dict(content=b'{"texts": ["\xc3\x28"]}',
                                                headers={"content-type": "application/json"}), {400}),
    ("empty list", "/api/v1/moderate", dict(json={"texts": []}), {422}),
    ("wrong types", "/api/v1/moderate", dict(json={"texts": [1, {"a": 2}]}), {422}),
    ("texts is a string", "/api/v1/moderate", dict(json={"texts": "idiot"}), {422}),
    ("lone surrogate", "/api/v1/moderate", dict(content=b'{"texts": ["\\udfff"]}',
                                                 headers={"content-type": "application/json"}), {422}),
    ("1 MB text", "/api/v1/moderate", dict(json={"texts": ["x" * 1_000_000]}), {413}),
    ("10k-item batch", "/api/v1/moderate", dict(json={"texts": ["hi"] * 10_000}), {413}),
    ("text over the limit", "/api/v1/moderate", dict(json={"texts": ["x" * 501]}), {413}),
    ("unknown strategy", "/api/v1/attack", dict(json={"text": "you idiot", "strategy": "x"}), {422}),
    ("battle without token", "/api/v1/battles", dict(json={"rounds": 1}), {401}),
    ("battle with bad token", "/api/v1/battles", dict(json={"rounds": 1}, headers={"Authorization": "Bearer x"}),
     {401}),
    ("promote with bad token", "/api/v1/models/promote", dict(json={"version": "1"},
                                                               headers={"Authorization": "Basic Zm9vOmJhcg=="}), {401}),
    ("promote unknown version", "/api/v1/models/promote", dict(json={"version": "999"}, headers=AUTH), {404}),
    ("battle bad strategy", "/api/v1/battles", dict(json={"rounds": 1, "attack_strategy": "x"}, headers=AUTH), {422}),
]


def test_bad_input_matrix_gets_4xx_and_the_server_stays_healthy(app):
    with httpx.Client(base_url=app.url, timeout=60) as client:
        for name, path, kwargs, statuses in BAD:
            r = client.post(path, **kwargs)
            assert r.status_code in statuses, (name, r.status_code, r.text[:300])
            assert len(r.content) < 10_000, name  # no echo of the input
        assert client.get("/api/v1/battles/b-000000000000").status_code == 404
        assert client.get("/api/v1/battles/..%2Fstate.json").status_code == 404
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ok = client.post("/api/v1/moderate", json={"texts": ["still alive?"]})
        assert ok.status_code == 200
        assert client.get("/docs").status_code == 200
        assert "/api/v1/moderate" in client.get("/openapi.json").json()["paths"]


def test_hot_swap_after_promotion_fails_no_request(app):
    from arena.registry import Registry

    reg = Registry.from_config(app.cfg, app.out)
    with reg.run("second-champion", tags={"arena.kind": "test"}) as run:
        v2 = reg.register(app.champion_dir, run.info.run_id, tags={"kind": "test"})
    v1 = reg.get_alias("champion")
    assert v2 != v1

    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=app.url, timeout=60) as client:
            while not stop.is_set():
                try:
                    r = client.post("/api/v1/moderate", json={"texts": ["you are an idiot", "nice day"]})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                else:
                    seen.append(r.json()["model_version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        # 1) promotion through the API: the alias moves and the defender swaps at once
        r = httpx.post(f"{app.url}/api/v1/models/promote", json={"version": v2}, headers=AUTH, timeout=120)
        assert r.status_code == 200, r.text
        assert r.json()["served_version"] == v2 and r.json()["previous"] == v1
        deadline = time.monotonic() + 60
        while (not seen or seen[-1] != v2) and time.monotonic() < deadline:
            time.sleep(0.2)
        # 2) a promotion by a campaign (alias moved in the registry): the poll picks it up
        reg.set_alias("champion", v1, reason="test: back to the first champion")
        deadline = time.monotonic() + 60
        while seen[-1] != v1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert v2 in seen and seen[-1] == v1
    assert len(seen) > 10
    models = httpx.get(f"{app.url}/api/v1/models").json()
    assert models["champion"] == v1 and models["served_version"] == v1
    assert [h["version"] for h in models["history"] if h["alias"] == "champion"][-2:] == [v2, v1]
    assert defender_stats()["swaps"] >= 2


def test_battle_runs_a_campaign_through_the_coordinator(app):
    body = {"rounds": 0, "attack_strategy": "homoglyph"}
    r = httpx.post(f"{app.url}/api/v1/battles", json=body, headers=AUTH, timeout=120)
    assert r.status_code == 202, r.text
    battle = r.json()
    assert battle["status"] == "running" and battle["attack_strategy"] == "homoglyph"
    busy = httpx.post(f"{app.url}/api/v1/battles", json=body, headers=AUTH, timeout=60)
    assert busy.status_code == 409 and "one battle at a time" in busy.json()["detail"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = httpx.get(f"{app.url}/api/v1/battles/{battle['id']}", timeout=30).json()
        if status["status"] != "running":
            break
        time.sleep(2)
    assert status["status"] == "succeeded", status
    assert status["campaign_id"] and [row["round"] for row in status["rounds"]] == [0]
    assert 0.0 <= status["rounds"][0]["frozen_detection"] <= 1.0
    listed = httpx.get(f"{app.url}/api/v1/battles").json()
    assert battle["id"] in [b["id"] for b in listed]
    assert (app.out / "battles" / battle["id"] / "records" / "round=0" / "_COMPLETE").is_file()
    # the live dashboard of the app lists the battle and reads its campaign folder
    page = httpx.get(f"{app.url}/dashboard", timeout=30)
    assert page.status_code == 200 and "dashboard/api/state" in page.text
    assert battle["id"] in [b["id"] for b in httpx.get(f"{app.url}/dashboard/api/battles", timeout=30).json()]
    state = httpx.get(f"{app.url}/dashboard/api/state", params={"battle": battle["id"]}, timeout=30).json()
    assert state["campaign_id"] == status["campaign_id"] and [r["round"] for r in state["rounds"]] == [0]


def test_moderation_metrics_are_exported(app, ray_cluster):
    httpx.post(f"{app.url}/api/v1/moderate", json={"texts": ["metrics please"]})
    text = scrape(ray_cluster.metrics_url, [
        "ray_arena_moderation_requests_total{", "ray_arena_moderation_latency_seconds_bucket{",
        "ray_arena_moderation_batch_size_bucket{", "ray_arena_champion_version{", "ray_arena_promotions_total{"])
    for name in ("ray_arena_moderation_requests_total", "ray_arena_moderation_latency_seconds_bucket",
                 "ray_arena_moderation_batch_size_bucket", "ray_arena_champion_version", "ray_arena_promotions_total"):
        assert name + "{" in text, name
    assert 'status="ok"' in text and 'status="rejected"' in text
