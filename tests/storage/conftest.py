"""The Cloud Storage emulator of the local stack (gcp-storage-emulator), on a free port, with the
bucket created, for the storage module's tests."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stacks import BUCKET
from tools.stack.processes import Child


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def storage_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator's URL (what STORAGE_EMULATOR_HOST holds)."""
    port = _free_port()
    log_dir: Path = tmp_path_factory.mktemp("storage-emulator")
    child = Child(
        "cloud_storage",
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            BUCKET,
        ],
        cwd=Path.cwd(),
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1"},
        log_path=log_dir / "cloud_storage.log",
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/storage/v1/b/{BUCKET}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        child.wait_ready(ready, timeout=60, what="the default bucket")
        yield url
    finally:
        child.stop()
