# make demo / make test work on a fresh machine: they create .venv and install the pinned lock file.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed

export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: demo test check lint types install lock clean test-orchestrators lock-orchestrators up down logs venv-mlserver

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==0.13.9
	$(UV) pip sync -q --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The replay through a running server, then the dashboard's URL and a log-in token; the server stays up
# until Ctrl-C. DEMO_ARGS=--no-serve exits after the replay (CI).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/evergreen demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) test-orchestrators

# Airflow and Prefect pin what they need apart from us: each gets its own venv with evergreen editable.
.venv-%/.installed: requirements-%.lock pyproject.toml $(STAMP)
	test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	$(UV) pip sync -q --compile-bytecode --python .venv-$*/bin/python requirements-$*.lock
	$(UV) pip install -q --python .venv-$*/bin/python --no-deps -e .
	touch $@

# MLServer 1.7 for benchmarks/serving.py, in its own venv (it pins fastapi<0.116, needs uvloop<0.22).
venv-mlserver: .venv-mlserver/.installed
.venv-mlserver/.installed: requirements-mlserver.lock $(STAMP)
	test -x .venv-mlserver/bin/python || $(UV) venv -q -p 3.11 .venv-mlserver
	$(UV) pip sync -q --compile-bytecode --python .venv-mlserver/bin/python requirements-mlserver.lock
	touch $@

test-orchestrators: .venv-airflow/.installed .venv-prefect/.installed
	EVERGREEN_ORCHESTRATOR=airflow .venv-airflow/bin/python -m pytest -p no:cacheprovider tests/integration/integrations/test_airflow.py $(PYTEST_ARGS)
	EVERGREEN_ORCHESTRATOR=prefect .venv-prefect/bin/python -m pytest -p no:cacheprovider tests/integration/integrations/test_prefect.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports  # the layers contract of DESIGN.md §7 (pyproject: tool.importlinter)

types: $(STAMP)
	$(VENV)/bin/mypy

check: lint types test

# Re-pin after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

lock-orchestrators: $(STAMP)
	$(UV) pip compile pyproject.toml --extra airflow --extra dev --python-version 3.11 -o requirements-airflow.lock
	$(UV) pip compile pyproject.toml --extra prefect --extra dev --python-version 3.11 -o requirements-prefect.lock

clean:
	rm -rf $(VENV) .venv-airflow .venv-prefect .venv-mlserver .pytest_cache .mypy_cache .ruff_cache

# The production stack of deploy/compose.yaml (needs a Docker engine). Secrets: deploy/.env, made
# from deploy/.env.example. PROFILE=airflow runs the generated DAG instead of `evergreen scheduler`.
COMPOSE ?= docker compose
PROFILE ?= scheduler
STACK   = $(COMPOSE) -f deploy/compose.yaml --env-file deploy/.env --profile $(PROFILE)

deploy/.env:
	@echo "error: deploy/.env: missing; copy deploy/.env.example to deploy/.env and set its secrets" >&2; exit 2

up: deploy/.env
	$(STACK) up -d --build

down: deploy/.env
	$(STACK) down

logs: deploy/.env
	$(STACK) logs -f --tail=200
