"""Child processes of the stack: spawned in their own session with output to a log file, found
again from a pid file by (PID, start time) so a reused PID is never signalled, and stopped as a
process group plus every descendant seen before the stop (never by name)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO


class StackProcessError(RuntimeError):
    """A process could not start, exited early, or was not ready in time."""


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """What the pid file keeps of one process: enough to find it again and nothing else."""

    name: str
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: tells a reused PID apart
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProcessRecord:
        return cls(str(raw["name"]), int(raw["pid"]), int(raw["start_ticks"]), str(raw["log"]))


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start ticks) of a process, or None when it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else (fields[0], int(fields[1]), int(fields[19]))


def cpu_seconds(pid: int, *, reaped: bool) -> float:
    """CPU seconds (user + system) a process has used (0 when it is gone); with ``reaped``,
    also those of its finished children it has waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def start_ticks(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[2]


def is_alive(pid: int, ticks: int) -> bool:
    """The very process recorded (same start time), running and not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[2] == ticks and stat[0] not in {"Z", "X"}


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start ticks) of every live descendant of ``pid``."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] not in {"Z", "X"}:
            children.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: list[tuple[int, int]] = []
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child[0])
    return found


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _signal_one(pid: int, ticks: int, signum: int) -> None:
    if is_alive(pid, ticks):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def stop_process(
    record: ProcessRecord,
    *,
    first_signal: int = signal.SIGTERM,
    grace_s: float = 10.0,
    popen: subprocess.Popen[bytes] | None = None,
) -> bool:
    """Stop a process, its group and its descendants; True if all are gone.

    ``first_signal`` goes to the process group (the process leads its own session), then to
    any descendant that moved to another group; after ``grace_s`` everything left is killed.
    """
    family = [(record.pid, record.start_ticks), *descendants(record.pid)]
    if is_alive(record.pid, record.start_ticks):
        _signal_group(record.pid, first_signal)
    for pid, ticks in family[1:]:
        _signal_one(pid, ticks, first_signal)
    if not _wait_gone(family, grace_s, popen):
        for pid, ticks in [(record.pid, record.start_ticks), *descendants(record.pid)]:
            family.append((pid, ticks))
        if is_alive(record.pid, record.start_ticks):
            _signal_group(record.pid, signal.SIGKILL)
        for pid, ticks in family:
            _signal_one(pid, ticks, signal.SIGKILL)
        _wait_gone(family, 5.0, popen)
    if popen is not None and popen.poll() is None:
        popen.wait(5.0)
    return not any(is_alive(pid, ticks) for pid, ticks in family)


def _wait_gone(
    family: Sequence[tuple[int, int]], timeout: float, popen: subprocess.Popen[bytes] | None
) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if popen is not None:
            popen.poll()  # reap our own child so it does not linger as a zombie
        if not any(is_alive(pid, ticks) for pid, ticks in family):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class Child:
    """One process of the stack, with its output in ``log_path``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.stop_signal = stop_signal
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: TextIO = log_path.open("w", buffering=1)
        self._log.write(f"$ {' '.join(self.command)}\n")
        self.started_at = time.monotonic()
        # Own session: the process leads its group, so stopping it reaches its workers too, and
        # it outlives `python -m tools.stack up` returning.
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            self.command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ticks = start_ticks(self.popen.pid)
        self.record = ProcessRecord(name, self.popen.pid, ticks or 0, str(log_path))
        self.ready_after_s: float | None = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], object], *, timeout: float, what: str) -> float:
        """Poll ``check`` until true; fail early if the process exits. Returns seconds taken."""
        deadline = time.monotonic() + timeout
        while not check():
            if self.popen.poll() is not None:
                raise StackProcessError(
                    f"{self.name} exited with {self.popen.returncode} before {what}; "
                    f"log {self.log_path}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise StackProcessError(
                    f"{self.name}: no {what} within {timeout:.0f} s; log {self.log_path}:\n"
                    f"{self.tail()}"
                )
            time.sleep(0.1)
        self.ready_after_s = time.monotonic() - self.started_at
        return self.ready_after_s

    def log_matches(self, pattern: str) -> Callable[[], re.Match[str] | None]:
        compiled = re.compile(pattern, re.MULTILINE)
        return lambda: compiled.search(self.log_text())

    def stop(self, grace_s: float = 10.0) -> bool:
        try:
            return stop_process(
                self.record, first_signal=self.stop_signal, grace_s=grace_s, popen=self.popen
            )
        finally:
            self._log.close()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6);
    IPv4-mapped IPv6 addresses are shown as IPv4."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            found.add(_decode_address(address, width))
    return found


def _decode_address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc stores each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if width == 8:
        return socket.inet_ntop(socket.AF_INET, words)
    if words[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, words[12:])
    return socket.inet_ntop(socket.AF_INET6, words)
