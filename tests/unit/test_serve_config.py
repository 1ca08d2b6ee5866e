"""The `ray` and `serve` config sections: defaults, validation, secrets never logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.config import ArenaConfig, load_config
from arena.errors import ConfigError


def test_defaults_fit_one_shared_gpu_and_a_small_box():
    cfg = load_config(None)
    g = cfg.ray.num_gpus
    assert (g.attacker, g.defender, g.trainer) == (0.25, 0.25, 0.5) and g.attacker + g.defender + g.trainer <= 1
    assert cfg.ray.object_store_memory == 200_000_000 and cfg.ray.namespace == "content-arena"
    assert cfg.ray.address is None and cfg.ray.max_restarts >= 1 and cfg.ray.max_task_retries >= 1
    t = cfg.ray.tune
    assert not t.enabled and t.max_concurrent_trials <= t.num_samples and t.warm_start
    assert t.space.lr[0] < t.space.lr[1] and t.space.epochs and t.space.lora_r
    s = cfg.serve
    assert s.host == "127.0.0.1" and s.auth_token is None and s.auth_token_env == "ARENA_API_TOKEN"
    assert s.max_texts_per_request >= 1 and s.max_chars_per_text >= 1 and s.max_batch_size >= 1


def test_shipped_configs_still_load(repo_root: Path):
    for name in ("default", "demo", "test"):
        cfg = load_config(repo_root / "configs" / f"{name}.yaml")
        assert cfg.ray.tune.num_samples >= 1 and cfg.serve.port == 8000


@pytest.mark.parametrize("override,where", [
    ("ray.num_gpus.defender=1.5", "ray.num_gpus.defender"),
    ("ray.tune.space.lr=[0.01,0.001]", "ray.tune.space"),
    ("ray.tune.space.dropout=[0.5,1.0]", "ray.tune.space"),
    ("ray.tune.space.lora_r=[]", "ray.tune.space"),
    ("ray.tune.reduction_factor=1", "ray.tune.reduction_factor"),
    ("ray.object_store_memory=1000", "ray.object_store_memory"),
    ("serve.port=0", "serve.port"),
    ("serve.max_texts_per_request=0", "serve.max_texts_per_request"),
    ("ray.tune.num_sample=3", "ray.tune.num_sample: unknown key"),
])
def test_bad_values_are_named(override, where):
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_config(None, overrides=[override])


def test_token_is_masked_in_logged_config_and_round_trips():
    cfg = load_config(None, overrides=["serve.auth_token=s3cret", "ray.tune.space.lr=[0.001,0.01]"])
    assert cfg.serve.auth_token.get_secret_value() == "s3cret"
    logged = cfg.to_dict()
    assert logged["serve"]["auth_token"] == "**********" and "s3cret" not in str(logged)
    again = ArenaConfig.model_validate(load_config(None, overrides=["ray.tune.enabled=true"]).to_dict())
    assert again.ray.tune.enabled and again.ray.tune.space.lr == (1e-4, 2e-3)
