# One venv, pinned by constraints.txt (the engine leans on LangGraph internals: task ids, resume).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := agent graphs tools llmcompiler_cli llmcompiler_bench llmcompiler_scripted tests

.PHONY: install test lint typecheck pytest demo bench fuzz load lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
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

demo: $(STAMP)
	$(BIN)/llmcompiler demo

# The benchmark, quick form (one item per workload at time scale 0.25; under two minutes).
bench: $(STAMP)
	$(BIN)/llmcompiler bench --quick

# 100 concurrent runs on `langgraph dev` with scripted models: completed / failed / lost, p50/p95.
load: $(STAMP)
	$(BIN)/python -m llmcompiler_cli.loadtest --threads 100

# Parser fuzzing at depth (outside CI; `make test` runs a few hundred examples).
fuzz: $(STAMP)
	LLMCOMPILER_FUZZ_EXAMPLES=10000 $(BIN)/pytest -q tests/unit/test_fuzz_parser.py -p no:cacheprovider

# Refresh the pins: resolve the newest allowed versions in a scratch venv and freeze them.
lock:
	rm -rf .lockenv && $(PY) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -e '.[dev,bench]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
