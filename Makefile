# One place for the project's commands. `make check` is what CI runs (through .ci/run).
PY ?= venv/bin/python
TASKS_VENV := .tools/tasks-venv

.PHONY: install lint typecheck test test-fast check stack-up stack-down stack-status bench-chaos bench-micro

venv/bin/python:
	python3 -m venv venv

# npm ci installs the pinned firebase-tools and the Firestore server (tools/package-lock.json;
# not at the root, where a package.json makes firebase-tools take the functions for Node); rerun
# when the lock changes. The Cloud Tasks emulator gets its own venv (it pins protobuf<5).
tools/node_modules/.package-lock.json: tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund

$(TASKS_VENV)/bin/gcloud-tasks-emulator: requirements-tasks-emulator.txt
	python3 -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install -q -r requirements-tasks-emulator.txt
	touch $@

install: venv/bin/python tools/node_modules/.package-lock.json $(TASKS_VENV)/bin/gcloud-tasks-emulator
	$(PY) -m pip install -q -r requirements-dev.txt

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest

# Everything but the tests that start the emulator stack (about a minute less).
test-fast:
	$(PY) -m pytest -m "not e2e"

check: lint typecheck test

# The local stack in the background (ports: firebase.json "emulators"; logs: run/).
stack-up:
	$(PY) -m tools.stack up

stack-down:
	$(PY) -m tools.stack down

stack-status:
	$(PY) -m tools.stack status

bench-chaos:
	$(PY) -m bench.chaos --write BENCHMARKS.md

bench-micro:
	$(PY) -m bench.micro --write BENCHMARKS.md
