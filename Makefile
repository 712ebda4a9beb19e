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

INSTALL_INPUTS := pyproject.toml meltano.yml $(wildcard plugins/requirements/*.txt) \
	$(wildcard tap-pneuma/pyproject.toml) $(wildcard plugins/*/pyproject.toml)

.PHONY: help install run test lint bench stop status clean airflow airflow-celery bench-airflow redis-server

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

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
	echo; $(MELTANO) --log-level=warning invoke postgres:summary

test: install lint redis-server  ## the whole test suite
	$(MELTANO) test airflow  # tests/orchestrate, in the Airflow plugin's venv
	$(BIN)/python -m pytest tap-pneuma/tests tests/

lint: install  ## ruff on the project and on tap-pneuma (each its own config), Airflow 3 rules on the DAGs
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	cd tap-pneuma && ../$(BIN)/ruff check . && ../$(BIN)/ruff format --check .
	$(BIN)/ruff check --preview --select AIR3 orchestrate

airflow: install  ## Airflow UI+scheduler on http://localhost:8080 (login: admin; password printed on first start)
	$(MELTANO) invoke airflow:standalone

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

status:  ## is the embedded PostgreSQL running, and its connection URL
	$(MELTANO) invoke postgres:status

stop:  ## stop the embedded PostgreSQL (data stays in .meltano/postgres)
	@if [ -x $(MELTANO) ]; then $(MELTANO) invoke postgres:stop; fi

clean: stop  ## stop the server and delete .venv, .meltano (the embedded database too) and demo data
	rm -rf $(VENV) .meltano $(DEMO_DIR) benchmarks/.work
