"""Simulated RunwayML API: avatars (``POST/GET /v1/avatars``, ``GET /v1/avatars/{id}``), avatar
videos (``POST /v1/avatar_videos``), ``GET``/``DELETE /v1/tasks/{id}``, ``GET /v1/organization``.
Polling only; no idempotency key honoured (Runway documents none), so a second ``POST
/v1/avatar_videos`` is a second, billed task, and a second ``POST /v1/avatars`` a second avatar
of the same name. An avatar is PROCESSING for the config's ``avatar_ready_s`` (then READY, or
FAILED with ``avatar_fails``); faults with op ``avatar`` hit the avatar routes."""

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
from tools.provider_sim.state import Avatar

PROVIDER = "runwayml"
bp = Blueprint(PROVIDER, __name__, url_prefix="/runwayml")

_ERRORS = {
    FaultKind.SERVER_ERROR: (500, "An internal error occurred"),
    FaultKind.RATE_LIMIT: (429, "You have exceeded the rate limit"),
    FaultKind.AUTH: (401, "Invalid API key"),
    FaultKind.QUOTA: (400, "You do not have enough credits to run this task."),
    FaultKind.OVERLOAD: (503, "Runway is shedding load; try again later"),
    # "400 validation (don't retry)" (runwayml/skills rw-api-reference/SKILL.md:392-399).
    FaultKind.INVALID_REQUEST: (400, "Validation of body failed: speech.text"),
}


# The tier's cap of generations per day (docs.dev.runwayml.com/usage/tiers), answered 429
# (docs.dev.runwayml.com/errors/errors); Runway publishes no text for it, this one is ours.
_DAILY_CAP = (429, "You have reached your daily limit of generations for this tier")


def shape(kind: FaultKind, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    daily = kind is FaultKind.QUOTA and fault.mode == "daily_cap"
    status, message = _DAILY_CAP if daily else _ERRORS[kind]
    headers = {"Retry-After": fault.retry_after or "2"} if kind is FaultKind.RATE_LIMIT else {}
    return fault.status or status, {"error": message}, headers


def _unauthorized() -> Response | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
        return error_response(401, {"error": "Missing or invalid API key"})
    if not request.headers.get("X-Runway-Version"):
        return error_response(400, {"error": "X-Runway-Version header is required"})
    return None


# The avatar's preset voices (runwayml/sdk-python types/avatar_create_params.py) and the avatar
# video's voice overrides (types/avatar_video_create_params.py): the same thirty ids.
VOICES = frozenset(
    {
        "victoria", "vincent", "clara", "drew", "skye", "max", "morgan", "felix", "mia",
        "marcus", "summer", "ruby", "aurora", "jasper", "leo", "adrian", "nina", "emma",
        "blake", "david", "maya", "nathan", "sam", "georgia", "petra", "adam", "zach",
        "violet", "roman", "luna",
    }
)  # fmt: skip
PRESET_AVATARS = frozenset(
    {
        "game-character", "music-superstar", "game-character-man", "cat-character",
        "influencer", "tennis-coach", "human-resource", "fashion-designer", "cooking-teacher",
    }
)  # fmt: skip
MODEL = "gwm1_avatars"


def _bad(message: str) -> Response:
    return error_response(400, {"error": message})


def _avatar_json(avatar: Avatar, now: float) -> dict[str, Any]:
    status = avatar.status(now)
    body: dict[str, Any] = {
        "id": avatar.avatar_id,
        "name": avatar.name,
        "status": status,
        "createdAt": avatar.created_at,
        "updatedAt": avatar.created_at,
        "personality": avatar.body.get("personality"),
        "referenceImageUri": avatar.body.get("referenceImage"),
        "processedImageUri": None,
        "documentIds": [],
        "startScript": None,
        "voice": avatar.body.get("voice"),
    }
    if status == "FAILED":
        body["failureReason"] = "The reference image could not be processed"
    return body


@bp.post("/v1/avatars")
def create_avatar() -> Response:
    """Every create makes a new avatar, whatever its name (Runway documents no uniqueness)."""
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "avatar", shape)
    if decision.response is not None:
        return decision.response
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("a JSON body is required")
    for name in ("name", "personality", "referenceImage"):
        if not isinstance(body.get(name), str) or not body[name]:
            return _bad(f"{name} is required")
    voice = body.get("voice")
    preset = isinstance(voice, dict) and voice.get("type") == "runway-live-preset"
    custom = isinstance(voice, dict) and voice.get("type") == "custom" and voice.get("id")
    if not custom and not (preset and isinstance(voice, dict) and voice.get("presetId") in VOICES):
        return _bad("voice must be a runway-live-preset voice or a custom voice")
    state = sim_state()
    avatar = state.create_avatar(str(body["name"]), body, datetime.now(UTC).isoformat())
    return finish(decision, jsonify(_avatar_json(avatar, state.clock())))


@bp.get("/v1/avatars")
def list_avatars() -> Response:
    """A cursor page, ``{data, nextCursor}`` (runwayml/sdk-python pagination.py); ``limit`` is
    required (types/avatar_list_params.py). Newest first."""
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "avatar", shape)
    if decision.response is not None:
        return decision.response
    try:
        limit = int(request.args["limit"])
        start = int(request.args.get("cursor") or 0)
    except (KeyError, ValueError):
        return _bad("limit is required")
    if not 1 <= limit <= 100:
        return _bad("limit must be between 1 and 100")
    state = sim_state()
    with state.lock:
        avatars = sorted(state.avatars.values(), key=lambda a: a.created_at, reverse=True)
    page = avatars[start : start + limit]
    more = start + limit < len(avatars)
    answer = {
        "data": [_avatar_json(a, state.clock()) for a in page],
        "nextCursor": str(start + limit) if more else None,
    }
    return finish(decision, jsonify(answer))


@bp.get("/v1/avatars/<avatar_id>")
def get_avatar(avatar_id: str) -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "avatar", shape)
    if decision.response is not None:
        return decision.response
    state = sim_state()
    avatar = state.avatars.get(avatar_id)
    if avatar is None:
        return finish(decision, error_response(404, {"error": "Avatar not found"}))
    return finish(decision, jsonify(_avatar_json(avatar, state.clock())))


def _speech_problem(speech: object) -> str | None:
    if not isinstance(speech, dict):
        return "speech is required"
    if speech.get("type") == "audio":
        return None if isinstance(speech.get("audio"), str) and speech["audio"] else "audio"
    if speech.get("type") != "text" or not isinstance(speech.get("text"), str):
        return "speech must be {type: text, text} or {type: audio, audio}"
    if not speech["text"].strip():
        return "speech.text must not be empty"
    voice = speech.get("voice")
    if voice is None:
        return None
    if not isinstance(voice, dict):
        return "speech.voice must be an object"
    if voice.get("type") == "preset" and voice.get("presetId") in VOICES:
        return None
    if voice.get("type") == "custom" and voice.get("id"):
        return None
    return "speech.voice must be a preset or custom voice"


@bp.post("/v1/avatar_videos")
def avatar_videos() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "submit", shape)
    if decision.response is not None:
        return decision.response
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("model") != MODEL:
        return _bad(f"model must be {MODEL}")
    state = sim_state()
    avatar = body.get("avatar")
    if isinstance(avatar, dict) and avatar.get("type") == "custom":
        known = state.avatars.get(str(avatar.get("avatarId")))
        if known is None:
            return _bad("avatar not found")
        if known.status(state.clock()) != "READY":
            return _bad("avatar is not ready")
    elif not (
        isinstance(avatar, dict)
        and avatar.get("type") == "runway-preset"
        and avatar.get("presetId") in PRESET_AVATARS
    ):
        return _bad("avatar must be a custom avatar or a runway-preset avatar")
    speech = body.get("speech")
    problem = _speech_problem(speech)
    if problem is not None:
        return _bad(problem)
    assert isinstance(speech, dict)
    # As long as the script takes to speak (an audio speech: a 30 s guess).
    spoken = spoken_seconds(speech["text"]) if speech.get("type") == "text" else 30.0
    cap = state.config[PROVIDER].daily_cap
    if cap is not None and state.accepted_today(PROVIDER) >= cap:
        # The tier's daily cap, answered 429 (docs.dev.runwayml.com/errors/errors); Runway
        # publishes no wording for it, so this one says nothing a client could key on (and
        # needs not: Runway documents no per-minute limit, so every 429 is this quota).
        state.count(PROVIDER, "daily_cap_refusals")
        return error_response(429, {"error": "You have exceeded the rate limit"})
    render, _ = state.accept(
        PROVIDER,
        idempotency_key=request.headers.get("Idempotency-Key"),
        duration_s=spoken,
        host_url=request.host_url,
    )
    return finish(decision, jsonify({"id": render.job_id}))


@bp.get("/v1/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "status", shape)
    if decision.response is not None:
        return decision.response
    state = sim_state()
    render = state.render(PROVIDER, task_id)
    if render is None:
        return finish(decision, error_response(404, {"error": "Task not found"}))
    now = state.clock()
    created = datetime.now(UTC).isoformat()
    task: dict[str, Any] = {"id": task_id, "createdAt": created}
    if not render.finished(now):
        progress = (now - render.accepted_at) / max(1e-9, render.ready_at - render.accepted_at)
        task |= {"status": "RUNNING", "progress": round(min(progress, 0.99), 2)}
    elif render.outcome == "cancelled":
        task |= {"status": "CANCELLED"}
    elif render.outcome == "failed":
        task |= {"status": "FAILED", "failure": "The generation failed"}
        task["failureCode"] = render.failure_code or "ASSET.INVALID"
    else:
        url = render.delivered_url(now)
        task |= {"status": "SUCCEEDED", "output": [url] if url else []}
        task["duration"] = render.delivered_duration()
    return finish(decision, jsonify(task))


@bp.delete("/v1/tasks/<task_id>")
def delete_task(task_id: str) -> Response:
    """Cancels a running task, deletes a finished one: 204 either way."""
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "cancel", shape)
    if decision.response is not None:
        return decision.response
    if not sim_state().cancel(PROVIDER, task_id):
        return finish(decision, error_response(404, {"error": "Task not found"}))
    return finish(decision, Response(status=204))


@bp.get("/v1/organization")
def organization() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "probe", shape)
    if decision.response is not None:
        return decision.response
    # The documented shape (runwayml/sdk-python types/organization_retrieve_response.py); tier 1
    # limits (docs.dev.runwayml.com/usage/tiers), the daily cap as configured (none: unbounded).
    state = sim_state()
    cap = state.config[PROVIDER].daily_cap
    model_limits = {"maxConcurrentGenerations": 1, "maxDailyGenerations": cap or 1_000_000}
    org = {
        "creditBalance": 10_000,
        "tier": {"maxMonthlyCreditSpend": 100, "models": {MODEL: model_limits}},
        "usage": {"models": {MODEL: {"dailyGenerations": state.accepted_today(PROVIDER)}}},
    }
    return finish(decision, jsonify(org))
