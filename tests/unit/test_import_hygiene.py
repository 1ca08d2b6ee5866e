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


def _arena_imports(path) -> set[str]:
    """Every ``arena.*`` module a file imports (module level or inside functions)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("arena"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("arena")}
    return names


def test_ray_layers_depend_one_way(repo_root):
    """cluster <- tune <- actors <- serve / jobs, and the core loop imports none of them (issue 13)."""
    layers = [("arena.cluster", ["arena/cluster.py", "arena/prometheus.py"]), ("arena.tune", ["arena/tune"]),
              ("arena.actors", ["arena/actors.py"]), ("arena.serve", ["arena/serve"]), ("arena.jobs", ["arena/jobs"])]
    core = ["arena/arena.py", "arena/retrain.py", "arena/probe.py", "arena/registry.py", "arena/config.py", "arena/attack", "arena/defend", "arena/data"]

    def files(paths):
        for p in paths:
            p = repo_root / p
            yield from (sorted(p.rglob("*.py")) if p.is_dir() else [p])

    def hits(imports: set[str], modules: list[str]) -> set[str]:
        return {i for i in imports for m in modules if i == m or i.startswith(m + ".")}

    for i, (name, paths) in enumerate(layers):
        later = [n for n, _ in layers[i + 1:]]
        for f in files(paths):
            bad = hits(_arena_imports(f), later)
            assert not bad, f"{f.relative_to(repo_root)} ({name}) imports a later layer: {sorted(bad)}"
    for f in files(core):
        bad = hits(_arena_imports(f), [n for n, _ in layers] + ["arena.prometheus"])
        assert not bad, f"{f.relative_to(repo_root)} (core) imports the Ray layer: {sorted(bad)}"
