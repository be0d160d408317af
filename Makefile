# One place for the project's commands. `make check` is what CI runs (through .ci/run).
PY ?= venv/bin/python

.PHONY: install lint typecheck test check bench-chaos bench-micro

venv/bin/python:
	python3 -m venv venv

install: venv/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest

check: lint typecheck test

bench-chaos:
	$(PY) -m bench.chaos --write BENCHMARKS.md

bench-micro:
	$(PY) -m bench.micro --write BENCHMARKS.md
