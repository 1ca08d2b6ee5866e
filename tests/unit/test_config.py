from pathlib import Path

import pytest

from arena.config import ArenaConfig, load_config
from arena.errors import ConfigError


def test_shipped_configs_load(repo_root: Path):
    for name in ("default", "demo", "test"):
        cfg = load_config(repo_root / "configs" / f"{name}.yaml")
        assert isinstance(cfg, ArenaConfig)
    test = load_config(repo_root / "configs" / "test.yaml")
    assert test.data.max_train == 512 and test.defender.lora.r == 4
    assert test.train.weight_decay == 0.01  # inherited through `extends`


def test_demo_is_the_headline_cut_short(repo_root: Path):
    """`make demo` runs the headline's first rounds (README, docs/retrain.md): only the round count differs."""
    demo = load_config(repo_root / "configs" / "demo.yaml").model_dump()
    default = load_config(repo_root / "configs" / "default.yaml").model_dump()
    assert demo["campaign"].pop("rounds") < default["campaign"].pop("rounds")
    assert demo == default


def test_unknown_key_is_named(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("defender:\n  lora:\n    rank: 8\n")
    with pytest.raises(ConfigError, match=r"defender\.lora\.rank: unknown key"):
        load_config(p)


def test_wrong_type_is_named(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        load_config(p)


def test_bad_enum_and_range(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("defender:\n  method: magic\n")
    with pytest.raises(ConfigError, match=r"defender\.method"):
        load_config(p)
    with pytest.raises(ConfigError, match=r"defender\.threshold"):
        load_config(None, overrides=["defender.threshold=1.5"])


def test_qlora_on_cpu_rejected():
    with pytest.raises(ConfigError, match="qlora needs CUDA"):
        load_config(None, overrides=["defender.method=qlora", "train.device=cpu"])


def test_overrides_and_roundtrip():
    cfg = load_config(None, overrides=["train.epochs=1", "defender.lora.target_modules=[query]"])
    assert cfg.train.epochs == 1 and cfg.defender.lora.target_modules == ["query"]
    again = ArenaConfig.model_validate(cfg.to_dict())
    assert again == cfg


@pytest.mark.parametrize("bad", ["noequals", "=3", "a..b=1"])
def test_malformed_override(bad: str):
    with pytest.raises(ConfigError, match="override"):
        load_config(None, overrides=[bad])


def test_missing_file_and_bad_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)


def test_circular_extends(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "a.yaml")
