# Switchboard developer commands. Everything runs from a project-local venv built
# with python3.13 (the Lambda runtime): pyenv's 3.13 first, then any python3.13 on PATH.
SHELL := /bin/bash
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON313 ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.13.*/bin/python3.13))),$(shell command -v python3.13))
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(dir $(PYTHON313)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
PYTEST_FLAGS ?= -q

.PHONY: run test lint unit integration infra e2e bench build validate redrive clean

$(STAMP): requirements-dev.txt layers/switchboard/requirements.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it (pyenv install 3.13) or put it on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m infra.local

test: lint
	$(PY) -m pytest $(PYTEST_FLAGS) tests

# Lint and format are checked, never applied, here: `ruff check --fix . && ruff format .` applies them.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) tests/unit

integration: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) tests/integration

infra: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) tests/infra

e2e: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS) tests/e2e

bench: $(STAMP)
	$(PY) -m bench

validate: $(STAMP)
	sam validate --lint

build: $(STAMP)
	sam build

# Moves dead-lettered inbound messages back onto the inbound queue (local stack by default;
# pass QUEUE/DLQ URLs and no endpoint to run it against AWS).
redrive: $(STAMP)
	$(PY) -m infra.redrive

clean:
	rm -rf $(VENV) .aws-sam .switchboard .pytest_cache .hypothesis
