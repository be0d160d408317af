"""`python -m tools.stack up|down|status`: the local stack from a shell."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tools.stack._stack import REPO_ROOT, Stack, StackError, status, stop_from_pid_file
from tools.stack.config import StackConfigError
from tools.stack.processes import StackProcessError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="functions project")
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / "run", help="logs, pid file")
    parser.add_argument(
        "--wait", action="store_true", help="up: stay in the foreground; Ctrl-C stops the stack"
    )
    parser.add_argument("--no-provider-sim", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "status":
        parts = status(args.run_dir)
        if not parts:
            print("no stack recorded in", args.run_dir / "stack.json")
            return 1
        for part in parts:
            print(f"{part.name:13} pid {part.pid:<8} {'up' if part.alive else 'DOWN':5} {part.log}")
        return 0 if all(p.alive for p in parts) else 1
    if args.command == "down":
        survivors = stop_from_pid_file(args.run_dir)
        if survivors:
            print("still running after SIGKILL:", ", ".join(survivors), file=sys.stderr)
            return 1
        print("stack stopped")
        return 0

    try:
        stack = Stack(args.source, run_dir=args.run_dir, provider_sim=not args.no_provider_sim)
        stack.start()
    except (StackError, StackConfigError, StackProcessError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    config = stack.config
    print("stack up on 127.0.0.1 (project", config.project_id + ")")
    for name, endpoint in config.ports().items():
        print(f"  {name:12} {endpoint.address}")
    print("functions env:")
    for key, value in stack.functions_env.items():
        print(f"  {key}={value}")
    print("ready after (s):", ", ".join(f"{k} {v:.1f}" for k, v in stack.timings.items()))
    print("logs:", stack.run_dir)
    if not args.wait:
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    survivors = stack.stop()
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
