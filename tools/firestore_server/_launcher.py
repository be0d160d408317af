"""Start, verify and stop one loopback Firestore server (Google's emulator or the npm one)."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, TextIO

from tools.firestore_server._selfcheck import SelfCheckReport

Backend = Literal["auto", "npm", "google"]

REPO_ROOT = Path(__file__).resolve().parents[2]
# npm packages live under tools/, not the root: a package.json in the functions' source folder
# (".") makes firebase-tools treat the Python functions as Node ("Unexpected runtime python311").
NODE_ROOT = REPO_ROOT / "tools"
SERVER_SCRIPT = Path(__file__).resolve().with_name("server.mjs")
HOST = "127.0.0.1"
SELF_CHECK_PROJECT = "demo-cvplus-selfcheck"
_READY = re.compile(r"^CVPLUS_FIRESTORE_READY (?P<host>127\.0\.0\.1:\d+) isolation=(on|off)$")


class FirestoreServerError(RuntimeError):
    """The server could not be started (missing tools, crash, no readiness in time)."""


class IsolationMissingError(FirestoreServerError):
    """The server answered but lost a concurrent update: tests against it would prove nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timings:
    start_seconds: float  # spawn -> ready line (npm) or HTTP 200 (Google's emulator)
    self_check_seconds: float  # the whole self-check, child interpreter start included


def google_emulator_jar(env: Mapping[str, str] | None = None) -> Path | None:
    """The Cloud Firestore emulator JAR that firebase-tools would run, if this machine has it.

    firebase-tools honours FIRESTORE_EMULATOR_BINARY_PATH, else FIREBASE_EMULATORS_PATH or
    ~/.cache/firebase/emulators holds cloud-firestore-emulator-v<version>.jar.
    """
    if env is None:
        env = os.environ
    explicit = env.get("FIRESTORE_EMULATOR_BINARY_PATH")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    folder = Path(env.get("FIREBASE_EMULATORS_PATH") or Path.home() / ".cache/firebase/emulators")
    jars = sorted(folder.glob("cloud-firestore-emulator-v*.jar"), key=_version_key)
    return jars[-1] if jars else None


def _version_key(jar: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", jar.stem))


def ensure_node_modules(root: Path = NODE_ROOT) -> None:
    """Run `npm ci` if the pinned npm packages are not installed or package-lock.json changed.

    npm writes node_modules/.package-lock.json on install; a lock file newer than it means the
    pins moved since (a pull or branch switch), and reinstalling is cheap (seconds).
    """
    installed = root / "node_modules/.package-lock.json"
    if (
        installed.is_file()
        and (root / "node_modules/@firestore-emulator/server/package.json").is_file()
        and installed.stat().st_mtime >= (root / "package-lock.json").stat().st_mtime
    ):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FirestoreServerError("npm is not installed; the local Firestore server needs Node")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FirestoreServerError(f"npm ci failed in {root}:\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class FirestoreServer:
    """One Firestore server on 127.0.0.1, checked for transaction isolation before use.

    `with FirestoreServer() as server: server.host` -> "127.0.0.1:PORT". Nothing global is set;
    callers export FIRESTORE_EMULATOR_HOST=server.host themselves where they want it.

    backend: "auto" prefers Google's emulator when its JAR and `java` are present, else the npm
    server with our isolation wrapper. port: 0 lets the OS choose. isolation=False serves the
    npm package unwrapped and verify_isolation=False skips the self-check; both exist only so
    tests can show what a server without isolation does.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        backend: Backend = "auto",
        isolation: bool = True,
        verify_isolation: bool = True,
        start_timeout: float = 60.0,
        echo: bool = False,
    ) -> None:
        self._port = port
        self._requested_backend = backend
        self._isolation = isolation
        self._verify = verify_isolation
        self._start_timeout = start_timeout
        self._echo = echo
        self._process: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self._drain: threading.Thread | None = None
        self._host: str | None = None
        self._pid: int | None = None
        self.backend: Literal["npm", "google"] | None = None
        self.timings: Timings | None = None
        self.self_check: SelfCheckReport | None = None

    @property
    def host(self) -> str:
        if self._host is None:
            raise FirestoreServerError("the server is not running")
        return self._host

    @property
    def pid(self) -> int | None:
        """The server process's PID (also its process group); kept after stop() for checks."""
        return self._pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

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
        if self._process is not None:
            raise FirestoreServerError("already started")
        jar = google_emulator_jar() if self._requested_backend != "npm" else None
        java = shutil.which("java")
        if self._requested_backend == "google" and (jar is None or java is None):
            raise FirestoreServerError(
                "Google's Firestore emulator needs its JAR (FIRESTORE_EMULATOR_BINARY_PATH or "
                "~/.cache/firebase/emulators) and Java 21+"
            )
        began = time.perf_counter()
        try:
            if jar is not None and java is not None and self._isolation:
                self._start_google(java, jar)
            else:
                self._start_npm()
            started = time.perf_counter()
            if self._verify:
                self._run_self_check()
            self.timings = Timings(
                start_seconds=started - began,
                self_check_seconds=time.perf_counter() - started,
            )
        except BaseException:
            self.stop()
            raise

    def _start_npm(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise FirestoreServerError("node is not installed; the local Firestore server needs it")
        ensure_node_modules()
        command = [node, str(SERVER_SCRIPT), "--port", str(self._port), "--exit-with-stdin"]
        if not self._isolation:
            command.append("--no-isolation")
        self.backend = "npm"
        self._spawn(command)
        self._await_ready_line()

    def _start_google(self, java: str, jar: Path) -> None:
        # Untested here: these machines cannot download the JAR. Same flags firebase-tools uses.
        port = self._port or _free_port()
        self.backend = "google"
        self._spawn([java, "-jar", str(jar), "--host", HOST, "--port", str(port)])
        self._host = f"{HOST}:{port}"
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            self._fail_if_exited()
            try:
                with urllib.request.urlopen(f"http://{self._host}/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise FirestoreServerError(f"Google's emulator not ready in {self._start_timeout} s")

    def _spawn(self, command: list[str]) -> None:
        # A new session makes the server its own process group, stopped as a group by PID.
        self._process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._pid = self._process.pid
        self._drain = threading.Thread(
            target=self._read_output, args=(self._process.stdout,), daemon=True
        )
        self._drain.start()

    def _read_output(self, stream: TextIO) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            self._output.append(line)
            if self._echo:
                print(f"[firestore] {line}", file=sys.stderr, flush=True)
            match = _READY.match(line)
            if match and not self._ready.is_set():
                self._host = match["host"]
                self._ready.set()

    def _await_ready_line(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while not self._ready.wait(0.05):
            self._fail_if_exited()
            if time.monotonic() > deadline:
                raise FirestoreServerError(
                    f"no readiness line in {self._start_timeout} s:\n{self.output_tail()}"
                )

    def _fail_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise FirestoreServerError(
                f"the server exited with {self._process.returncode}:\n{self.output_tail()}"
            )

    def _run_self_check(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tools.firestore_server._selfcheck", SELF_CHECK_PROJECT],
            cwd=REPO_ROOT,
            env={**os.environ, "FIRESTORE_EMULATOR_HOST": self.host},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise FirestoreServerError(
                f"the isolation self-check could not run against {self.host}:\n"
                f"{done.stderr[-4000:]}\nserver output:\n{self.output_tail()}"
            )
        self.self_check = SelfCheckReport(**json.loads(done.stdout.strip().splitlines()[-1]))
        # Google's emulator may serialise the rivals with locks instead of aborting one.
        reason = self.self_check.verdict(require_abort=self.backend == "npm")
        if reason is not None:
            raise IsolationMissingError(
                f"refusing to serve Firestore at {self.host} ({self.backend}): {reason}. "
                f"Self-check: {self.self_check}"
            )

    def output_tail(self, lines: int = 40) -> str:
        return "\n".join(list(self._output)[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server's process group (by its PID) and wait for it; idempotent."""
        process, self._process = self._process, None
        self._host = None
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
            except ProcessLookupError:
                pass
        if process.stdin is not None:
            process.stdin.close()
        if self._drain is not None:
            self._drain.join(timeout)
            self._drain = None
        if process.stdout is not None:
            process.stdout.close()
