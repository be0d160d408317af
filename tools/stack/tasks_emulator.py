"""Run gcloud-tasks-emulator on 127.0.0.1 only, with the queue created, then print a ready line.

Runs in its own venv (.tools/tasks-venv: the emulator pins protobuf<5, which google-cloud-firestore
cannot share), so it imports nothing from this repository:

    .tools/tasks-venv/bin/python tools/stack/tasks_emulator.py --port 9499 \
        --queue projects/demo-cvplus/locations/us-central1/queues/video-jobs

The emulator binds "[::]:PORT" (every interface) whatever host it is given; the gRPC server's
add_insecure_port is wrapped to bind 127.0.0.1 instead, and refuses any other address shape
so an upgrade that changes it fails loudly rather than listening on the network.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

import grpc  # no stubs in this venv


class _LoopbackServer:
    """A grpc.Server whose insecure ports are bound on 127.0.0.1 only."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def add_insecure_port(self, address: str) -> int:
        host, _, port = address.rpartition(":")
        if host not in {"[::]", "0.0.0.0", "localhost", "127.0.0.1"}:
            raise RuntimeError(f"unexpected bind address {address!r}; refusing to guess")
        return int(self._server.add_insecure_port(f"127.0.0.1:{port}"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", default=[], help="full queue name")
    parser.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help="dispatch attempts after a failure; the emulator retries every ~0.1 s and ignores "
        "the queue's retry config, so keep this small",
    )
    args = parser.parse_args(argv)

    real_server = grpc.server
    grpc.server = lambda *a, **k: _LoopbackServer(real_server(*a, **k))

    from gcloud_tasks_emulator.server import create_server  # type: ignore[import-not-found]

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_without_sweeps)
    server = create_server(
        "127.0.0.1", args.port, default_queue_names=args.queue, max_retries=args.max_retries
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    try:
        _wait_until_serving(args.port, args.queue)
        print(f"CVPLUS_TASKS_READY 127.0.0.1:{args.port} queues={','.join(args.queue)}", flush=True)
        stop.wait()
    finally:
        server.stop()
    return 0


def _without_sweeps(record: logging.LogRecord) -> bool:
    """The emulator looks at every pending task ten times a second and logs two lines for each
    one not yet due: 12 MB in a minute with 200 tasks waiting. Keep the rest (dispatches,
    errors)."""
    message = record.getMessage()
    return not (
        message.startswith("[TASKS] Processing next task")
        or message.endswith("is scheduled for future execution. Moving it to the end of the queue.")
    )


def _wait_until_serving(port: int, queues: list[str]) -> None:
    """Ask the emulator for each queue over gRPC, as the functions will reach it."""
    from google.cloud.tasks_v2 import CloudTasksClient
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    client = CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    for queue in queues:
        client.get_queue(name=queue)
    channel.close()


if __name__ == "__main__":
    sys.exit(main())
