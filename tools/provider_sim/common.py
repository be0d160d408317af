"""Pieces every simulated provider uses: applying a request fault in the provider's own error
shape, answering slowly or not at all, and estimating how long a narrated script runs."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request

from tools.provider_sim.faults import REQUEST_FAULTS, Fault, FaultKind
from tools.provider_sim.state import SimState

WORDS_PER_SECOND = 2.5  # a calm presenter, about 150 words a minute

# (status, JSON body, extra headers) for an error fault, in the provider's own format.
ErrorShape = Callable[[FaultKind, Fault], tuple[int, dict[str, Any], dict[str, str]]]


def sim_state() -> SimState:
    state: SimState = current_app.config["SIM_STATE"]
    return state


def spoken_seconds(script: str) -> float:
    return round(len(script.split()) / WORDS_PER_SECOND, 1)


@dataclass(slots=True)
class Decision:
    """What a request fault decided: answer now with ``response``, or shape the answer (``after``:
    a slow or dropped answer, applied once the request has done its work)."""

    response: Response | None = None
    after: Fault | None = None


def request_fault(provider: str, op: str, shape: ErrorShape) -> Decision:
    state = sim_state()
    state.count(provider, f"requests:{op}")
    fault = state.faults.take(provider, REQUEST_FAULTS, op)
    if fault is None:
        return Decision()
    state.fired(provider, fault)
    if fault.kind is FaultKind.MALFORMED:
        return Decision(
            response=Response(b"<html>502 upstream</html>", 200, mimetype="application/json")
        )
    # A dropped create (a render, a RunwayML avatar) may be dropped after it was made.
    if fault.kind is FaultKind.DROP and not (op in {"submit", "avatar"} and fault.after_accept):
        return Decision(response=drop_connection())
    if fault.kind in {FaultKind.SLOW, FaultKind.DROP}:
        return Decision(after=fault)
    status, body, headers = shape(fault.kind, fault)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return Decision(response=response)


def finish(decision: Decision, response: Response) -> Response:
    """Deliver ``response`` as the fault decided: after a delay, or not at all."""
    fault = decision.after
    if fault is None:
        return response
    if fault.kind is FaultKind.SLOW:
        time.sleep(fault.delay_s)
        return response
    return drop_connection()


def drop_connection() -> Response:
    """Close the client's connection without an answer. Shutting the socket down makes the
    server's write fail with a broken pipe, which werkzeug treats as a dropped connection."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already gone: nothing more to drop
            sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", 500)


def error_response(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
