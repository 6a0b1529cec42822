# The front door. `make run` and `make test` work on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: run test install install-test chromium dev check-defs sample fixtures bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Install, then run the whole graph on the bundled sample (data/raw -> data/warehouse/published.duckdb).
run: install
	$(BIN)/talent-pipeline run

## Install with test extras (and Debian's chromium for the browser test), then run every test.
test: install-test chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chromium:
	@sh scripts/install_chromium.sh || echo "WARNING: chromium could not be installed; the browser tests will be SKIPPED"

## The Dagster UI on the project's local instance (telemetry off in dagster_home/dagster.yaml and [tool.dg]).
## `dg` finds the code location from [tool.dg] in pyproject.toml; VIRTUAL_ENV tells it to use .venv.
dev: install
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg dev

## Load the definitions as the UI would, and list them (assets, checks, job, schedule, sensor, resource).
check-defs: install
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg list defs

sample: install
	$(BIN)/talent-pipeline generate-sample --out data/raw

fixtures: install
	$(BIN)/python tests/fixtures/make_fixtures.py

## The benchmark (issue 5): pipeline vs bare DuckDB vs pandas, full and incremental, medians of 3.
BENCH_ARGS ?= --sessions 10000000 --repeat 3 --out bench/results/10m.json
bench: install
	$(BIN)/python bench/run_benchmark.py $(BENCH_ARGS)

clean:
	rm -rf data/warehouse reports
