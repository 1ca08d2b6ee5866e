"""cluster.yaml is a valid Ray cluster launcher config for the installed Ray (no cluster needed)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]


def ray_schema() -> dict:
    ray_dir = Path(importlib.util.find_spec("ray").submodule_search_locations[0])
    return json.loads((ray_dir / "autoscaler" / "ray-schema.json").read_text())


def cluster() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_cluster_yaml_matches_the_ray_schema():
    jsonschema.validate(cluster(), ray_schema())


def test_cluster_yaml_passes_rays_own_validation():
    """The launcher's path: defaults of the provider merged in, then the schema and its extra checks."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(cluster()))


def test_a_cpu_head_and_a_gpu_worker_type():
    c = cluster()
    types = c["available_node_types"]
    head = types[c["head_node_type"]]
    assert "GPU" not in head["resources"]
    gpu = [t for name, t in types.items() if name != c["head_node_type"] and t["resources"].get("GPU", 0) >= 1]
    assert gpu and gpu[0]["max_workers"] >= 1
    assert c["provider"]["type"] in {"aws", "gcp", "azure"}  # a cloud provider; local use is documented


def test_image_pins_the_installed_ray_and_metrics_port():
    c = cluster()
    assert c["docker"]["image"].startswith(f"rayproject/ray:{importlib.metadata.version('ray')}-")
    for commands in (c["head_start_ray_commands"], c["worker_start_ray_commands"]):
        assert any("--metrics-export-port=8080" in cmd for cmd in commands)


def test_the_schema_rejects_a_typo():
    bad = cluster()
    bad["available_node_types"]["worker.gpu"]["min_worker"] = 1
    try:
        jsonschema.validate(bad, ray_schema())
    except jsonschema.ValidationError as exc:
        assert "min_worker" in str(exc)
    else:
        raise AssertionError("the schema accepted an unknown key")
