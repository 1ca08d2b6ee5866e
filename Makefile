# Content Arena — see README.md. Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_MARKERS ?= not gpu and not slow and not ray and not postgres
SLOW_MARKERS ?= (slow or ray) and not gpu and not postgres
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_DISABLE_TELEMETRY := true
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-slow lint bench baseline headline clean browser gpu-check

$(BIN)/arena: pyproject.toml
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found (set PY=python3.x, 3.10-3.12)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# CPU torch first, so the range in pyproject does not pull a CUDA build.
	$(BIN)/pip install "torch==2.13.0" || $(BIN)/pip install "torch>=2.4,<=2.14.1" --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -e ".[dev,peers]"
	touch $(BIN)/arena

setup: $(BIN)/arena  ## build .venv from scratch

DEMO_OUT ?= runs/demo
demo: setup  ## fetch data, train the baseline champion, run a short campaign, write the report
	$(BIN)/arena data fetch tweeteval_offensive
	$(BIN)/arena campaign --config configs/demo.yaml --out $(DEMO_OUT)
	$(BIN)/arena report $(DEMO_OUT)
	@echo
	@echo "Report: $(DEMO_OUT)/report.html   (summary: $(DEMO_OUT)/summary.json, baseline metrics: $(DEMO_OUT)/metrics.json)"
	@echo "Try:    $(BIN)/arena moderate --out $(DEMO_OUT) \"you are a pathetic idiot\" \"what a lovely day\""
	@echo "        $(BIN)/arena attack --out $(DEMO_OUT) \"you are a pathetic idiot\" --strategy all"

test: setup  ## the default test suite: fast (no GPU, no slow campaign tests, no Ray cluster)
	@$(MAKE) --no-print-directory browser || echo "warning: chromium/chromedriver could not be installed: the dashboard's browser test will be skipped"
	$(BIN)/python -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

test-slow: setup  ## the second CI stage: the real tiny campaigns and everything that starts a Ray cluster (markers slow, ray)
	$(BIN)/python -m pytest -m "$(SLOW_MARKERS)" $(PYTEST_ARGS)

browser:  ## Debian/Ubuntu: chromium + chromedriver for the dashboard's browser test (marker browser; skipped without them)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && echo "chromium and chromedriver found" || \
	  { command -v apt-get >/dev/null || { echo "error: no apt-get: install chromium and chromedriver with your package manager"; exit 1; }; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends chromium chromium-driver; }

GPU_VENV ?= .venv-gpu
# The GPU venv ignores this machine's pip config files and PIP_FIND_LINKS: local CPU wheels there
# (torch-X+cpu) would outrank the CUDA wheels of the same version. A torch cap written as a constraints
# file beside that config stays in force: -c for the install, PIP_CONSTRAINT for the pip that
# `vllm download-kernels` runs. That step (FlashInfer's precompiled kernels, network at install time) is
# optional: without them vLLM may fetch or compile kernels at its first start; GPU_KERNELS=0 skips it.
GPU_PIP_CONSTRAINTS ?= $(wildcard /etc/xdg/pip/constraints*)
GPU_PIP_ENV := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null
GPU_KERNELS ?= 1
gpu-check:  ## CUDA machines (driver CUDA >= 13, Python headers, a C compiler): a separate venv with vLLM (it pins its own torch/transformers), -m gpu, one short QLoRA + vLLM campaign on fractional-GPU Ray actors; prints VRAM peak, tokens/s, round time
	@command -v nvidia-smi >/dev/null || { echo "error: no nvidia-smi here: make gpu-check needs a CUDA GPU (the CPU paths are make test)"; exit 2; }
	@cuda=$$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\.[0-9].*/\1/p' | head -n 1); \
	  drv=$$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1); \
	  if [ -z "$$cuda" ] && [ -n "$$drv" ] && [ "$${drv%%.*}" -ge 580 ] 2>/dev/null; then cuda=13; fi; \
	  if [ -z "$$cuda" ]; then echo "error: nvidia-smi reports no driver CUDA version (driver '$$drv'): is the NVIDIA driver loaded?"; exit 2; fi; \
	  if [ "$$cuda" -lt 13 ]; then echo "error: the NVIDIA driver ($$drv) supports CUDA $$cuda.x, but the torch and vLLM wheels that make gpu-check installs are CUDA 13 builds: they need driver R580 or newer (nvidia-smi: CUDA Version 13.0+). Upgrade the driver, or build $(GPU_VENV) yourself from CUDA 12.9 wheels (vLLM's install docs: --extra-index-url https://download.pytorch.org/whl/cu129; not tried here)"; exit 2; fi; \
	  echo "NVIDIA driver $$drv (CUDA $$cuda): ok"
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found (set PY=python3.x, 3.11 or 3.12: vLLM needs 3.11+)"; exit 1; }
	@$(PY) -c "import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" || \
	  { echo "error: $(PY) has no Python.h: vLLM's Triton/Inductor kernels are compiled against it at start-up (Debian/Ubuntu: apt install python3.11-dev build-essential)"; exit 1; }
	@{ [ -n "$$CC" ] || command -v gcc >/dev/null || command -v clang >/dev/null; } && { command -v g++ >/dev/null || command -v clang++ >/dev/null; } || \
	  { echo "error: no C/C++ compiler: Triton compiles its launchers at start-up and llama-cpp-python (a base dependency) builds from source (Debian/Ubuntu: apt install python3.11-dev build-essential)"; exit 1; }
	@mkdir -p $(GPU_VENV) && date +%s > $(GPU_VENV)/.gpu-check-t0
	test -x $(GPU_VENV)/bin/python || $(PY) -m venv $(GPU_VENV)
	$(GPU_PIP_ENV) $(GPU_VENV)/bin/pip install --upgrade pip
	$(GPU_PIP_ENV) $(GPU_VENV)/bin/pip install $(addprefix -c ,$(GPU_PIP_CONSTRAINTS)) -e ".[gpu]" "pytest>=8" "pytest-timeout>=2.3"
	@$(GPU_VENV)/bin/python -c "import sys, torch; ok = bool(torch.version.cuda) and torch.cuda.is_available(); print(f'torch {torch.__version__} (CUDA {torch.version.cuda}):', torch.cuda.get_device_name(0) if ok else 'no usable GPU'); sys.exit(0 if ok else 'error: torch in $(GPU_VENV) cannot use the GPU (a CPU build, or a CUDA build newer than the driver: compare with nvidia-smi); make gpu-check stops here')" || exit 2
	@[ "$(GPU_KERNELS)" != 1 ] || $(GPU_PIP_ENV)$(if $(GPU_PIP_CONSTRAINTS), PIP_CONSTRAINT="$(GPU_PIP_CONSTRAINTS)") $(GPU_VENV)/bin/vllm download-kernels || \
	  echo "warning: vllm download-kernels failed or this vLLM has no such subcommand (optional: continuing)"
	@t0=$$(cat $(GPU_VENV)/.gpu-check-t0); echo "gpu-check: install took $$(( $$(date +%s) - t0 )) s"; date +%s > $(GPU_VENV)/.gpu-check-t1
	@t0=$$(cat $(GPU_VENV)/.gpu-check-t0); t1=$$(cat $(GPU_VENV)/.gpu-check-t1); rc=0; \
	  echo "ARENA_REQUIRE_GPU=1 $(GPU_VENV)/bin/python -m pytest -m gpu -q -p no:cacheprovider tests/gpu"; \
	  ARENA_REQUIRE_GPU=1 VLLM_NO_USAGE_STATS=1 $(GPU_VENV)/bin/python -m pytest -m gpu -q -p no:cacheprovider tests/gpu || rc=1; \
	  echo "RAY_AUTH_MODE=disabled $(GPU_VENV)/bin/python bench/gpu_check.py --out bench/results/gpu_check.json"; \
	  RAY_AUTH_MODE=disabled VLLM_NO_USAGE_STATS=1 $(GPU_VENV)/bin/python bench/gpu_check.py --out bench/results/gpu_check.json || rc=1; \
	  echo "gpu-check: install $$(( t1 - t0 )) s, checks $$(( $$(date +%s) - t1 )) s ($$([ $$rc = 0 ] && echo passed || echo FAILED))"; \
	  exit $$rc

lint: setup
	$(BIN)/ruff check arena tests bench

baseline: setup  ## bench/baseline.py: the default config on TweetEval offensive (keeps the champion for `make headline`)
	rm -rf $(HEADLINE_OUT)
	$(BIN)/python bench/baseline.py --config configs/default.yaml --out bench/results --keep $(HEADLINE_OUT)

HEADLINE_OUT ?= runs/headline
headline: setup  ## the headline campaign: the default config, 10 rounds, from the `make baseline` champion
	@test -f $(HEADLINE_OUT)/mlflow.db || $(BIN)/python bench/baseline.py --config configs/default.yaml --out bench/results --keep $(HEADLINE_OUT)
	$(BIN)/arena campaign --config configs/default.yaml --rounds 10 --out $(HEADLINE_OUT)
	$(BIN)/arena report $(HEADLINE_OUT)
	$(BIN)/python bench/headline.py --run $(HEADLINE_OUT) --out bench/results

bench: setup  ## benchmarks on a finished headline campaign (`make headline` first); JSON under bench/results/, README table
	@test -f $(HEADLINE_OUT)/summary.json || { echo "error: $(HEADLINE_OUT)/summary.json not found: run \`make headline\` first (it trains the champion and runs the 10-round campaign that make bench measures)"; exit 1; }
	$(BIN)/python bench/inference.py --model $(HEADLINE_OUT)/models/baseline --sweep 32 --out bench/results
	$(BIN)/python bench/llm_throughput.py
	$(BIN)/python bench/robustness.py --run $(HEADLINE_OUT) --out bench/results
	$(BIN)/python bench/headline.py --run $(HEADLINE_OUT) --out bench/results
	$(BIN)/python bench/serve_load.py --out $(HEADLINE_OUT) --result bench/results/serve_load.json
	$(BIN)/python bench/serve_load.py --out $(HEADLINE_OUT) --texts-per-request 8 --result bench/results/serve_load_8texts.json
	$(BIN)/python bench/readme_results.py --write

clean:
	rm -rf $(VENV) runs .pytest_cache build *.egg-info

include mk/k3d.mk
