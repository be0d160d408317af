"""The simulator's Flask app: the three providers under /heygen, /runwayml and /did, the control
API under /_control, an inbox that records callbacks posted to /_inbox/<name>, and fake video files.

Control API:
  POST /_control/faults   {provider, fault, count|probability, op, skip, status, retry_after,
                           delay_s, mode, code, after_accept} or {"faults": [...]} -> 201 armed
  GET  /_control/faults   armed faults
  DELETE /_control/faults?provider=...   disarm that provider's faults (all without provider)
  GET  /_control/stats    per provider: charges, charged_usd, renders, counters; deliveries
  POST /_control/config   {provider, latency_s?, honour_idempotency?, url_ttl_s?, daily_cap?,
                           avatar_ready_s?, avatar_fails?, honour_stitch?}  (avatar_*: RunwayML's
                           avatars; honour_stitch: D-ID's config.stitch)
  POST /_control/reset    forget renders, charges, faults, inbox; restore default config
  GET  /_control/inbox    recorded callbacks (?name=...); OPTIONS /_inbox/<name> answers 200
  GET  /_files/...        a video; 403 once its presigned ``expires`` has passed
  GET  /_control/health   readiness
"""

from __future__ import annotations

import functools
import io
import json
import math
import wave
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from tools.mp4 import mp4
from tools.provider_sim import did, heygen, runwayml
from tools.provider_sim.common import error_response, sim_state
from tools.provider_sim.faults import PROVIDERS, Fault, FaultSpecError
from tools.provider_sim.state import InboxEntry, Render, SimState


def _tone(seconds: float = 4.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(
            bytes(
                128 + int(40 * math.sin(2 * math.pi * 440 * i / rate))
                for i in range(int(seconds * rate))
            )
        )
    return buffer.getvalue()


def create_app(state: SimState) -> Flask:
    app = Flask("provider_sim")
    app.config["SIM_STATE"] = state
    app.register_blueprint(heygen.bp)
    app.register_blueprint(runwayml.bp)
    app.register_blueprint(did.bp)
    _control_routes(app)
    return app


def apply_schedule(state: SimState, schedule: dict[str, Any]) -> list[Fault]:
    """Configure providers and arm faults from a schedule (the --schedule file's content)."""
    for provider, settings in dict(schedule.get("providers", {})).items():
        configure(state, {"provider": provider, **settings})
    return [state.faults.arm(Fault.from_spec(spec)) for spec in schedule.get("faults", [])]


def load_schedule(path: Path) -> dict[str, Any]:
    schedule = json.loads(path.read_text())
    if not isinstance(schedule, dict):
        raise FaultSpecError(f"{path}: a schedule is a JSON object with 'faults'")
    return schedule


def configure(state: SimState, spec: dict[str, Any]) -> None:
    provider = spec.get("provider")
    if provider not in PROVIDERS:
        raise FaultSpecError(f"unknown provider {provider!r}")
    with state.lock:
        config = state.config[provider]
        if "latency_s" in spec:
            config.latency_s = float(spec["latency_s"])
        if "honour_idempotency" in spec:
            config.honour_idempotency = bool(spec["honour_idempotency"])
        if "url_ttl_s" in spec:
            config.url_ttl_s = float(spec["url_ttl_s"])
        if "daily_cap" in spec:
            config.daily_cap = None if spec["daily_cap"] is None else int(spec["daily_cap"])
        if "avatar_ready_s" in spec:
            config.avatar_ready_s = float(spec["avatar_ready_s"])
        if "avatar_fails" in spec:
            config.avatar_fails = bool(spec["avatar_fails"])
        if "honour_stitch" in spec:
            config.honour_stitch = bool(spec["honour_stitch"])


def file_bytes(provider: str, name: str, render: Render | None = None) -> bytes:
    """What a file URL serves: a thumbnail's JPEG header, or for a video of a known render a
    real, tiny MP4 of the render's length, frame and audio (``tools.mp4``); for any other name
    a few seconds of a tone (WAV: a browser plays it; no frames)."""
    del provider
    if name.endswith(".jpg"):
        return b"\xff\xd8\xff\xe0"
    if render is None:
        return _tone()
    return _video(round(render.delivered_duration(), 3), render.width, render.height, render.audio)


@functools.lru_cache(maxsize=256)
def _video(seconds: float, width: int, height: int, audio: bool) -> bytes:
    return mp4(seconds, width=width, height=height, audio=audio)


def file_type(name: str, render: Render | None = None) -> str:
    if name.endswith(".jpg"):
        return "image/jpeg"
    return "video/mp4" if render is not None else "audio/wav"


def _control_routes(app: Flask) -> None:
    @app.get("/_control/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @app.post("/_control/faults")
    def arm_faults() -> Response:
        body = request.get_json(silent=True)
        specs = body.get("faults") if isinstance(body, dict) and "faults" in body else [body]
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            return error_response(400, {"error": "a fault spec object or {faults: [...]}"})
        try:
            faults = [Fault.from_spec(spec) for spec in specs]
        except FaultSpecError as exc:
            return error_response(400, {"error": str(exc)})
        armed = [sim_state().faults.arm(f).as_dict() for f in faults]
        response = jsonify({"armed": armed})
        response.status_code = 201
        return response

    @app.get("/_control/faults")
    def list_faults() -> Response:
        return jsonify({"armed": sim_state().faults.armed()})

    @app.delete("/_control/faults")
    def disarm_faults() -> Response:
        sim_state().faults.clear(request.args.get("provider"))
        return jsonify({"armed": sim_state().faults.armed()})

    @app.get("/_control/stats")
    def stats() -> Response:
        return jsonify(sim_state().stats())

    @app.post("/_control/config")
    def set_config() -> Response:
        body = request.get_json(silent=True)
        try:
            configure(sim_state(), body if isinstance(body, dict) else {})
        except (FaultSpecError, TypeError, ValueError) as exc:
            return error_response(400, {"error": str(exc)})
        return jsonify({"ok": True})

    @app.post("/_control/reset")
    def reset() -> Response:
        sim_state().reset()
        return jsonify({"ok": True})

    @app.get("/_control/inbox")
    def inbox() -> Response:
        name = request.args.get("name")
        state = sim_state()
        with state.lock:
            entries = [e.as_dict() for e in state.inbox if name is None or e.name == name]
        return jsonify({"entries": entries})

    @app.post("/_inbox/<path:name>")
    def receive(name: str) -> Response:
        state = sim_state()
        state.add_inbox(
            InboxEntry(
                name=name,
                body=request.get_data(),
                headers=dict(request.headers.items()),
                query=dict(request.args.items()),
                received_at=state.clock(),
            )
        )
        return jsonify({"received": True})

    @app.route("/_inbox/<path:name>", methods=["OPTIONS"])
    def validate(name: str) -> Response:
        return Response(b"", 200)  # how a webhook URL answers a provider's validation

    @app.get("/_files/<provider>/<name>")
    def video_file(provider: str, name: str) -> Response:
        try:
            expires = float(request.args.get("expires", ""))
        except ValueError:
            expires = float("-inf")  # presigned URLs only: no expiry, no access
        if sim_state().clock() > expires:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403, mimetype="text/xml")
        render = None
        if provider in PROVIDERS and name.endswith(".mp4"):
            render = sim_state().render(provider, name.removesuffix(".mp4"))
        return Response(file_bytes(provider, name, render), mimetype=file_type(name, render))
