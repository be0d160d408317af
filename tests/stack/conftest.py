"""One local stack serving a tiny functions project (`tests.support.stacks.make_fixture_project`)
for the session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.stacks import make_fixture_project
from tools.stack import Stack
from tools.stack._stack import REPO_ROOT
from tools.stack.processes import descendants, is_alive


def family_of(stack: Stack) -> list[tuple[int, int]]:
    """(pid, start ticks) of every process the stack runs, descendants included."""
    family: list[tuple[int, int]] = []
    for record in stack.records:
        family.append((record.pid, record.start_ticks))
        family.extend(descendants(record.pid))
    return family


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the session; teardown checks that nothing it started is left running."""
    project = make_fixture_project(tmp_path_factory.mktemp("functions-project"))
    run_dir = REPO_ROOT / "run" / "e2e-stack"
    sim = "tests.stack.fake_provider_sim"  # the slot is proven with a stand-in simulator
    with Stack(project, run_dir=run_dir, provider_sim_module=sim) as running:
        print(f"\nstack ready after {running.timings} s; logs in {run_dir}", file=sys.stderr)
        yield running
        family = family_of(running)
    survivors = [pid for pid, ticks in family if is_alive(pid, ticks)]
    assert not survivors, f"processes left running after stop: {survivors}"


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """Loopback HTTP, never through a proxy."""
    with httpx.Client(timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture
def firestore_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", stack.config.firestore.address)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return os.environ["FIRESTORE_EMULATOR_HOST"]
