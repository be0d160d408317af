"""Peak memory of one copy into Cloud Storage: a 100 MB "video" served by a local HTTP server,
kept by `CloudStorageBucket` into the storage emulator (gcp-storage-emulator), in a fresh child
process whose peak RSS (``ru_maxrss``) is read before and after the copy.

    python -m bench.copy_rss [--mb 100]

The server and the emulator run in processes of their own, so only the copy's memory counts.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

BUCKET = "demo-cvplus.firebasestorage.app"
CHUNK = b"\0" * (1 << 20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(mb: int, port: int) -> None:
    """Serve ``mb`` MiB of zeros as video/mp4 at any path (runs in its own process)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            size = 1 if self.path.endswith("warm-up.mp4") else mb
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size << 20))
            self.end_headers()
            for _ in range(size):
                self.wfile.write(CHUNK)

        def log_message(self, *args: object) -> None:
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def copy(emulator: str, source: str) -> dict[str, float]:
    """One copy in this process; its peak RSS (MiB) before and after."""
    import os
    import resource

    os.environ["STORAGE_EMULATOR_HOST"] = emulator
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    from shared.adapters.storage import CloudStorageBucket

    client = Client(project="demo-cvplus", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        from shared.adapters.storage import CopyPolicy
    except ImportError:  # the code before streaming (for the "before" figure)
        videos = CloudStorageBucket(client, BUCKET, emulator_host=emulator)
    else:
        policy = CopyPolicy(trusted_origins=(source,))  # the local server, read over http
        videos = CloudStorageBucket(client, BUCKET, emulator_host=emulator, policy=policy)
    # A 1 MiB copy first: the libraries a copy loads count before the copy measured.
    videos.keep(source.replace("video.mp4", "warm-up.mp4"), "videos/bench/vj_warm.mp4")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.monotonic()
    videos.keep(source, "videos/bench/vj_rss.mp4")
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stored = client.bucket(BUCKET).get_blob("videos/bench/vj_rss.mp4")
    assert stored.size == int(os.environ.get("BENCH_MB", "100")) << 20, stored.size
    videos.close()
    return {"before_mib": before, "peak_mib": after, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(copy(*args.child)))
        return
    from tools.stack.processes import Child

    port, server_port = _free_port(), _free_port()
    emulator = f"http://127.0.0.1:{port}"
    logs = Path("/tmp") / f"copy-rss-{port}"
    logs.mkdir(exist_ok=True)
    child = Child(
        "cloud_storage",
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
         "--port", str(port), "--in-memory", "--default-bucket", BUCKET],
        cwd=Path.cwd(),
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1"},
        log_path=logs / "cloud_storage.log",
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-c", f"from bench.copy_rss import serve; serve({args.mb}, {server_port})"]
    )
    try:
        child.wait_ready(
            lambda: _up(f"{emulator}/storage/v1/b/{BUCKET}"), timeout=60, what="the bucket"
        )
        source = f"http://127.0.0.1:{server_port}/video.mp4"
        deadline = time.monotonic() + 30
        while not _up(source, head=True) and time.monotonic() < deadline:
            time.sleep(0.2)
        os.environ["BENCH_MB"] = str(args.mb)
        out = subprocess.run(
            [sys.executable, "-m", "bench.copy_rss", "--child", emulator, source],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"copy of {args.mb} MiB: peak RSS {figures['peak_mib']:.0f} MiB "
            f"(before the copy {figures['before_mib']:.0f} MiB, "
            f"+{figures['peak_mib'] - figures['before_mib']:.0f} MiB), "
            f"{figures['seconds']:.1f} s"
        )
    finally:
        server.terminate()
        server.wait()
        child.stop()
        threading.Event().wait(0)


def _up(url: str, *, head: bool = False) -> bool:
    try:
        if head:
            with httpx.stream("GET", url, timeout=2) as answer:
                return answer.status_code == 200
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
