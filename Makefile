# pneuma-warehouse: everything installs from this repository's files.
# Needs only Python >= 3.11 and make; `make run` and `make test` are the README's two commands.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
MELTANO := $(BIN)/meltano
STAMP := $(VENV)/.installed
DEMO_DIR := data/demo
# Small demo set: 3 recordings of 30 vehicles (about 1/3 M positions), seconds to load.
DEMO_OPTIONS ?= --files 3 --vehicles 30

# CI runs in Meltano's `ci` environment, people in `dev` (meltano.yml's default).
ifeq ($(CI),true)
export MELTANO_ENVIRONMENT ?= ci
endif
# uv must not pick up a Python or a project other than ours.
export UV_PYTHON := $(BIN)/python
export VIRTUAL_ENV := $(abspath $(VENV))
# Compile every installed module once, at install: where PYTHONDONTWRITEBYTECODE is
# set (as on our CI machines) Python otherwise recompiles Meltano, dbt, the tap and
# the target from source at every start, 3-6 s a process, ~20 s of each `meltano run`.
export UV_COMPILE_BYTECODE := 1

INSTALL_INPUTS := pyproject.toml meltano.yml $(wildcard plugins/requirements/*.txt) \
	$(wildcard tap-pneuma/pyproject.toml) $(wildcard plugins/*/pyproject.toml)

.PHONY: help install run test lint sqlfix bench bench-scale stop status clean airflow airflow-celery bench-airflow redis-server dist dashboards browser

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("pneuma-warehouse needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9

$(STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(UV) pip install --quiet --group dev --group tap-pneuma/pyproject.toml:test \
		-e ./tap-pneuma -e ./plugins/postgres -e ./plugins/target-postgres
	$(MELTANO) install
	@touch $@

install: $(STAMP)  ## create .venv, install the project, Meltano and every plugin

run: install  ## load demo data (or TAP_PNEUMA_FILES) into the embedded PostgreSQL and build the warehouse
	@if [ -z "$${TAP_PNEUMA_FILES:-}" ]; then \
		if ! compgen -G "$(DEMO_DIR)/*.csv*" > /dev/null; then \
			echo "TAP_PNEUMA_FILES is not set: generating a demo set in $(DEMO_DIR)"; \
			$(BIN)/pneuma-generate $(DEMO_DIR) $(DEMO_OPTIONS); \
		fi; \
	else \
		export TAP_PNEUMA_FILES="$$($(BIN)/python -c 'import json, os; v = os.environ["TAP_PNEUMA_FILES"].strip(); print(v if v.startswith("[") else json.dumps([p for p in v.split(",") if p]))')"; \
		echo "Loading TAP_PNEUMA_FILES=$$TAP_PNEUMA_FILES"; \
	fi; \
	$(MELTANO) run pneuma-elt; \
	echo; $(MELTANO) --log-level=warning invoke postgres summary

test: install lint browser redis-server  ## the whole test suite
	$(MELTANO) test airflow  # tests/orchestrate, in the Airflow plugin's venv
	$(BIN)/python -m pytest tap-pneuma/tests tests/

lint: install  ## ruff on the project and on tap-pneuma (each its own config), mypy on tap-pneuma, Airflow 3 rules on the DAGs, sqlfluff on transform/
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	cd tap-pneuma && ../$(BIN)/ruff check . && ../$(BIN)/ruff format --check .
	cd tap-pneuma && ../$(BIN)/mypy  # files and settings: tap-pneuma/pyproject.toml
	$(BIN)/ruff check --preview --select AIR3 orchestrate
	cd transform && ../$(BIN)/sqlfluff lint models tests

sqlfix: install  ## apply sqlfluff's fixes to transform/ (then review the diff)
	cd transform && ../$(BIN)/sqlfluff fix models tests

# tap-pneuma's sdist and wheel, as published (its README: "Releasing"). A release version (from a
# tap-pneuma-vX.Y.Z tag) needs its CHANGELOG entry. The tests build elsewhere with TAP_DIST/TAP_SRC.
TAP_SRC ?= tap-pneuma
TAP_DIST ?= tap-pneuma/dist
dist: install  ## build tap-pneuma's sdist and wheel into tap-pneuma/dist and check them with twine
	rm -rf $(TAP_DIST)
	$(UV) build $(TAP_SRC) --out-dir $(TAP_DIST) --build-constraint tap-pneuma/build-constraints.txt
	$(BIN)/twine check --strict $(TAP_DIST)/*.tar.gz $(TAP_DIST)/*.whl
	@version=$$(basename $(TAP_DIST)/*.whl | cut -d- -f2); \
	if [[ $$version != *dev* ]] && ! grep -q "^## \[$$version\]" $(TAP_SRC)/CHANGELOG.md; then \
		echo "$(TAP_SRC)/CHANGELOG.md: no '## [$$version]' entry for release $$version" >&2; \
		rm -rf $(TAP_DIST); exit 1; \
	fi

airflow: install  ## Airflow UI+scheduler on http://localhost:8080 (login: admin; password printed on first start)
	$(MELTANO) invoke airflow:standalone

# Superset (the `superset-bi` utility) on the read-only role: demo data first when nothing is loaded.
dashboards: install  ## Superset with the dashboards of analyze/ on http://127.0.0.1:8088 (demo data if the warehouse is empty)
	$(MELTANO) invoke postgres:ensure
	@if ! $(MELTANO) --log-level=warning invoke postgres summary > /dev/null 2>&1; then \
		echo "The warehouse is empty: loading the demo data first (make run)"; \
		$(MAKE) --no-print-directory run; \
	fi
	$(MELTANO) invoke superset-bi:serve

# The browser tests drive Debian's chromium through chromium-driver (Selenium comes with Superset).
BROWSER_PACKAGES := chromium chromium-driver
browser:  ## install Debian's chromium and chromium-driver for the browser tests (apt-get, as root)
	@if ! command -v chromedriver > /dev/null || ! command -v chromium > /dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "The browser tests need $(BROWSER_PACKAGES): sudo apt-get install $(BROWSER_PACKAGES)"; \
			exit 1; \
		fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(BROWSER_PACKAGES); \
	fi

# Debian's redis-server is the Celery profile's broker; installed (as root) only when missing.
redis-server:
	@command -v redis-server > /dev/null || { \
		[ "$$(id -u)" = 0 ] || { echo "redis-server is missing: run 'sudo make redis-server'"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

airflow-celery: install redis-server  ## the CeleryExecutor profile: Redis, PostgreSQL metadata DB, two workers (orchestrate/README.md)
	$(MELTANO) invoke airflow:celery

bench-airflow: install redis-server  ## 8 files x 2 M positions: 1 vs 2 parallel loads, and Celery with 2 workers: benchmarks/results/airflow.*
	$(BIN)/python benchmarks/bench_airflow.py $(BENCH_OPTIONS)

bench: install  ## every stage at 0.5, 2 and 5 M positions vs the COPY ceiling: benchmarks/results/pipeline.*
	$(BIN)/python benchmarks/bench_pipeline.py $(BENCH_OPTIONS)

bench-scale: install  ## grow one warehouse file by file: benchmarks/results/scale.* (BENCH_SCALE_OPTIONS=--full: 2, +8, +1: results/scale-full/)
	$(BIN)/python benchmarks/bench_scale.py $(BENCH_SCALE_OPTIONS)

status:  ## is the embedded PostgreSQL running, and its connection URL
	$(MELTANO) invoke postgres status

stop:  ## stop the embedded PostgreSQL (data stays in .meltano/postgres)
	@if [ -x $(MELTANO) ]; then $(MELTANO) invoke postgres stop; fi

clean: stop  ## stop the server and delete .venv, .meltano (the embedded database too) and demo data
	rm -rf $(VENV) .meltano $(DEMO_DIR) benchmarks/.work
