"""Typed inputs and outputs of the Serve app (no Ray here: the API is unit-tested without it).

``AppArgs`` are the builder arguments (``args:`` in serve_configs/*.yaml and in the RayService
of k8s/); the request models reject unknown fields and wrong types (``StrictStr``: a number is
not a text). Size limits depend on the deployment's settings, so they are checked in
arena/serve/api.py and answered with 413 / 422 that name the limit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictInt, StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ============================================================================ builder args
class AppArgs(_Strict):
    """Arguments of ``build_app`` (and ``build_defender_app``): where the champion is and how to serve it.

    Limits and batching left at None come from the ``serve`` section of ``config`` (or its defaults).
    Relative paths are resolved against the working directory of the process that builds the app
    (the repository root for ``serve run serve_configs/arena.yaml``).
    """

    tracking_uri: str | None = Field(None, description="MLflow registry; None = MLFLOW_TRACKING_URI, else "
                                     "sqlite under out_dir.")
    model_name: str = Field("arena-defender", description="Registered model of the defender.")
    alias: str = Field("champion", description="Alias served; the deployment follows it (hot swap).")
    max_batch_size: int | None = Field(None, ge=1, le=4096, description="Texts per defender batch.")
    batch_wait_timeout_s: float | None = Field(None, ge=0, le=10)
    auth_token_env: str | None = Field(None, description="Env var holding the bearer token of mutating endpoints.")
    auth_token: SecretStr | None = Field(None, description="The token itself (local use; prefer auth_token_env).")
    attacker_llm_backend: str = Field("llama_cpp", description="Backend of llm_rewrite in the attacker deployment.")
    config: str | None = Field(None, description="Arena YAML: battles' campaign settings and the serve section.")
    config_overrides: list[str] = Field(default_factory=list, description="KEY=VALUE overrides of config.")
    out_dir: str = Field("runs/arena", description="Default registry location and battles/ folder.")
    max_texts_per_request: int | None = Field(None, ge=1, le=10_000)
    max_chars_per_text: int | None = Field(None, ge=1, le=1_000_000)
    poll_interval_s: float = Field(5.0, gt=0, le=3600, description="How often the defender checks the alias.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    defender_replicas: int = Field(1, ge=1, le=64)
    defender_num_cpus: float = Field(1.0, ge=0)
    defender_num_gpus: float = Field(0.0, ge=0, le=1)
    attacker_num_cpus: float = Field(0.25, ge=0)
    attacker_num_gpus: float = Field(0.0, ge=0, le=1)
    ingress_num_cpus: float = Field(0.25, ge=0)
    torch_threads: int | None = Field(None, ge=1, description="Defender threads, torch or onnxruntime "
                                      "(None = its CPUs, >= 1).")
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="Defender runtime: onnx = the merged model exported to ONNX Runtime (CPU only, "
        "checked against torch at load); auto = onnx on CPU, torch on CUDA.")

    def arena_config(self):
        """The arena config the app runs with (battles use it; its ``tracking`` points at the served registry)."""
        from arena.config import load_config

        cfg = load_config(self.config, list(self.config_overrides))
        cfg.tracking.uri = self.resolved_tracking_uri()
        cfg.tracking.registered_model = self.model_name
        cfg.train.device = self.device
        return cfg

    def resolved_out_dir(self) -> Path:
        return Path(self.out_dir).expanduser().resolve()

    def resolved_tracking_uri(self) -> str:
        from arena.registry import default_tracking_uri

        return self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(self.resolved_out_dir())

    def resolved(self) -> AppArgs:
        """A copy with absolute paths, an explicit tracking URI and limits filled from the config."""
        cfg = self.arena_config()
        s = cfg.serve
        return self.model_copy(update={
            "out_dir": str(self.resolved_out_dir()),
            "config": str(Path(self.config).resolve()) if self.config else None,
            "tracking_uri": cfg.tracking.uri,
            "max_batch_size": self.max_batch_size or s.max_batch_size,
            "batch_wait_timeout_s": s.batch_wait_timeout_s if self.batch_wait_timeout_s is None
            else self.batch_wait_timeout_s,
            "max_texts_per_request": self.max_texts_per_request or s.max_texts_per_request,
            "max_chars_per_text": self.max_chars_per_text or s.max_chars_per_text,
            "auth_token_env": self.auth_token_env or s.auth_token_env,
            "auth_token": self.auth_token or s.auth_token,
        })


# ============================================================================ requests
class ModerateRequest(_Strict):
    texts: list[StrictStr] = Field(..., description="Texts to moderate (UTF-8).",
                                   examples=[["have a nice day", "you are an idiot"]])


class AttackRequest(_Strict):
    text: StrictStr = Field(..., description="Toxic text to rewrite.", examples=["you are an idiot"])
    strategy: StrictStr = Field("all", description="A strategy or recipe (GET /api/v1/strategies), or 'all' "
                                "(every non-LLM strategy).")
    n: StrictInt = Field(2, ge=1, le=8, description="Candidates per strategy.")
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1)
    budget: StrictInt | None = Field(None, ge=1, le=32, description="Units a strategy may touch (None = default).")
    targeted: StrictBool = Field(True, description="Attack the words the defender relies on most first.")


class BattleRequest(_Strict):
    rounds: StrictInt = Field(10, ge=0, le=100, description="Rounds after round 0.")
    attack_strategy: StrictStr = Field("adaptive", description="A strategy, a recipe, or 'adaptive' (Thompson "
                                       "sampling over every configured strategy).")


class PromoteRequest(_Strict):
    version: StrictStr | StrictInt = Field(..., description="Registered version to make champion.")


# ============================================================================ responses
class ModerateResponse(BaseModel):
    model_version: str
    threshold: float
    labels: list[Literal["toxic", "not_toxic"]]
    scores: list[float]


class AttackCandidate(BaseModel):
    text: str
    strategy: str
    params: dict[str, Any]
    seed: int | None
    validity: float | None
    valid: bool | None
    score: float | None
    evaded: bool | None


class AttackResponse(BaseModel):
    original: str
    original_score: float
    model_version: str
    threshold: float
    candidates: list[AttackCandidate]
    queries: int


class BattleStatus(BaseModel):
    id: str
    status: Literal["running", "succeeded", "failed", "interrupted"]
    attack_strategy: str
    rounds_requested: int
    campaign_id: str | None = None
    champion_version: str | None = None
    error: str | None = None
    rounds: list[dict[str, Any]] = Field(default_factory=list)


class ModelsResponse(BaseModel):
    model_name: str
    alias: str
    champion: str | None
    challenger: str | None
    served_version: str | None
    versions: list[dict[str, Any]]
    history: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model_version: str | None
