"""Simulated HeyGen API v3: ``POST /v3/videos``, ``GET /v3/videos/{id}``, ``GET /v3/videos``
(the list, filtered by title substring: heygen-com/heygen-cli gen/video.go:144-209),
``GET /v3/voices``,
``POST/GET /v3/webhooks/endpoints`` and ``DELETE /v3/webhooks/endpoints/{id}``, and
``avatar_video.success`` / ``avatar_video.fail`` webhooks: unsigned to the video's own
``callback_url`` (heygen-com/heygen-cli gen/ai-clipping.go: per-job deliveries "are NOT
HMAC-signed"), signed to registered endpoints. Registering validates the URL with an ``OPTIONS``
request under a 1 s timeout (docs.heygen.com/reference/add-a-webhook-endpoint, v1; assumed for
v3). Honours ``Idempotency-Key`` as HeyGen's create-video page documents (same key: same
video, no second charge), or ignores it (``honour_idempotency`` false, as HeyGen documents for
``POST /v3/background-removals``): whether ``POST /v3/videos`` honours it is not confirmed."""

from __future__ import annotations

from typing import Any

import httpx
from flask import Blueprint, Response, jsonify, request

from tools.provider_sim.common import (
    error_response,
    finish,
    request_fault,
    sim_state,
    spoken_seconds,
)
from tools.provider_sim.faults import Fault, FaultKind
from tools.provider_sim.state import Endpoint, Render, dumps

PROVIDER = "heygen"
bp = Blueprint(PROVIDER, __name__, url_prefix="/heygen")

_ERRORS = {
    FaultKind.SERVER_ERROR: (500, "internal_error", "Internal server error"),
    FaultKind.RATE_LIMIT: (429, "rate_limit_exceeded", "Too many requests"),
    FaultKind.AUTH: (401, "unauthorized", "Invalid API key"),
    FaultKind.QUOTA: (402, "insufficient_credit", "Insufficient credit to generate this video"),
    FaultKind.OVERLOAD: (503, "service_unavailable", "Service temporarily overloaded"),
    # Our stand-in for a refused script; the legacy docs list 400105 BLOCKED_WORDS_DETECTED
    # (docs.heygen.com/reference/errors), the v3 code string is not published.
    FaultKind.INVALID_REQUEST: (400, "invalid_parameter", "script: blocked words detected"),
}
# A 403 about a resource, not the key (heygen-cli internal/errors/errors.go:236-237).
_RESOURCE = (403, "resource_access_denied", "The authenticated user cannot access this avatar")


# A usage cap rather than a burst limit (fault quota, mode daily_cap): HeyGen's API code
# quota_exceeded (heygen-cli internal/errors/errors.go); the status and text are our stand-in.
_DAILY_CAP = (429, "quota_exceeded", "Daily rate limit exceeded")


def shape(kind: FaultKind, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    daily = kind is FaultKind.QUOTA and fault.mode == "daily_cap"
    status, code, message = _DAILY_CAP if daily else _ERRORS[kind]
    if kind is FaultKind.INVALID_REQUEST and fault.mode == "resource":
        status, code, message = _RESOURCE
    headers = {"Retry-After": fault.retry_after or "2"} if kind is FaultKind.RATE_LIMIT else {}
    return fault.status or status, {"error": {"code": code, "message": message}}, headers


def _unauthorized() -> Response | None:
    if request.headers.get("X-Api-Key"):
        return None
    return error_response(401, {"error": {"code": "unauthorized", "message": "Missing API key"}})


def event_type(render: Render) -> str:
    return "avatar_video.fail" if render.outcome == "failed" else "avatar_video.success"


def notice(render: Render) -> bytes:
    if render.outcome == "failed":
        data: dict[str, Any] = {
            "video_id": render.job_id,
            "msg": "Rendering failed: avatar could not be animated",
            "callback_id": render.callback_id,
        }
        event_type = "avatar_video.fail"
    else:
        data = {"video_id": render.job_id, "callback_id": render.callback_id}
        url = render.delivered_url(render.ready_at)
        if url:
            data["url"] = url
        event_type = "avatar_video.success"
    return dumps({"event_id": f"evt_{render.job_id}", "event_type": event_type, "event_data": data})


_SHORT_EDGE = {"720p": 720, "1080p": 1080, "4k": 2160}


def frame(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """The frame of a video asked in ``resolution`` and ``aspect_ratio`` (the request's
    fields, heygen-cli gen/video.go): the short edge is the resolution's."""
    short = _SHORT_EDGE.get(resolution, 1080)
    long = short * 16 // 9
    if aspect_ratio == "1:1":
        return (short, short)
    return (short, long) if aspect_ratio == "9:16" else (long, short)


@bp.post("/v3/videos")
def create_video() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "submit", shape)
    if decision.response is not None:
        return decision.response
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("type") != "avatar" or not body.get("script"):
        return error_response(
            400, {"error": {"code": "invalid_parameter", "message": "type avatar and script"}}
        )
    if not body.get("avatar_id") or not body.get("voice_id"):
        return error_response(
            400, {"error": {"code": "invalid_parameter", "message": "avatar_id and voice_id"}}
        )
    problem = _presentation_problem(body)
    if problem is not None:
        return error_response(400, {"error": {"code": "invalid_parameter", "message": problem}})
    state = sim_state()
    render, new = state.accept(
        PROVIDER,
        idempotency_key=request.headers.get("Idempotency-Key"),
        duration_s=spoken_seconds(str(body["script"])),
        host_url=request.host_url,
        callback_url=body.get("callback_url"),
        callback_id=body.get("callback_id"),
        title=body.get("title") if isinstance(body.get("title"), str) else None,
        frame=frame(
            str(body.get("resolution") or "1080p"), str(body.get("aspect_ratio") or "16:9")
        ),
    )
    if new:
        state.schedule_webhook(render, notice, event_type=event_type(render))
    return finish(decision, jsonify({"data": {"video_id": render.job_id}}))


# The documented values (heygen-com/heygen-cli gen/video.go:97, the POST /v3/videos schema).
_ASPECT_RATIOS = frozenset({"16:9", "9:16", "4:5", "5:4", "1:1", "auto"})
_RESOLUTIONS = frozenset({"4k", "1080p", "720p"})


def _presentation_problem(body: dict[str, Any]) -> str | None:
    """What of the body's framing, background and caption the schema refuses (None: fine)."""
    if body.get("aspect_ratio") not in (None, *_ASPECT_RATIOS):
        return "aspect_ratio"
    if body.get("resolution") not in (None, *_RESOLUTIONS):
        return "resolution"
    background = body.get("background")
    if background is not None:
        kind = background.get("type") if isinstance(background, dict) else None
        if kind == "color" and not isinstance(background.get("value"), str):
            return "background.value is required when type is 'color'"
        if kind == "image" and not (background.get("url") or background.get("asset_id")):
            return "background.url or background.asset_id"
        if kind not in ("color", "image"):
            return "background.type"
    caption = body.get("caption")
    if caption is not None:
        if not isinstance(caption, dict) or caption.get("file_format", "srt") != "srt":
            return "caption.file_format"
        if caption.get("style") not in (None, "default"):
            return "caption.style"
    return None


@bp.get("/v3/videos")
def list_videos() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "status", shape)  # the same API as a status read
    if decision.response is not None:
        return decision.response
    state = sim_state()
    limit = max(1, min(100, int(request.args.get("limit", "10"))))
    start = int(request.args.get("token") or "0")
    found = state.titled(PROVIDER, request.args.get("title", ""))
    page = found[start : start + limit]
    more = start + limit < len(found)
    data = [
        {
            "id": r.job_id,
            "title": r.title,
            "status": _status_name(r, state.clock()),
            "created_at": int(r.accepted_at),
        }
        for r in page
    ]
    answer = {"data": data, "has_more": more, "next_token": str(start + limit) if more else None}
    return finish(decision, jsonify(answer))


def _status_name(render: Render, now: float) -> str:
    if not render.finished(now):
        halfway = render.accepted_at + (render.ready_at - render.accepted_at) / 2
        return "pending" if now < halfway else "processing"
    return "failed" if render.outcome == "failed" else "completed"


@bp.get("/v3/videos/<video_id>")
def get_video(video_id: str) -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "status", shape)
    if decision.response is not None:
        return decision.response
    state = sim_state()
    render = state.render(PROVIDER, video_id)
    if render is None:
        return finish(
            decision,
            error_response(404, {"error": {"code": "not_found", "message": "No such video"}}),
        )
    now = state.clock()
    data: dict[str, Any] = {"id": video_id}
    if render.title is not None:
        data["title"] = render.title  # heygen-cli gen/video.go (Video object): ``title``
    if not render.finished(now):
        data["status"] = _status_name(render, now)
    elif render.outcome == "failed":
        data |= {"status": "failed", "failure_message": "Avatar could not be animated"}
        data["failure_code"] = render.failure_code or "render_failed"
    else:
        data |= {"status": "completed", "duration": render.delivered_duration()}
        data["video_url"] = render.delivered_url(now)
        data["thumbnail_url"] = render.thumbnail_url(now)
    return finish(decision, jsonify({"data": data}))


@bp.get("/v3/voices")
def list_voices() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "probe", shape)
    if decision.response is not None:
        return decision.response
    voices = [{"voice_id": "sim_voice", "name": "Simulated voice", "language": "English"}]
    return finish(decision, jsonify({"data": {"voices": voices, "has_more": False}}))


@bp.post("/v3/webhooks/endpoints")
def create_endpoint() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    body = request.get_json(silent=True)
    url = body.get("url") if isinstance(body, dict) else None
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return error_response(400, {"error": {"code": "invalid_parameter", "message": "url"}})
    if events is not None and not (
        isinstance(events, list) and all(isinstance(e, str) for e in events)
    ):
        return error_response(400, {"error": {"code": "invalid_parameter", "message": "events"}})
    try:
        check = httpx.options(url, timeout=1.0)
        valid = check.is_success
    except httpx.HTTPError:
        valid = False
    if not valid:
        return error_response(
            400,
            {"error": {"code": "invalid_parameter", "message": "url did not answer OPTIONS"}},
        )
    endpoint = sim_state().register_endpoint(url, events)
    return jsonify({"data": _endpoint(endpoint, secret=True)})


@bp.get("/v3/webhooks/endpoints")
def list_endpoints() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    state = sim_state()
    with state.lock:
        data = [_endpoint(e, secret=False) for e in state.endpoints]
    return jsonify({"data": data, "has_more": False})


@bp.delete("/v3/webhooks/endpoints/<endpoint_id>")
def delete_endpoint(endpoint_id: str) -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    state = sim_state()
    with state.lock:
        state.endpoints = [e for e in state.endpoints if e.endpoint_id != endpoint_id]
    return jsonify({"data": {"endpoint_id": endpoint_id}})


def _endpoint(endpoint: Endpoint, *, secret: bool) -> dict[str, Any]:
    """As HeyGen shows one: the secret only on creation (developers.heygen.com/docs/webhooks)."""
    return {
        "endpoint_id": endpoint.endpoint_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "status": "enabled",
        "secret": endpoint.secret if secret else None,
    }
