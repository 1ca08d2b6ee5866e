"""Portable run folders: a moved or copied run folder's registry points at its own artifacts."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from arena.cli import main
from arena.config import load_config
from arena.registry import CHAMPION, Registry, needs_relocation, relocate


def _folder(root: Path, name: str, marker: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "defender.json").write_text(json.dumps({"threshold": 0.5, "marker": marker}))
    return d


def _registry(tmp_path: Path, out: Path) -> Registry:
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs/test.yaml")
    return Registry.from_config(cfg, out)


def _locations(out: Path) -> list[str]:
    with sqlite3.connect(out / "mlflow.db") as con:
        rows = [r[0] for r in con.execute("SELECT artifact_location FROM experiments")]
        rows += [r[0] for r in con.execute("SELECT artifact_uri FROM runs")]
        rows += [r[0] for r in con.execute("SELECT source FROM model_versions")]
    return [r for r in rows if r and "mlartifacts" in r]  # not MLflow's unused Default experiment (cwd/mlruns)


def _make_run(tmp_path: Path) -> Path:
    out = tmp_path / "a"
    reg = _registry(tmp_path, out)
    with reg.run("baseline") as run:
        v = reg.register(_folder(tmp_path / "src", "base", "v1"), run.info.run_id)
    reg.set_alias(CHAMPION, v, round=0, reason="baseline")
    return out


def test_moved_run_folder_loads_and_registers_under_its_new_place(tmp_path: Path, capsys):
    a = _make_run(tmp_path)
    assert not needs_relocation(a)
    b = tmp_path / "moved" / "b"
    b.parent.mkdir()
    shutil.move(str(a), str(b))
    assert needs_relocation(b)
    reg = _registry(tmp_path, b)  # opening relocates
    assert "artifact locations moved" in capsys.readouterr().err
    version, path = reg.resolve(CHAMPION)
    assert path.is_relative_to(b.resolve()) and json.loads((path / "defender.json").read_text())["marker"] == "v1"
    assert all(str(b.resolve()) in loc for loc in _locations(b)), _locations(b)
    # new artifacts land in the moved folder, not at the old path
    with reg.run("challenger") as run:
        v2 = reg.register(_folder(tmp_path / "src", "chal", "v2"), run.info.run_id)
    assert reg.resolve(v2)[1].is_relative_to(b.resolve())
    assert not a.exists()
    assert not needs_relocation(b)  # idempotent
    assert relocate(b) == {"experiments": 0, "runs": 0, "model_versions": 0, "logged_models": 0}


def test_copied_run_folder_stops_pointing_at_the_original(tmp_path: Path):
    a = _make_run(tmp_path)
    c = tmp_path / "c"
    shutil.copytree(a, c)
    before = _locations(a)
    reg = _registry(tmp_path, c)
    path = reg.resolve(CHAMPION)[1]
    assert path.is_relative_to(c.resolve())
    (path / "defender.json").write_text("{}")  # the copy is its own: the original is untouched
    assert json.loads((_registry(tmp_path, a).resolve(CHAMPION)[1] / "defender.json").read_text())["marker"] == "v1"
    assert _locations(a) == before


def test_cli_relocate_dry_run_then_relocate(tmp_path: Path, capsys):
    a = _make_run(tmp_path)
    b = tmp_path / "b"
    shutil.move(str(a), str(b))
    assert main(["models", "relocate", "--dry-run", "--out", str(b)]) == 0
    assert "would move" in capsys.readouterr().out and needs_relocation(b)
    assert main(["models", "relocate", "--out", str(b)]) == 0
    assert "moved" in capsys.readouterr().out and not needs_relocation(b)
    assert main(["models", "relocate", "--out", str(b)]) == 0
    assert "already in this folder" in capsys.readouterr().out
    assert main(["models", "relocate", "--out", str(tmp_path / "nothing")]) == 2
    assert "mlflow.db not found" in capsys.readouterr().err


@pytest.mark.parametrize("uri", ["sqlite:///relative/mlflow.db", "postgresql://host/db", "file:///x"])
def test_only_an_existing_run_folder_registry_is_touched(uri: str):
    from arena.registry import _run_folder_db

    assert _run_folder_db(uri) is None
