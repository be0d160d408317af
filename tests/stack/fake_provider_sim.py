"""A stand-in for tools.provider_sim in the stack's own tests: same command line, one route."""

from __future__ import annotations

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/_control/health" else 404)
        self.end_headers()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = HTTPServer((args.host, args.port), _Health)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake provider_sim listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
