"""Start and stop the provider simulator from Python (tests, the local demo): in this process on a
background thread, or as a child process stopped by its PID. Both bind loopback, pick a free
port by default, and return only once the simulator answers its health check."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

import httpx
from werkzeug.serving import BaseWSGIServer, make_server

from tools.provider_sim.app import apply_schedule, create_app
from tools.provider_sim.state import DEFAULT_HEYGEN_SECRET, SimState

REPO_ROOT = Path(__file__).resolve().parents[2]


class ProviderSim:
    """A running simulator. ``base_url(provider)`` is what an adapter's base URL should be."""

    def __init__(self, *, host: str, port: int, heygen_secret: str) -> None:
        self.host = host
        self.port = port
        self.heygen_secret = heygen_secret
        self.url = f"http://{host}:{port}"
        self._control = httpx.Client(base_url=self.url, timeout=5.0)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[str] | None = None

    # --- starting -------------------------------------------------------------------------

    @classmethod
    def in_process(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heygen_secret: str = DEFAULT_HEYGEN_SECRET,
        schedule: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> ProviderSim:
        if seed is None and schedule is not None:
            seed = schedule.get("seed")
        state = SimState(heygen_secret=heygen_secret, seed=seed)
        if schedule is not None:
            apply_schedule(state, schedule)
        server = make_server(host, port, create_app(state), threaded=True)
        sim = cls(host=host, port=server.server_port, heygen_secret=heygen_secret)
        sim._server = server
        sim._thread = threading.Thread(
            target=server.serve_forever, name="provider-sim", daemon=True
        )
        sim._thread.start()
        sim.wait_ready()
        return sim

    @classmethod
    def subprocess(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heygen_secret: str = DEFAULT_HEYGEN_SECRET,
        schedule_file: Path | None = None,
        startup_timeout_s: float = 15.0,
    ) -> ProviderSim:
        command = [sys.executable, "-m", "tools.provider_sim", "--host", host, "--port", str(port)]
        command += ["--heygen-secret", heygen_secret, "--quiet"]
        if schedule_file is not None:
            command += ["--schedule", str(schedule_file)]
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # "provider_sim listening on http://h:p"
        if not line.startswith("provider_sim listening on "):
            process.kill()
            process.wait()
            raise RuntimeError(f"provider_sim did not start: {line!r}")
        bound = int(line.rsplit(":", 1)[1])
        sim = cls(host=host, port=bound, heygen_secret=heygen_secret)
        sim._process = process
        sim.wait_ready(timeout_s=startup_timeout_s)
        return sim

    def wait_ready(self, *, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self._control.get("/_control/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"provider_sim at {self.url} not ready after {timeout_s}s")
            time.sleep(0.05)

    # --- using ----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def inbox_url(self, name: str) -> str:
        return f"{self.url}/_inbox/{name}"

    def add_fault(self, provider: str, fault: str, **params: Any) -> dict[str, Any]:
        answer = self._control.post(
            "/_control/faults", json={"provider": provider, "fault": fault, **params}
        )
        answer.raise_for_status()
        armed: dict[str, Any] = answer.json()["armed"][0]
        return armed

    def configure(self, provider: str, **settings: Any) -> None:
        self._control.post(
            "/_control/config", json={"provider": provider, **settings}
        ).raise_for_status()

    def stats(self) -> dict[str, Any]:
        answer = self._control.get("/_control/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def inbox(self, name: str | None = None) -> list[dict[str, Any]]:
        params = {"name": name} if name else {}
        answer = self._control.get("/_control/inbox", params=params)
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries

    def wait_inbox(
        self, name: str, *, count: int = 1, timeout_s: float = 5.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            entries = self.inbox(name)
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)

    def reset(self) -> None:
        self._control.post("/_control/reset").raise_for_status()

    # --- stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        self._control.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._process is not None:
            self._process.terminate()  # by PID: this child only
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
