"""Simulated RunwayML API: ``POST /v1/image_to_video``, ``GET /v1/tasks/{id}``,
``GET /v1/organization``. Polling only; no idempotency key honoured (Runway documents none), so
a second ``POST /v1/image_to_video`` is a second, billed task."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from tools.provider_sim.common import error_response, finish, request_fault, sim_state
from tools.provider_sim.faults import Fault, FaultKind

PROVIDER = "runwayml"
bp = Blueprint(PROVIDER, __name__, url_prefix="/runwayml")
RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}

_ERRORS = {
    FaultKind.SERVER_ERROR: (500, "An internal error occurred"),
    FaultKind.RATE_LIMIT: (429, "You have exceeded the rate limit"),
    FaultKind.AUTH: (401, "Invalid API key"),
    FaultKind.QUOTA: (400, "You do not have enough credits to run this task."),
    FaultKind.OVERLOAD: (503, "Runway is shedding load; try again later"),
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


@bp.post("/v1/image_to_video")
def image_to_video() -> Response:
    denied = _unauthorized()
    if denied is not None:
        return denied
    decision = request_fault(PROVIDER, "submit", shape)
    if decision.response is not None:
        return decision.response
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("model") or not body.get("promptImage"):
        return error_response(400, {"error": "model and promptImage are required"})
    if body.get("ratio") not in RATIOS:
        return error_response(400, {"error": f"ratio must be one of {sorted(RATIOS)}"})
    duration = body.get("duration", 10)
    if duration not in (5, 10):
        return error_response(400, {"error": "duration must be 5 or 10"})
    state = sim_state()
    cap = state.config[PROVIDER].daily_cap
    if cap is not None and state.accepted_today(PROVIDER) >= cap:
        # The tier's daily cap, answered 429 (docs.dev.runwayml.com/errors/errors); Runway
        # publishes no wording for it, so this one says nothing a client could key on: only
        # GET /v1/organization's usage tells it from a burst limit.
        state.count(PROVIDER, "daily_cap_refusals")
        return error_response(429, {"error": "You have exceeded the rate limit"})
    render, _ = state.accept(
        PROVIDER,
        idempotency_key=request.headers.get("Idempotency-Key"),
        duration_s=float(duration),
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
        "tier": {"maxMonthlyCreditSpend": 100, "models": {"gen4_turbo": model_limits}},
        "usage": {"models": {"gen4_turbo": {"dailyGenerations": state.accepted_today(PROVIDER)}}},
    }
    return finish(decision, jsonify(org))
