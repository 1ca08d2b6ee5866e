"""Services.blend_challenger: every saved tensor interpolated between the champion and the new weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from arena.arena import Services
from arena.config import load_config
from arena.errors import ArenaError
from arena.registry import Registry


def _folder(root: Path, name: str, value: float, rank: int = 4) -> Path:
    d = root / name
    (d / "adapter").mkdir(parents=True)
    save_file({"lora_A": torch.full((rank, 8), value), "classifier.weight": torch.full((2, 8), 2 * value)},
              str(d / "adapter" / "adapter_model.safetensors"))
    (d / "defender.json").write_text(json.dumps({"threshold": 0.4}))
    (d / "rules.json").write_text(json.dumps({"rules": [], "name": name}))
    return d


def test_blend_interpolates_every_tensor_and_keeps_the_new_rules(tmp_path: Path, repo_root: Path):
    cfg = load_config(repo_root / "configs/test.yaml")
    out = tmp_path / "run"
    reg = Registry.from_config(cfg, out)
    versions = []
    for name, value in (("champion", 1.0), ("trained", 3.0), ("other_rank", 0.0)):
        with reg.run(name) as run:
            versions.append(reg.register(_folder(tmp_path, name, value, rank=2 if name == "other_rank" else 4),
                                         run.info.run_id))
    services = Services(cfg, out, reg, progress=False)
    v = services.blend_challenger(versions[0], versions[1], 0.25, 3, {"campaign_id": "c"})
    folder = reg.resolve(v)[1]
    t = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    assert torch.allclose(t["lora_A"], torch.full((4, 8), 1.5))  # 0.75 * 1 + 0.25 * 3
    assert torch.allclose(t["classifier.weight"], torch.full((2, 8), 3.0))
    assert json.loads((folder / "rules.json").read_text())["name"] == "trained"  # the challenger's rules
    assert {r["version"]: r["tags"] for r in reg.list_versions()}[v]["candidate"] == "blend0.25"
    with pytest.raises(ArenaError, match="tensors differ"):
        services.blend_challenger(versions[2], versions[1], 0.5, 4, {})
