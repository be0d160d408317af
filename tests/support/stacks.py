"""Local stacks for the tests: the tiny functions project the stack's own tests serve, and
what this machine must have to run the real local stack.

The fixture project has its own firebase.json (free ports, so a developer's `make stack-up` on
the default ports is not disturbed), a `venv` link to this interpreter's venv (the Functions
emulator runs the functions from the source folder's venv), and main.py with a callable `ping`
that needs auth, and a trigger on enhanced_video_jobs/{jobId} that writes a marker document.
"""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from pathlib import Path

# The emulators' project (a demo- project needs no credentials) and its default bucket.
PROJECT = "demo-cvplus"
BUCKET = f"{PROJECT}.firebasestorage.app"

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


def local_stack_missing() -> list[str]:
    """What the local stack needs and this machine lacks (`make install` adds it)."""
    from tools.stack._stack import FIREBASE_BIN, REPO_ROOT, TASKS_PYTHON

    needed = (FIREBASE_BIN, TASKS_PYTHON, REPO_ROOT / "venv/bin/activate")
    return [str(path) for path in needed if not path.exists()]
