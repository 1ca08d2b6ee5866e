import subprocess
import sys

HEAVY = ("ray", "torch", "vllm", "transformers", "mlflow")


def _loaded_after(stmt: str) -> list[str]:
    code = (
        f"import sys; {stmt}; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_arena_is_light():
    assert _loaded_after("import arena") == []


def test_core_modules_do_not_import_ray_or_torch():
    stmt = "import arena, arena.config, arena.types, arena.metrics, arena.defend, arena.data, arena.attack, arena.cli"
    loaded = _loaded_after(stmt)
    assert "ray" not in loaded and "torch" not in loaded and "vllm" not in loaded, loaded
