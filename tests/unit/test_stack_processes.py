"""The stack's process handling and port configuration: stop reaches the whole family, a
recorded PID is only signalled while it is the same process, listeners are found, and ports
come from firebase.json on loopback only."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.stack._stack import REPO_ROOT, read_pid_file
from tools.stack.config import LOOPBACK, StackConfig, StackConfigError
from tools.stack.processes import (
    Child,
    ProcessRecord,
    descendants,
    is_alive,
    listening_addresses,
    port_is_free,
    start_ticks,
    stop_process,
)


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def test_stop_reaches_a_descendant_that_left_the_process_group(tmp_path: Path) -> None:
    """A grandchild in its own session (as `detached` workers are) is stopped too."""
    child = Child(
        "family",
        ["sh", "-c", "setsid sleep 300 & sleep 300 & wait"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "family.log",
    )
    _wait(lambda: len(descendants(child.record.pid)) >= 2)
    family = [(child.record.pid, child.record.start_ticks), *descendants(child.record.pid)]

    assert child.stop(grace_s=5)

    assert [pid for pid, ticks in family if is_alive(pid, ticks)] == []
    assert "$ sh -c" in (tmp_path / "family.log").read_text()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    """SIGTERM first; what is still there after the grace period gets SIGKILL."""
    child = Child(
        "stubborn",
        ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "stubborn.log",
    )
    time.sleep(0.2)
    began = time.monotonic()
    assert child.stop(grace_s=0.5)
    assert time.monotonic() - began < 5
    assert not is_alive(child.record.pid, child.record.start_ticks)


def test_a_recorded_pid_with_another_start_time_is_not_that_process() -> None:
    """A pid file outliving its processes never makes us signal whoever reused the PID."""
    me = os.getpid()
    ticks = start_ticks(me)
    assert ticks is not None
    assert is_alive(me, ticks)
    assert not is_alive(me, ticks + 1)
    stranger = ProcessRecord("stranger", me, ticks + 1, "-")
    assert stop_process(stranger, grace_s=0.1)  # nothing to stop, and we are still here
    assert is_alive(me, ticks)


def test_a_loopback_listener_is_reported_as_such() -> None:
    """/proc/net/tcp parsing finds our listening socket at 127.0.0.1."""
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen()
        port = int(server.getsockname()[1])
        assert listening_addresses(port) == {"127.0.0.1"}
        assert not port_is_free(LOOPBACK, port)
    assert listening_addresses(port) == set()


def test_the_pid_file_round_trips_and_a_missing_one_is_empty(tmp_path: Path) -> None:
    """`down` in another shell reads back exactly what `up` wrote."""
    assert read_pid_file(tmp_path) == []
    record = ProcessRecord("cloud_tasks", 1234, 5678, "run/cloud_tasks.log")
    (tmp_path / "stack.json").write_text(json.dumps({"processes": [record.to_json()]}))
    assert read_pid_file(tmp_path) == [record]


def test_the_repository_ports_are_distinct_and_loopback() -> None:
    """firebase.json names every port once, all on 127.0.0.1, the tasks queue included."""
    config = StackConfig.load(REPO_ROOT)
    ports = config.ports()
    assert set(ports) == {
        "functions",
        "auth",
        "firestore",
        "cloudTasks",
        "cloudStorage",
        "tasks",
        "hub",
        "logging",
        "providerSim",
    }
    assert len({e.port for e in ports.values()}) == len(ports)
    assert {e.host for e in ports.values()} == {LOOPBACK}
    assert config.project_id == "demo-cvplus"
    assert config.tasks_queue == "projects/demo-cvplus/locations/us-central1/queues/video-jobs"
    assert config.function_url("generateVideo") == (
        f"http://127.0.0.1:{config.functions.port}/demo-cvplus/us-central1/generateVideo"
    )


def _write(tmp_path: Path, emulators: dict[str, object]) -> Path:
    (tmp_path / "firebase.json").write_text(json.dumps({"emulators": emulators}))
    return tmp_path


FULL = {
    name: {"host": LOOPBACK, "port": 7000 + i}
    for i, name in enumerate(
        ["functions", "auth", "firestore", "cloudTasks", "cloudStorage", "tasks", "hub", "logging"]
    )
}


def test_a_non_loopback_host_is_refused(tmp_path: Path) -> None:
    """0.0.0.0 would expose the emulators to the network: the config is rejected."""
    source = _write(tmp_path, {**FULL, "auth": {"host": "0.0.0.0", "port": 9099}})
    with pytest.raises(StackConfigError, match=r"emulators\.auth\.host is '0\.0\.0\.0'"):
        StackConfig.load(source)


def test_a_missing_port_names_the_emulator(tmp_path: Path) -> None:
    """Every part the stack starts must have its port written down."""
    emulators = {k: v for k, v in FULL.items() if k != "cloudTasks"}
    with pytest.raises(StackConfigError, match=r"emulators\.cloudTasks needs"):
        StackConfig.load(_write(tmp_path, emulators))
    with pytest.raises(StackConfigError, match="does not exist"):
        StackConfig.load(tmp_path / "nowhere")


def test_the_provider_simulator_port_is_optional(tmp_path: Path) -> None:
    """Without providerSim the stack simply has no simulator slot."""
    assert StackConfig.load(_write(tmp_path, FULL)).provider_sim is None
