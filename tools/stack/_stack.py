"""Start, check and stop the whole local stack; the pid file lets another shell stop it."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tools import emulators
from tools.stack.config import StackConfig
from tools.stack.processes import (
    Child,
    ProcessRecord,
    StackProcessError,
    is_alive,
    port_answers,
    port_is_free,
    stop_process,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIREBASE_BIN = REPO_ROOT / "tools/node_modules/.bin/firebase"  # tools/package.json, npm ci
# Function executions the Functions emulator runs at once (its default is 50). Each one past
# the idle workers of its function starts a new Python worker, about 2 CPU seconds of imports:
# 200 calls at once started dozens and the cold starts alone kept two cores busy for a minute.
# Queued calls wait for a warm worker instead. FUNCTIONS_EMULATOR_PARALLEL in the environment
# wins.
EMULATOR_PARALLEL = 8
# Preloaded into firebase-tools: no keep-alive between the emulator and its Python workers.
NO_KEEPALIVE = Path(__file__).with_name("no_keepalive.cjs")
TASKS_PYTHON = REPO_ROOT / ".tools/tasks-venv/bin/python"
TASKS_SCRIPT = Path(__file__).resolve().with_name("tasks_emulator.py")
PID_FILE = "stack.json"
PROVIDER_SIM_MODULE = "tools.provider_sim"
# Secrets of the local stack (.secret.local): what the provider simulator accepts.
LOCAL_SECRETS = {
    "HEYGEN_API_KEY": "local-heygen-key",
    "RUNWAYML_API_KEY": "local-runwayml-key",
    "DID_API_KEY": "local-did-key",
    "CVPLUS_INTERNAL_SECRET": secrets.token_hex(16),
}

# Environment the functions read to reach what the stack runs (README: "Local stack").
ENV_FIRESTORE = "FIRESTORE_EMULATOR_HOST"
ENV_TASKS_HOST = "CVPLUS_TASKS_EMULATOR_HOST"  # gRPC host:port of gcloud-tasks-emulator
ENV_TASKS_QUEUE = "CVPLUS_TASKS_QUEUE"  # projects/P/locations/L/queues/Q, created at start
ENV_FUNCTIONS_BASE = "CVPLUS_FUNCTIONS_BASE_URL"  # http://127.0.0.1:5001/demo-cvplus/us-central1
ENV_PROVIDER_SIM = "CVPLUS_PROVIDER_SIM_URL"  # the simulator's root (its /_control API)
ENV_STORAGE_HOST = "STORAGE_EMULATOR_HOST"  # http://127.0.0.1:9023, read by google-cloud-storage
ENV_VIDEO_BUCKET = "CVPLUS_VIDEO_BUCKET"  # created at start
# The simulator serves each provider under its own prefix (tools/provider_sim blueprints).
_SIM_PREFIXES = {
    "HEYGEN_BASE_URL": "/heygen",
    "RUNWAYML_BASE_URL": "/runwayml",
    "DID_BASE_URL": "/did",
}


class StackError(RuntimeError):
    """The stack cannot start here (missing install, busy port, a part not ready)."""


@dataclass(frozen=True, slots=True)
class PartStatus:
    name: str
    pid: int
    alive: bool
    log: str


class Stack:
    """The local stack on 127.0.0.1: firebase-tools (Firestore, Functions and Auth emulators),
    the Cloud Tasks emulator, the Cloud Storage emulator and the provider simulator (if
    present).

        with Stack() as stack:                 # the repository's functions (source ".")
            httpx.post(stack.config.function_url("generateVideo"), json={"data": {...}})
        with Stack(source_dir=tmp, run_dir=tmp / "run"):   # another functions project

    Ports come from ``source_dir``/firebase.json; logs go to ``run_dir``/<part>.log and the
    PIDs to ``run_dir``/stack.json. ``functions_env`` is added to the functions' environment.
    """

    def __init__(
        self,
        source_dir: Path = REPO_ROOT,
        *,
        run_dir: Path | None = None,
        functions_env: Mapping[str, str] | None = None,
        start_timeout: float = 180.0,
        provider_sim: bool = True,
        provider_sim_module: str = PROVIDER_SIM_MODULE,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.config = StackConfig.load(source_dir)
        self.run_dir = (run_dir or REPO_ROOT / "run").resolve()
        self._extra_env = dict(functions_env or {})
        self._secrets = dict(LOCAL_SECRETS if secrets is None else secrets)
        self._timeout = start_timeout
        self._want_provider_sim = provider_sim
        self._provider_sim_module = provider_sim_module
        self._children: list[Child] = []
        self.timings: dict[str, float] = {}

    # -- the environment the functions get ---------------------------------------------------

    @property
    def functions_env(self) -> dict[str, str]:
        config = self.config
        env = {
            ENV_FIRESTORE: config.firestore.address,
            ENV_TASKS_HOST: config.cloud_tasks.address,
            ENV_TASKS_QUEUE: config.tasks_queue,
            ENV_FUNCTIONS_BASE: config.function_url("").rstrip("/"),
            ENV_STORAGE_HOST: config.cloud_storage.url,
            ENV_VIDEO_BUCKET: config.video_bucket,
            "PUBLIC_WEBHOOK_BASE_URL": config.function_url("").rstrip("/"),
        }
        if self._provider_sim_available() and config.provider_sim is not None:
            env[ENV_PROVIDER_SIM] = config.provider_sim.url
            for name, prefix in _SIM_PREFIXES.items():
                env[name] = config.provider_sim.url + prefix
        env.update(self._extra_env)
        return env

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Loopback calls must never go through a proxy (urllib and httpx honour these).
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # -- start -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        began = time.monotonic()
        self._preflight()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - began

    def _preflight(self) -> None:
        problems: list[str] = []
        if not FIREBASE_BIN.exists():
            problems.append(f"{FIREBASE_BIN} is missing: run `make install` (npm ci)")
        if not TASKS_PYTHON.exists():
            problems.append(f"{TASKS_PYTHON} is missing: run `make install`")
        venv = self.config.source_dir / "venv"
        if not (venv / "bin/activate").exists():
            problems.append(
                f"{venv} is missing: the Functions emulator runs the functions from the source "
                "folder's venv (run `make install`)"
            )
        if not (self.config.source_dir / "requirements.txt").exists():
            problems.append(f"{self.config.source_dir}/requirements.txt is missing")
        for name, endpoint in self.config.ports().items():
            if name == "providerSim" and not self._provider_sim_available():
                continue
            if not port_is_free(endpoint.host, endpoint.port):
                problems.append(
                    f"port {endpoint.port} (emulators.{name} in firebase.json) is in use; "
                    "is another stack running? `python -m tools.stack status`"
                )
        running = read_pid_file(self.run_dir)
        if any(is_alive(r.pid, r.start_ticks) for r in running):
            problems.append(
                f"a stack from {self.run_dir / PID_FILE} is still running: stop it first"
            )
        if problems:
            raise StackError("cannot start the stack:\n  - " + "\n  - ".join(problems))

    def _provider_sim_available(self) -> bool:
        if not self._want_provider_sim or self.config.provider_sim is None:
            return False
        return importlib.util.find_spec(self._provider_sim_module) is not None

    def _spawn(
        self,
        name: str,
        command: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stop_signal: int = signal.SIGTERM,
    ) -> Child:
        child = Child(
            name,
            command,
            cwd=cwd,
            env=env,
            log_path=self.run_dir / f"{name}.log",
            stop_signal=stop_signal,
        )
        self._children.append(child)
        self._write_pid_file()
        return child

    def _start_all(self) -> None:
        config = self.config
        base = self._base_env()
        tasks = self._spawn(
            "cloud_tasks",
            [
                str(TASKS_PYTHON),
                "-W",
                "ignore::FutureWarning",
                str(TASKS_SCRIPT),
                "--port",
                str(config.cloud_tasks.port),
                "--queue",
                config.tasks_queue,
            ],
            cwd=REPO_ROOT,
            env=base,
        )
        storage = self._spawn(
            "cloud_storage",
            [
                sys.executable,
                "-m",
                "gcp_storage_emulator",
                "start",
                "--host",
                config.cloud_storage.host,
                "--port",
                str(config.cloud_storage.port),
                "--in-memory",
                "--default-bucket",
                config.video_bucket,
            ],
            cwd=REPO_ROOT,
            env=base,
        )
        sim: Child | None = None
        if self._provider_sim_available() and config.provider_sim is not None:
            sim = self._spawn(
                "provider_sim",
                [
                    sys.executable,
                    "-m",
                    self._provider_sim_module,
                    "--port",
                    str(config.provider_sim.port),
                    "--host",
                    config.provider_sim.host,
                ],
                cwd=REPO_ROOT,
                env=base,
            )
        else:
            print(
                f"stack: {self._provider_sim_module} not present (or disabled or no "
                "emulators.providerSim port): no provider simulator",
                file=sys.stderr,
                flush=True,
            )
        self._write_local_secrets()
        # CI: no MOTD network fetch. A new Python worker may need longer than firebase-tools'
        # 30 s to start on a loaded 2-core machine; past it the request is dropped unanswered.
        firebase_env = {
            "FUNCTIONS_DISCOVERY_TIMEOUT": "120",
            "FUNCTIONS_EMULATOR_PARALLEL": str(EMULATOR_PARALLEL),
            **emulators.environment(base),
            **self.functions_env,
            "CI": "true",
            "NODE_OPTIONS": f'{base.get("NODE_OPTIONS", "")} --require "{NO_KEEPALIVE}"'.strip(),
        }
        firebase = self._spawn(
            "firebase",
            [
                str(FIREBASE_BIN),
                "emulators:start",
                "--only",
                "firestore,functions,auth",
                "--project",
                config.project_id,
            ],
            cwd=config.source_dir,
            env=firebase_env,
            stop_signal=signal.SIGINT,  # firebase-tools shuts its emulators down cleanly on INT
        )
        waits = [
            (tasks, tasks.log_matches(r"^CVPLUS_TASKS_READY "), "ready line"),
            (storage, self._storage_ready(), "the default bucket"),
            (firebase, self._firebase_ready(firebase), "'All emulators ready' and /backends"),
        ]
        if sim is not None and config.provider_sim is not None:
            endpoint = config.provider_sim
            waits.append((sim, lambda: port_answers(endpoint.host, endpoint.port), "open port"))
        with ThreadPoolExecutor(len(waits)) as pool:
            futures = [
                pool.submit(child.wait_ready, check, timeout=self._timeout, what=what)
                for child, check, what in waits
            ]
            for (child, _, _), future in zip(waits, futures, strict=True):
                self.timings[child.name] = future.result()

    def _write_local_secrets(self) -> None:
        """The Functions emulator reads SecretParams from .secret.local in the source folder (and
        otherwise tries Secret Manager, which cannot answer here). Local values only: keys the
        simulator accepts, its HeyGen webhook secret, a fresh internal secret per start."""
        if not self._secrets:
            return
        path = self.config.source_dir / ".secret.local"
        path.write_text("".join(f"{k}={v}\n" for k, v in self._secrets.items()))
        path.chmod(0o600)

    def _storage_ready(self) -> Callable[[], bool]:
        bucket = f"{self.config.cloud_storage.url}/storage/v1/b/{self.config.video_bucket}"

        def check() -> bool:
            try:
                return httpx.get(bucket, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        return check

    def _firebase_ready(self, firebase: Child) -> Callable[[], bool]:
        ready_line = firebase.log_matches(r"All emulators ready")
        failed = firebase.log_matches(r"Failed to load function definition.*|Error: .*")
        backends = f"{self.config.functions.url}/backends"

        def check() -> bool:
            problem = failed()
            if problem:
                raise StackProcessError(f"firebase-tools: {problem.group(0)}\n{firebase.tail()}")
            if not ready_line():
                return False
            try:
                return httpx.get(backends, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        return check

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Stop every part in reverse order of start; the names of any that survived."""
        survivors = [child.name for child in reversed(self._children) if not child.stop()]
        self._children.clear()
        (self.run_dir / PID_FILE).unlink(missing_ok=True)
        return survivors

    @property
    def records(self) -> list[ProcessRecord]:
        return [child.record for child in self._children]

    def _write_pid_file(self) -> None:
        payload = {
            "source_dir": str(self.config.source_dir),
            "ports": {name: e.address for name, e in self.config.ports().items()},
            "functions_env": self.functions_env,
            "processes": [record.to_json() for record in self.records],
        }
        path = self.run_dir / PID_FILE
        path.write_text(json.dumps(payload, indent=2) + "\n")


def read_pid_file(run_dir: Path) -> list[ProcessRecord]:
    try:
        raw = json.loads((run_dir / PID_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [ProcessRecord.from_json(entry) for entry in raw.get("processes", [])]


def status(run_dir: Path) -> list[PartStatus]:
    return [
        PartStatus(r.name, r.pid, is_alive(r.pid, r.start_ticks), r.log)
        for r in read_pid_file(run_dir)
    ]


def stop_from_pid_file(run_dir: Path) -> list[str]:
    """Stop a stack started elsewhere (`python -m tools.stack up`); names of survivors."""
    survivors: list[str] = []
    for record in reversed(read_pid_file(run_dir)):
        first = signal.SIGINT if record.name == "firebase" else signal.SIGTERM
        if not stop_process(record, first_signal=first):
            survivors.append(record.name)
    if not survivors:
        (run_dir / PID_FILE).unlink(missing_ok=True)
    return survivors
