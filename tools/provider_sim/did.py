"""Simulated D-ID Talks API: ``POST /talks``, ``GET /talks/{id}``, ``GET /credits``, and the talk
object POSTed (unsigned) to the talk's ``webhook`` URL when it finishes. No idempotency: D-ID
documents none, so a second ``POST /talks`` is a second, billed talk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from tools.provider_sim.common import (
    error_response,
    finish,
    request_fault,
    sim_state,
    spoken_seconds,
)
from tools.provider_sim.faults import Fault, FaultKind
from tools.provider_sim.state import Render, dumps

PROVIDER = "did"
bp = Blueprint(PROVIDER, __name__, url_prefix="/did")

_ERRORS = {
    FaultKind.SERVER_ERROR: (500, "InternalServerError", "Internal server error"),
    FaultKind.RATE_LIMIT: (429, "TooManyRequestsError", "Too many requests"),
    FaultKind.AUTH: (401, "AuthorizationError", "Invalid credentials"),
    FaultKind.QUOTA: (402, "InsufficientCreditsError", "not enough credits"),
    FaultKind.OVERLOAD: (503, "ServiceUnavailableError", "Service unavailable"),
    # As D-ID answered a script it refused (docs.d-id.com/discuss/647b257c8824db0023dd5b9f).
    FaultKind.INVALID_REQUEST: (400, "BadRequestError", "Failed to validate script"),
}


def shape(kind: FaultKind, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, kind_name, message = _ERRORS[kind]
    headers = {"Retry-After": fault.retry_after or "2"} if kind is FaultKind.RATE_LIMIT else {}
    return fault.status or status, {"kind": kind_name, "description": message}, headers


def _unauthorized() -> Response | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic ") and len(auth) > len("Basic "):
        return None
    return error_response(401, {"kind": "AuthorizationError", "description": "Unauthorized"})


def talk(render: Render, now: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": render.job_id,
        "object": "talk",
        "created_at": datetime.now(UTC).isoformat(),
        "user_data": render.user_data,
    }
    if not render.finished(now):
        halfway = render.accepted_at + (render.ready_at - render.accepted_at) / 2
        body["status"] = "created" if now < halfway else "started"
    elif render.outcome == "failed":
        body["status"] = "error"
        body["error"] = {"kind": render.failure_code or "FaceError", "description": "No face found"}
    else:
        body |= {"status": "done", "duration": render.delivered_duration()}
        url = render.delivered_url(now)
        if url:
            body["result_url"] = url
    return body


def notice(render: Render) -> bytes:
    return dumps(talk(render, render.ready_at))


FACE_CROP = (512, 512)  # D-ID's default output (docs.d-id.com/reference/talks-overview)


def talk_frame(state: Any, body: dict[str, Any]) -> tuple[int, int]:
    """The talk's frame: the 512x512 face crop, unless ``config.stitch`` is asked and the
    simulator honours it (``honour_stitch``), when the talk has the presenter photo's frame.
    The simulator's photos are 1920x1080, or 1080x1920 for a source URL naming ``9x16``."""
    config = body.get("config")
    stitch = isinstance(config, dict) and config.get("stitch") is True
    if not (stitch and state.config[PROVIDER].honour_stitch):
        return FACE_CROP
    return (1080, 1920) if "9x16" in str(body.get("source_url")) else (1920, 1080)


@bp.post("/talks")
def create_talk() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "submit", shape)
    if decision.response is not None:
        return decision.response
    body = request.get_json(silent=True)
    script = body.get("script") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not body.get("source_url") or not isinstance(script, dict):
        return error_response(400, {"kind": "BadRequestError", "description": "Invalid body"})
    if script.get("type") != "text" or not script.get("input"):
        return error_response(
            400, {"kind": "BadRequestError", "description": "Failed to validate script"}
        )
    state = sim_state()
    render, new = state.accept(
        PROVIDER,
        idempotency_key=request.headers.get("Idempotency-Key"),
        duration_s=spoken_seconds(str(script["input"])),
        host_url=request.host_url,
        callback_url=body.get("webhook"),
        user_data=body.get("user_data"),
        frame=talk_frame(state, body),
        id_prefix="tlk_",
    )
    if new:
        state.schedule_webhook(render, notice)
    answer = jsonify({"id": render.job_id, "object": "talk", "status": "created"})
    answer.status_code = 201
    return finish(decision, answer)


@bp.get("/talks/<talk_id>")
def get_talk(talk_id: str) -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "status", shape)
    if decision.response is not None:
        return decision.response
    state = sim_state()
    render = state.render(PROVIDER, talk_id)
    if render is None:
        return finish(
            decision,
            error_response(404, {"kind": "NotFoundError", "description": "talk not found"}),
        )
    return finish(decision, jsonify(talk(render, state.clock())))


@bp.get("/credits")
def credits() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "probe", shape)
    if decision.response is not None:
        return decision.response
    return finish(decision, jsonify({"credits": [], "remaining": 100, "total": 100}))
