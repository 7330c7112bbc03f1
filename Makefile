# Two commands on a fresh machine: `make up` runs the platform, `make test` runs the tests.
# Both install what is missing first (scripts/bootstrap.sh).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := UV_PYTHON_DOWNLOADS=never $(UV) run --frozen
STAMP := .venv/.bootstrapped

.PHONY: install up test test-fast lint format schemas api-docs clean

$(STAMP): scripts/bootstrap.sh pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) tools/asyncapi/package-lock.json
	@bash scripts/bootstrap.sh
	@touch $@

install: $(STAMP)

up: install  ## run the platform in the foreground (Ctrl-C stops it)
	@$(RUN) cpd up

test: install  ## the whole suite: unit, integration, end to end, deployment checks
	@$(RUN) pytest

test-fast: install  ## unit tests only (no PostgreSQL or broker needed)
	@$(RUN) pytest -m "not integration and not e2e"

lint: install
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy -p cpd_events -p cpd_eventstore -p cpd_platform -p cpd_cli -p entitlement -p catalogue -p mentoring -p reporting

format: install
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

api-docs: install  ## write OpenAPI and AsyncAPI documents to docs/api and docs/events.md (tests check them)
	@$(RUN) cpd api-docs docs/api

schemas: install  ## write the JSON Schema of every event to schemas/
	@$(RUN) cpd schemas schemas

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
