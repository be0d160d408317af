# One place for the project's commands. `make check` installs what is missing, then runs lint,
# type checks and every test; CI runs it through .ci/run on a clean clone.
PY := venv/bin/python

.PHONY: install lint typecheck test check bench bench-chaos bench-micro

venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: venv/.installed node_modules/.installed

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install
	$(PY) -m mypy

test: install
	$(PY) -m pytest

check: lint typecheck test

bench: bench-chaos bench-micro

bench-chaos: install
	$(PY) -m bench.chaos --write BENCHMARKS.md

bench-micro: install
	$(PY) -m bench.micro --write BENCHMARKS.md
