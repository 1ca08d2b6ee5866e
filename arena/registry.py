"""MLflow tracking and the model registry: runs, model versions, aliases, champion history.

The registered model is ``arena-defender`` (config: ``tracking.registered_model``). Promotion
moves the ``champion`` / ``challenger`` aliases (MLflow 3: aliases, not stages). Every alias move
is also appended to the champion history, kept as registered-model tags ``history.NNNNNN`` so it
lives wherever the registry lives (sqlite here, PostgreSQL in the cluster) and survives restarts.

Tracking URI precedence: ``tracking.uri`` in the config, then ``MLFLOW_TRACKING_URI``, then
``sqlite:///<out>/mlflow.db`` with artifacts under ``<out>/mlartifacts``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from arena.errors import ModelError

CHAMPION = "champion"
CHALLENGER = "challenger"
_HISTORY_PREFIX = "history."


def default_tracking_uri(out_dir: str | os.PathLike) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / 'mlflow.db'}"


def tracking_uri(cfg, out_dir: str | os.PathLike) -> str:
    """The tracking URI of a campaign on OUT, in the one order of precedence: ``tracking.uri`` in the
    config, else MLFLOW_TRACKING_URI, else OUT/mlflow.db."""
    return cfg.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(out_dir)


def pin_tracking(cfg, out_dir: str | os.PathLike):
    """A copy of ``cfg`` whose ``tracking.uri`` is explicit (``Registry.from_config``'s precedence).

    Actors may run in reused worker processes whose environment another registry changed (mlflow
    exports MLFLOW_TRACKING_URI), so the campaign's URI travels in the config instead.
    """
    cfg = cfg.model_copy(deep=True)
    cfg.tracking.uri = tracking_uri(cfg, out_dir)
    return cfg


ARTIFACTS_DIR = "mlartifacts"


def _file_path(uri: str) -> str | None:
    """The local path of a ``file:`` URI or plain path; None for anything remote."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme == "" and uri.startswith("/"):
        return uri
    return None


def _moved(uri: str | None, root: Path) -> str | None:
    """``uri`` rewritten under ``root`` when it lies in another ``.../mlartifacts`` tree whose copy
    exists under ``root``; otherwise None (left as it is)."""
    if not uri:
        return None
    path = _file_path(uri)
    if path is None:
        return None
    parts = Path(path).parts
    if ARTIFACTS_DIR not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index(ARTIFACTS_DIR)  # the last mlartifacts in the path
    new = root.joinpath(*parts[i + 1 :])
    if Path(path) == new or not new.exists():
        return None
    return new.as_uri()


def relocate(out_dir: str | os.PathLike, *, dry_run: bool = False) -> dict[str, int]:
    """Point the registry of a moved or copied run folder at the folder's own artifacts.

    MLflow stores absolute artifact locations (the experiment's root, each run's and each model
    version's). After ``mv runs/a runs/b`` they name ``runs/a``, which is gone; after ``cp -r`` they
    name the original, which the copy would then read and write. This rewrites every location in
    ``OUT/mlflow.db`` that lies in another ``.../mlartifacts`` tree to the same place under
    ``OUT/mlartifacts`` (where that copy exists; the experiment root always), through MLflow's own
    database models. Idempotent; returns how many locations of each kind changed (or would, with
    ``dry_run``). Only the default sqlite registry of a run folder is handled; a shared tracking
    server (``tracking.uri``) is left alone.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    out = Path(out_dir).resolve()
    db = out / "mlflow.db"
    if not db.is_file():
        raise ModelError(f"{db} not found: not a run folder with a registry (train one with `arena train --out DIR`)")
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
    from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlLoggedModel, SqlRun

    root = out / ARTIFACTS_DIR
    counts = {"experiments": 0, "runs": 0, "model_versions": 0, "logged_models": 0}
    engine = create_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            for key, model, columns in (("experiments", SqlExperiment, ("artifact_location",)),
                                        ("runs", SqlRun, ("artifact_uri",)),
                                        ("model_versions", SqlModelVersion, ("source", "storage_location")),
                                        ("logged_models", SqlLoggedModel, ("artifact_location",))):
                for row in session.query(model).all():
                    changed = False
                    for col in columns:
                        value = getattr(row, col, None)
                        if key == "experiments" and value and _file_path(value) is not None \
                                and Path(_file_path(value)).name == ARTIFACTS_DIR and Path(_file_path(value)) != root:
                            new = root.as_uri()  # the root itself, even before anything is logged there
                        else:
                            new = _moved(value, root)
                        if new is not None:
                            changed = True
                            if not dry_run:
                                setattr(row, col, new)
                    counts[key] += changed
            if not dry_run:
                session.commit()
    finally:
        engine.dispose()
    return counts


def _run_folder_db(tracking_uri: str) -> Path | None:
    """``OUT/mlflow.db`` when ``tracking_uri`` is a run folder's sqlite registry that exists; else None."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(unquote(tracking_uri[len("sqlite:///"):]))  # sqlite:////abs/path or sqlite:///relative/path
    return db.resolve() if db.name == "mlflow.db" and db.is_file() else None


def needs_relocation(out_dir: str | os.PathLike) -> bool:
    """Whether ``OUT/mlflow.db`` records an artifact root other than ``OUT/mlartifacts`` (moved or copied)."""
    return any(relocate(out_dir, dry_run=True).values())


#: what MLflow does not allow in a metric or param name (it allows letters, digits, _ - . space : /)
_METRIC_NAME_BAD = re.compile(r"[^A-Za-z0-9_\-. :/]")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list | tuple) else str(v)
    return out


class Registry:
    """A thin, typed wrapper over ``MlflowClient`` for one experiment and one registered model."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str = "content-arena",
        model_name: str = "arena-defender",
        artifact_location: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        db = _run_folder_db(tracking_uri)
        if db is not None:  # a run folder that was moved or copied: its registry still names the old place
            moved = relocate(db.parent)
            if any(moved.values()):
                import sys

                print(f"registry of {db.parent}: artifact locations moved to {db.parent / ARTIFACTS_DIR} "
                      f"({', '.join(f'{n} {k}' for k, n in moved.items() if n)})", file=sys.stderr)
        self.model_name = model_name
        self.experiment_name = experiment
        self._mlflow = mlflow
        user_uri = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(tracking_uri)
        # mlflow also exports the URI as MLFLOW_TRACKING_URI; restore the user's value so that the
        # next Registry.from_config in this process (or a reused Ray worker) reads its own default
        if user_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = user_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_location)
            except Exception:  # created concurrently by another process
                exp = self.client.get_experiment_by_name(experiment)
                if exp is None:
                    raise
                self.experiment_id = exp.experiment_id
        else:
            self.experiment_id = exp.experiment_id
        self.cache_dir = Path(cache_dir) if cache_dir else None

    @classmethod
    def from_config(cls, cfg, out_dir: str | os.PathLike) -> Registry:
        out = Path(out_dir)
        uri = tracking_uri(cfg, out)
        artifacts = (out.resolve() / ARTIFACTS_DIR).as_uri() if uri.startswith("sqlite:") else None
        if uri.startswith("sqlite:"):
            out.mkdir(parents=True, exist_ok=True)
        return cls(uri, cfg.tracking.experiment, cfg.tracking.registered_model, artifacts, out / ".model_cache")

    # ------------------------------------------------------------------ runs
    @contextmanager
    def run(self, name: str, config: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
            nested: bool = False) -> Iterator[Any]:
        """An MLflow run that logs the resolved config as params and as ``config.json``."""
        mlflow = self._mlflow
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=name, tags=tags, nested=nested) as run:
            if config is not None:
                flat = _flatten(config)
                items = list(flat.items())
                for i in range(0, len(items), 100):
                    mlflow.log_params(dict(items[i : i + 100]))
                mlflow.log_dict(config, "config.json")
            yield run

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None, prefix: str = "") -> None:
        """Numbers of a nested dict as MLflow metrics; characters MLflow refuses in a name become ``_``
        (a candidate named ``blend0.5@fpr`` is logged as ``blend0.5_fpr``)."""
        flat = {_METRIC_NAME_BAD.sub("_", f"{prefix}{k}"): float(v) for k, v in _flatten_numbers(metrics).items()}
        if flat:
            self._mlflow.log_metrics(flat, step=step)

    # ------------------------------------------------------------------ versions and aliases
    def register(self, defender_dir: str | os.PathLike, run_id: str, tags: dict[str, Any] | None = None) -> str:
        """Log a saved defender folder as run artifacts and create a model version from it."""
        mlflow = self._mlflow
        with _active_run(mlflow, run_id):
            mlflow.log_artifacts(str(defender_dir), artifact_path="defender")
        run = self.client.get_run(run_id)
        source = f"{run.info.artifact_uri.rstrip('/')}/defender"
        try:
            self.client.get_registered_model(self.model_name)
        except Exception:
            try:
                self.client.create_registered_model(self.model_name, description="Content Arena defender")
            except Exception:
                self.client.get_registered_model(self.model_name)  # raced: it exists now
        mv = self.client.create_model_version(
            self.model_name, source=source, run_id=run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
        )
        return str(mv.version)

    def set_alias(self, alias: str, version: str | int, *, round: int | None = None, reason: str = "") -> None:
        self.client.set_registered_model_alias(self.model_name, alias, str(version))
        self._append_history({"alias": alias, "version": str(version), "round": round, "reason": reason})

    def get_alias(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except Exception:
            return None

    def delete_alias(self, alias: str) -> None:
        try:
            self.client.delete_registered_model_alias(self.model_name, alias)
        except Exception:
            pass

    def list_versions(self) -> list[dict[str, Any]]:
        try:
            versions = self.client.search_model_versions(f"name='{self.model_name}'")
            aliases = self.client.get_registered_model(self.model_name).aliases or {}
        except Exception:
            return []
        by_version: dict[str, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(str(v), []).append(alias)
        rows = [
            {
                "version": str(mv.version),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "run_id": mv.run_id,
                "created": mv.creation_timestamp,
                "tags": dict(mv.tags or {}),
            }
            for mv in versions
        ]
        return sorted(rows, key=lambda r: int(r["version"]))

    # ------------------------------------------------------------------ history
    def _append_history(self, event: dict[str, Any]) -> None:
        event = {**event, "at": time.time()}
        existing = [k for k in self._tags() if k.startswith(_HISTORY_PREFIX)]
        key = f"{_HISTORY_PREFIX}{len(existing):06d}"
        self.client.set_registered_model_tag(self.model_name, key, json.dumps(event))

    def _tags(self) -> dict[str, str]:
        try:
            return dict(self.client.get_registered_model(self.model_name).tags or {})
        except Exception:
            return {}

    def history(self, alias: str | None = CHAMPION) -> list[dict[str, Any]]:
        """Alias moves in order (champion only by default): version, round, reason, time."""
        tags = self._tags()
        events = [json.loads(tags[k]) for k in sorted(k for k in tags if k.startswith(_HISTORY_PREFIX))]
        return [e for e in events if alias is None or e.get("alias") == alias]

    def rollback(self, version: str | int, reason: str = "manual rollback") -> None:
        versions = {r["version"] for r in self.list_versions()}
        if str(version) not in versions:
            raise ModelError(f"{self.model_name} has no version {version} (known: {', '.join(sorted(versions, key=int)) or 'none'})")
        self.set_alias(CHAMPION, version, reason=reason)

    # ------------------------------------------------------------------ loading
    def resolve(self, ref: str = CHAMPION) -> tuple[str, Path]:
        """``ref`` is an alias or a version number; returns (version, local folder of the defender)."""
        try:
            if str(ref).isdigit():
                mv = self.client.get_model_version(self.model_name, str(ref))
            else:
                mv = self.client.get_model_version_by_alias(self.model_name, ref)
        except Exception as exc:
            raise ModelError(
                f"no model {ref!r} in registry {self.model_name!r} at {self.tracking_uri} "
                "(train one with `arena train --out DIR`, and pass the same --out)"
            ) from exc
        return str(mv.version), self._local_copy(mv.source, str(mv.version))

    def _local_copy(self, source: str, version: str) -> Path:
        parsed = urlparse(source)
        if parsed.scheme in ("", "file") and Path(parsed.path).is_dir():
            return Path(parsed.path)
        dst = (self.cache_dir or Path.home() / ".cache" / "content-arena" / "models") / self.model_name / version
        if not (dst / "defender.json").is_file():  # download once, then move into place atomically
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = tempfile.mkdtemp(dir=dst.parent, prefix=f".{version}-")
            try:
                local = self._mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp)
                shutil.rmtree(dst, ignore_errors=True)
                os.replace(local, dst)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return dst

    def load_defender(self, ref: str = CHAMPION, **kwargs):
        from arena.defend import Defender

        version, path = self.resolve(ref)
        defender = Defender.load(path, **kwargs)
        defender.version = version
        return defender


def _flatten_numbers(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
        elif isinstance(v, int | float):
            out[f"{prefix}{k}"] = float(v)
    return out


@contextmanager
def _active_run(mlflow, run_id: str) -> Iterator[None]:
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        yield
        return
    with mlflow.start_run(run_id=run_id, nested=active is not None):
        yield
