"""`python -m tools.firestore_server [--port N]`: serve a verified Firestore until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import get_args

from tools.firestore_server._launcher import (
    Backend,
    FirestoreServer,
    FirestoreServerError,
    IsolationMissingError,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.firestore_server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--backend", choices=get_args(Backend), default="auto")
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="serve the npm package without the isolation wrapper (to see the self-check refuse)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not echo the server's output")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = FirestoreServer(
        port=args.port,
        backend="npm" if args.no_isolation else args.backend,
        isolation=not args.no_isolation,
        echo=not args.quiet,
    )
    try:
        server.start()
    except IsolationMissingError as exc:
        print(f"firestore_server: {exc}", file=sys.stderr)
        return 2
    except FirestoreServerError as exc:
        print(f"firestore_server: {exc}", file=sys.stderr)
        return 1
    try:
        assert server.timings is not None
        print(
            f"FIRESTORE_EMULATOR_HOST={server.host}  backend={server.backend} pid={server.pid} "
            f"started in {server.timings.start_seconds:.2f} s, "
            f"self-check {server.timings.self_check_seconds:.2f} s ({server.self_check})",
            flush=True,
        )
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
