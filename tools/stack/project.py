"""A copy of this repository's functions project on free ports, so several stacks (the e2e
tests, a benchmark, a running demo) can run at once: symlinks to the code and the venv, and a
firebase.json of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from tools.stack._stack import REPO_ROOT

# What the Functions emulator needs of the project: the code, its assets, the venv.
LINKED = (
    "main.py",
    "functions",
    "shared",
    "web",
    "requirements.txt",
    "venv",
    "firestore.rules",
    "firestore.indexes.json",
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def isolated_project(folder: Path) -> Path:
    """Write the project copy into ``folder`` (created if needed) and return it."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((REPO_ROOT / "firebase.json").read_text())
    emulators = config["emulators"]
    # Every port of the "emulators" block, the Firestore emulator's websocketPort included.
    named = [
        (name, key)
        for name, entry in emulators.items()
        if isinstance(entry, dict)
        for key in ("port", "websocketPort")
        if key in entry
    ]
    for (name, key), port in zip(named, free_ports(len(named)), strict=True):
        emulators[name] = {**emulators[name], key: port}
    (folder / "firebase.json").write_text(json.dumps(config, indent=2))
    for name in LINKED:
        link = folder / name
        if not link.exists():
            link.symlink_to(REPO_ROOT / name, target_is_directory=(REPO_ROOT / name).is_dir())
    write_manifest(folder)
    return folder


def write_manifest(folder: Path) -> None:
    """functions.yaml, which firebase-tools reads instead of starting the SDK's discovery server
    on the first free port from 8081 — a race when several stacks start at once."""
    code = (
        "from firebase_functions.private import serving;"
        "print(serving.functions_as_yaml(serving.get_functions()))"
    )
    python = folder / "venv" / "bin" / "python"
    env = {**os.environ, "GCLOUD_PROJECT": "demo-cvplus"}
    done = subprocess.run(
        [str(python), "-c", code], cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    (folder / "functions.yaml").write_text(done.stdout)
