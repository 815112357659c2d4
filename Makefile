# `make demo`: set up and run the whole workflow on synthetic data. `make test`: set up, lint, run the tests.
# `make test-fast`: lint and the tests not marked slow (a quick local check; CI runs `make test`, all of them).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint docs clean

$(STAMP): pyproject.toml
	@PYTHON="$$(scripts/find_python.sh)" || exit 1; \
	if [ ! -x "$(PY)" ]; then echo "Creating $(VENV) with $$PYTHON"; $$PYTHON -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)
	@scripts/ensure_ffmpeg.sh
	@scripts/ensure_osmesa.sh

demo: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/kuavo demo --out outputs/demo --force

test: setup
	$(VENV)/bin/ruff check kuavo_cli tests benchmarks lejurobot
	$(VENV)/bin/ruff format --check kuavo_cli tests benchmarks lejurobot
	@# the kit's Python 3.10 + lerobot 0.4.2 env (cached; first time a few minutes): built here, outside any test timeout
	@scripts/ensure_kit_env.sh >/dev/null; rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "No Python 3.10: the kit (lerobot 0.4.2) tests will be skipped" >&2; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@HF_HUB_OFFLINE=1 $(PY) -m pytest tests -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test-fast: lint
	@HF_HUB_OFFLINE=1 $(PY) -m pytest tests -q -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check kuavo_cli tests benchmarks lejurobot
	$(VENV)/bin/ruff format --check kuavo_cli tests benchmarks lejurobot

docs: setup
	$(PY) -m kuavo_cli.docs_gen docs/config.md

clean:
	rm -rf outputs .pytest_cache
