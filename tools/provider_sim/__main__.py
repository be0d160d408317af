"""Run the provider simulator: ``python -m tools.provider_sim --port N [--schedule file.json]``.

Prints ``provider_sim listening on http://HOST:PORT`` once it accepts connections (with
``--port 0`` that line tells the caller the port). Stop it with SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from tools.provider_sim.app import apply_schedule, create_app, load_schedule
from tools.provider_sim.state import DEFAULT_HEYGEN_SECRET, SimState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.provider_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface (loopback by default)")
    parser.add_argument("--port", type=int, default=8790, help="0 picks a free port")
    parser.add_argument("--schedule", type=Path, help="fault-schedule JSON file")
    parser.add_argument("--seed", type=int, default=None, help="seed for probabilistic faults")
    parser.add_argument(
        "--heygen-secret",
        default=os.environ.get("HEYGEN_WEBHOOK_SECRET") or DEFAULT_HEYGEN_SECRET,
        help="secret of registered HeyGen endpoints, which sign their deliveries with it "
        "(default: $HEYGEN_WEBHOOK_SECRET)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    schedule = load_schedule(args.schedule) if args.schedule is not None else {}
    seed = args.seed if args.seed is not None else schedule.get("seed")
    state = SimState(heygen_secret=args.heygen_secret, seed=seed)
    apply_schedule(state, schedule)
    server = make_server(args.host, args.port, create_app(state), threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"provider_sim listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.reset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
