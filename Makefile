# One place for the project's commands. `make check` installs what is missing, then runs lint,
# type checks and every test; CI runs it through .ci/run on a clean clone.
PY := venv/bin/python

.PHONY: install chromium lint typecheck test check bench bench-chaos bench-micro

venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's chromium (never a downloaded one). Installed only when it is
# missing and apt-get exists; without it the browser tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; } \
			|| echo "warning: could not install chromium; the browser tests will skip"; \
	fi

install: venv/.installed node_modules/.installed chromium

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
