"""A tiny functions project made at test time, and one local stack serving it for the session.

The project has its own firebase.json (free ports, so a developer's `make stack-up` on the
default ports is not disturbed), a `venv` link to this interpreter's venv (the Functions
emulator runs the functions from the source folder's venv), and main.py with a callable `ping`
that needs auth, and a trigger on enhanced_video_jobs/{jobId} that writes a marker document.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.stack import Stack
from tools.stack._stack import REPO_ROOT
from tools.stack.processes import descendants, is_alive

FIXTURE_MAIN = textwrap.dedent(
    '''
    """Fixture functions for the stack's own tests (not the product's functions)."""

    import os

    from firebase_admin import initialize_app
    from firebase_functions import firestore_fn, https_fn
    from google.cloud import firestore

    initialize_app()  # without it every signed-in callable answers `unauthenticated`
    STACK_ENV = ("FIRESTORE_EMULATOR_HOST", "CVPLUS_TASKS_EMULATOR_HOST", "CVPLUS_TASKS_QUEUE",
                 "CVPLUS_FUNCTIONS_BASE_URL", "PUBLIC_WEBHOOK_BASE_URL", "GCLOUD_PROJECT",
                 "CVPLUS_PROVIDER_SIM_URL", "HEYGEN_BASE_URL", "RUNWAYML_BASE_URL", "DID_BASE_URL",
                 "STORAGE_EMULATOR_HOST", "CVPLUS_VIDEO_BUCKET")


    @https_fn.on_call()
    def ping(req: https_fn.CallableRequest) -> dict:
        if req.auth is None:
            raise https_fn.HttpsError(https_fn.FunctionsErrorCode.UNAUTHENTICATED, "sign in first")
        return {
            "echo": req.data,
            "uid": req.auth.uid,
            "admin": req.auth.token.get("admin", False),
            "tier": req.auth.token.get("tier"),
            "env": {name: os.environ.get(name) for name in STACK_ENV},
        }


    @firestore_fn.on_document_written(document="enhanced_video_jobs/{jobId}")
    def mark_job(event: firestore_fn.Event) -> None:
        before, after = event.data.before, event.data.after
        client = firestore.Client(project=os.environ["GCLOUD_PROJECT"])
        job_id = event.params["jobId"]
        client.collection("markers").document(job_id).set(
            {
                "before": before.to_dict() if before is not None and before.exists else None,
                "after": after.to_dict() if after is not None and after.exists else None,
                "document": event.document,
            }
        )
        counter = client.collection("deliveries").document(job_id)
        counter.set({"n": firestore.Increment(1)}, merge=True)
    '''
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def make_fixture_project(folder: Path) -> Path:
    """Write the fixture functions project into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [
        "functions",
        "auth",
        "firestore",
        "cloudTasks",
        "cloudStorage",
        "tasks",
        "hub",
        "logging",
        "providerSim",
    ]
    ports = _free_ports(len(names) + 1)
    emulators: dict[str, object] = {
        name: {"host": "127.0.0.1", "port": port} for name, port in zip(names, ports, strict=False)
    }
    # The Firestore emulator's websocket (for its UI) takes 9150 unless told otherwise.
    emulators["firestore"] = {"host": "127.0.0.1", "port": ports[2], "websocketPort": ports[-1]}
    emulators["singleProjectMode"] = True
    emulators["ui"] = {"enabled": False}
    config = {
        "functions": [
            {
                "source": ".",
                "codebase": "default",
                "runtime": "python311",
                "ignore": ["venv", "*.log"],
            }
        ],
        "emulators": emulators,
    }
    (folder / "firebase.json").write_text(json.dumps(config, indent=2))
    (folder / "main.py").write_text(FIXTURE_MAIN)
    (folder / "requirements.txt").write_text("firebase-functions==0.6.0\n")
    venv = folder / "venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix), target_is_directory=True)
    return folder


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
