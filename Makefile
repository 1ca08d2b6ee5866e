# Content Arena — see README.md. Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_MARKERS ?= not gpu and not slow and not postgres
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_DISABLE_TELEMETRY := true
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint bench baseline clean

$(BIN)/arena: pyproject.toml
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found (set PY=python3.x, 3.10-3.12)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# CPU torch first, so the range in pyproject does not pull a CUDA build.
	$(BIN)/pip install "torch==2.13.0" || $(BIN)/pip install "torch>=2.4,<=2.14.1" --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -e ".[dev,peers]"
	touch $(BIN)/arena

setup: $(BIN)/arena  ## build .venv from scratch

demo: setup  ## fetch data, train the baseline champion, run a short campaign, write the report
	$(BIN)/arena data fetch tweeteval_offensive
	$(BIN)/arena demo --config configs/demo.yaml --out runs/demo

test: setup  ## the default test suite (no GPU, no slow tests)
	$(BIN)/python -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check arena tests bench

baseline: setup  ## bench/baseline.py: the default config on TweetEval offensive
	$(BIN)/python bench/baseline.py --config configs/default.yaml --out bench/results

bench: setup
	$(BIN)/python bench/baseline.py --config configs/default.yaml --out bench/results

clean:
	rm -rf $(VENV) runs .pytest_cache build *.egg-info

include mk/k3d.mk
