"""Train a tiny defender end to end through the CLI, then moderate, list, roll back (about a minute)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("train")
    rc = main(["train", "--config", str(repo_root / "configs/test.yaml"), "--out", str(out), "--quiet"])
    assert rc == 0
    return out


def test_metrics_json(trained: Path):
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "roc_auc"):
        assert 0.0 <= m[key] <= 1.0
    assert set(m["per_class"]) == {"not_toxic", "toxic"}
    assert m["per_class"]["toxic"]["support"] + m["per_class"]["not_toxic"]["support"] == m["n"] == 128
    assert m["model_version"] == "1"
    # even one tiny epoch learns something: better than chance ranking
    assert m["roc_auc"] > 0.58
    # the threshold was calibrated on val, stored with the model, and used for the test metrics
    thr = m["train"]["threshold"]
    assert 0.05 <= thr <= 0.95 and m["threshold"] == thr
    spec = json.loads((trained / "models" / "baseline" / "defender.json").read_text())
    assert spec["threshold"] == thr
    last = m["train"]["history"][-1]
    assert last["val_threshold"] == thr or m["train"]["best_epoch"] != last["epoch"]


def test_saved_as_safetensors_only(trained: Path):
    files = [p.name for p in (trained / "models" / "baseline").rglob("*") if p.is_file()]
    assert "adapter_model.safetensors" in files and "defender.json" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))]


def test_moderate_uses_champion(trained: Path, capsys: pytest.CaptureFixture[str]):
    rc = main(["moderate", "--out", str(trained), "--json", "you are a stupid idiot", "have a lovely day"])
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["model_version"] for r in rows] == ["1", "1"]
    assert rows[0]["score"] > rows[1]["score"]


def test_merged_matches_unmerged(trained: Path):
    from arena.defend import Defender

    texts = ["you are a stupid idiot", "have a lovely day", "what a game last night"]
    a = Defender.load(trained / "models" / "baseline", merge=False).score(texts)
    b = Defender.load(trained / "models" / "baseline", merge=True).score(texts)
    assert a == pytest.approx(b, abs=1e-4)


def test_models_list_history_rollback(trained: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["models", "list", "--out", str(trained)]) == 0
    assert "champion" in capsys.readouterr().out
    assert main(["models", "history", "--out", str(trained)]) == 0
    assert "baseline" in capsys.readouterr().out
    assert main(["models", "rollback", "99", "--out", str(trained)]) == 2
    assert "no version 99" in capsys.readouterr().err


def test_moderate_without_champion_is_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["moderate", "--out", str(tmp_path), "hello"]) == 2
    assert "arena train" in capsys.readouterr().err


def test_soft_targets_pull_scores_toward_them(trained: Path, repo_root: Path):
    """Replay distillation trains on P(toxic) targets in [0, 1]; anything else is a clear error."""
    from arena.config import load_config
    from arena.defend import Defender, train_defender
    from arena.errors import ModelError

    texts = ["you are a stupid idiot", "have a lovely day", "shut up you moron", "what a game last night",
             "go to hell", "thanks for the help", "this is garbage and so are you", "see you tomorrow"]
    val_y = [1, 0, 1, 0, 1, 0, 1, 0]
    d = Defender.load(trained / "models" / "baseline", trainable=True)
    before = d.score(texts)
    cfg = load_config(repo_root / "configs/test.yaml").train.model_copy(
        update={"epochs": 4, "lr": 5e-3, "patience": 4, "batch_size": 4, "calibrate_threshold": False})
    train_defender(d, texts, [0.8] * len(texts), texts, val_y, cfg, progress=False)
    after = d.score(texts)

    def gap(xs):  # mean distance to the soft target
        return sum(abs(x - 0.8) for x in xs) / len(xs)

    assert gap(after) < 0.5 * gap(before), (before, after)
    with pytest.raises(ModelError, match="soft target"):
        train_defender(d, texts, [1.5] + [0] * 7, texts, val_y, cfg, progress=False)


TEXTS = ["you are a stupid idiot", "have a lovely day", "ok", "", "what a game last night " * 30,
         "shut up you moron, nobody asked", "thanks for the help with the move yesterday"]


def test_onnx_runtime_matches_torch_and_reuses_its_export(trained: Path, tmp_path: Path):
    from arena.defend import Defender

    model_dir = trained / "models" / "baseline"
    torch_scores = Defender.load(model_dir, device="cpu").score(TEXTS)
    d = Defender.load(model_dir, device="cpu").use_onnx(tmp_path / "onnx", threads=1)
    assert d.runtime == "onnxruntime"
    assert d.score(TEXTS) == pytest.approx(torch_scores, abs=1e-5)
    assert d.score(TEXTS, batch_size=2) == pytest.approx(torch_scores, abs=1e-5)  # padding, several batches
    assert d.score([]) == []
    stamp = (tmp_path / "onnx" / "defender.onnx").stat().st_mtime_ns
    Defender.load(model_dir, device="cpu").use_onnx(tmp_path / "onnx")  # same weights: no new export
    assert (tmp_path / "onnx" / "defender.onnx").stat().st_mtime_ns == stamp


def test_onnx_export_follows_the_weights_and_refuses_a_wrong_file(trained: Path, tmp_path: Path):
    import torch

    from arena.defend import Defender
    from arena.defend.onnx import export
    from arena.errors import ModelError

    model_dir = trained / "models" / "baseline"
    Defender.load(model_dir, device="cpu").use_onnx(tmp_path)
    changed = Defender.load(model_dir, device="cpu")
    with torch.no_grad():
        changed.model.classifier.bias += torch.tensor([2.0, -2.0])
    expected = changed.score(TEXTS)
    assert changed.use_onnx(tmp_path).score(TEXTS) == pytest.approx(expected, abs=1e-5)  # re-exported
    # a file that is not the model its fingerprint names (e.g. replaced by hand) is refused at load
    original = Defender.load(model_dir, device="cpu")
    original.use_onnx(tmp_path)
    export(changed, tmp_path / "defender.onnx")
    with pytest.raises(ModelError, match="differ from torch"):
        Defender.load(model_dir, device="cpu").use_onnx(tmp_path)
    unmerged = Defender.load(model_dir, device="cpu", merge=False)
    with pytest.raises(ModelError, match="merged"):
        unmerged.use_onnx(tmp_path / "other")
