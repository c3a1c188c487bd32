# Intelligent Monitoring — `make run` starts the service, `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH := torch==2.13.0
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install browser run test lint typecheck pytest clean lock eval bench

install: $(STAMP)

# torch comes first and pinned, so no resolver ever pulls a CUDA build.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/imon warm
	touch $(STAMP)

run: install
	IMON_SIMULATOR=$${IMON_SIMULATOR:-1} $(BIN)/imon serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy app agent detection ingestion store eval

# Debian's Chromium for the browser tests (skipped by the script when present).
browser:
	bash scripts/install-browser.sh

pytest: install browser
	$(BIN)/pytest -q

test: lint typecheck pytest

# Every benchmark (not part of `make test`; about 10 minutes on 2 cores), then the QA set.
eval: install
	$(BIN)/imon eval run
	$(BIN)/imon eval qa
	$(BIN)/imon eval forecast

# Performance benchmarks against same-run baselines (about 25 minutes on 2 cores) -> eval/BENCH.md.
bench: install
	$(BIN)/imon eval bench

# Re-resolve the lock file from pyproject.toml's ranges (needs the package index).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet $(TORCH) && .lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze | grep -viE '^torch==|^-e |intelligent' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .numba_cache .mypy_cache .ruff_cache .pytest_cache
