"""A stand-in for the emulator stack the dashboard talks to, quick enough for every browser
test: the page served through `functions.dashboard_page.asset`, an Identity Toolkit sign-in
endpoint, and the two callables answering through the REAL `admin.dashboard_answer` /
`admin.set_circuit` of the shell on in-memory stores. The figures are real too: a day of
metrics snapshots in the stored format, jobs run through `processing.process` against scripted
providers, breakers driven by the real SharedBreaker.

Only the providers (scripted), the accounts and the token check are fakes.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from functions.dashboard_page import asset, security_headers
from shared.adapters.providers import did, heygen, runwayml
from shared.adapters.providers.base import (
    RenderState,
)
from shared.adapters.stores import base as stores
from shared.core.breaker import ManualAction
from shared.core.errors import ErrorCategory
from shared.core.jobs import Job
from shared.core.model import Feature, VideoOptions
from shared.core.records import derived
from shared.core.tracking import MetricsSnapshot, Operation
from shared.shell import admin, health, processing
from shared.shell.context import Shell
from tests.support.fakes import Clock, ScriptedProvider
from tests.support.memory import memory_ports, memory_shell

HOUR = 3600.0
PROJECT = "cvplus-local"
REGION = "us-central1"


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    admin: bool = False


ADMIN = Account("ops-admin@cvplus.test", "admin-password-1", admin=True)
USER = Account("someone@cvplus.test", "user-password-1")


# Per provider: calls per hour, success rate at the start and the end of the day, mean latency
# (s) at the start and the end, quality of a delivered render.
HISTORY = {
    "heygen": (14, 0.97, 0.90, 9.0, 12.0, 9.2),
    "did": (9, 0.93, 0.95, 6.5, 5.5, 8.8),
    "runwayml": (5, 0.90, 0.96, 14.0, 11.0, 8.5),
}


@dataclass
class FakeWorld:
    """The shell over memory stores, with a day of history already in them."""

    shell: Shell
    providers: dict[str, ScriptedProvider]
    clock: Clock
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> None:
        """What a few seconds of traffic and the health check would change: live figures."""
        now = self.clock()
        for pid in ("heygen", "did"):
            ok = self.providers[pid].fail_submit is None
            self._snapshot(pid, now, ok, 5.0 + 4.0 * self.rng.random())
        health.health_check(self.shell)

    def _snapshot(self, pid: str, at: float, ok: bool, latency: float) -> None:
        caps = self.providers[pid].caps
        self.shell.ports.docs.add(
            stores.METRICS,
            MetricsSnapshot(
                provider_id=pid,
                at=at,
                operation=Operation.GENERATION,
                success=ok,
                response_time_s=latency if ok else latency / 3,
                quality=HISTORY[pid][5] + self.rng.uniform(-0.3, 0.3) if ok else None,
                cost=caps.price_per_video if ok else None,
                error_type=None if ok else ErrorCategory.PROVIDER_OVERLOAD.value,
            ).to_doc(),
        )


def build_world(*, seed: int = 7) -> FakeWorld:
    clock = Clock(now=None)
    providers = {
        c.provider_id: ScriptedProvider(
            c, state=RenderState.COMPLETED, can_cancel=False, render_s=None, echo_duration=True
        )
        for c in (heygen.CAPABILITIES, did.CAPABILITIES, runwayml.CAPABILITIES)
    }
    shell = memory_shell(
        memory_ports(providers=providers, clock=clock, rand=random.Random(seed).random)
    )
    world = FakeWorld(shell, providers, clock, rng=random.Random(seed))
    now = time.time()
    _write_history(world, now)
    _replay_incidents(world, now)
    clock.now = None
    with world.lock:
        health.health_check(world.shell)
    return world


def _write_history(world: FakeWorld, now: float) -> None:
    """A day of generation snapshots, as the shell writes them, with a drift per provider."""
    rng = world.rng
    for pid, (per_hour, sr0, sr1, lat0, lat1, _) in HISTORY.items():
        for h in range(24):
            frac = h / 23
            rate = sr0 + (sr1 - sr0) * frac
            latency = lat0 + (lat1 - lat0) * frac
            for _ in range(per_hour + rng.randint(-2, 2)):
                at = now - (24 - h) * HOUR + rng.uniform(0, HOUR - 1)
                if at > now - 4 * HOUR and h % 7 == 3:
                    continue  # a quiet hour now and then: gaps in the charts
                ok = rng.random() < rate
                world._snapshot(pid, at, ok, latency * rng.uniform(0.8, 1.2))


def _replay_incidents(world: FakeWorld, now: float) -> None:
    """Three hours ago D-ID's key was revoked; forty minutes ago HeyGen was overloaded for a
    while. Jobs run through the real service meanwhile; health checks drive recovery."""
    shell, clock, p = world.shell, world.clock, world.providers

    def run(job_id: str, at: float, options: VideoOptions = VideoOptions()) -> None:
        clock.now = at
        job = Job(
            job_id=job_id,
            created_at=at,
            deadline_at=at + 1800.0,
            user_id=f"user-{job_id[-2:]}",
            script="Hello, I am a data engineer with ten years of experience in pipelines.",
            options=options,
        )
        shell.ports.jobs.create(job, side=derived(None, job))
        for _ in range(20):
            current = processing.process(shell, job_id) or shell.ports.jobs.get(job_id)
            if current is None or current.terminal or current.next_action_at is None:
                break
            clock.now = max(clock.now or at, current.next_action_at) + 1.0

    def health_checks(start: float, count: int, every: float = 60.0) -> None:
        for k in range(count):
            clock.now = start + k * every
            health.health_check(shell)

    t = now - 3 * HOUR
    p["did"].fail(ErrorCategory.AUTHENTICATION)
    p["heygen"].fail(ErrorCategory.RATE_LIMIT)
    for k in range(4):
        run(f"vj_incident_did_{k:02d}", t + 60.0 * k)
    p["heygen"].fail(None)
    for k in range(3):
        run(f"vj_after_rate_limit_{k:02d}", t + 300.0 + 30.0 * k)
    health_checks(t + 400.0, 3, every=300.0)
    p["did"].fail(None)  # the key was rotated
    health_checks(t + 1800.0, 4, every=120.0)

    t = now - 40 * 60.0
    p["heygen"].fail(ErrorCategory.PROVIDER_OVERLOAD)
    for k in range(6):
        run(f"vj_incident_heygen_{k:02d}", t + 20.0 * k)
    # Custom avatars only HeyGen renders; these jobs may not fall back either.
    strict = VideoOptions(
        allow_fallback=False, features=frozenset({Feature.VOICE, Feature.CUSTOM_AVATAR})
    )
    for k in range(3):
        run(f"vj_custom_avatar_{k:02d}", t + 150.0 + 30.0 * k, strict)
    p["heygen"].fail(None)
    health_checks(t + 600.0, 5, every=90.0)


@dataclass(frozen=True, slots=True)
class Stack:
    """Where a browser finds the dashboard: the page, the sign-in API, the callables."""

    page_url: str
    auth_base: str
    functions_base: str
    api_key: str
    admin: Account
    user: Account
    audit_name: str = ""  # how setCircuitState records the admin ("by"); default: the email
    live_traffic: bool = False  # figures move between refreshes (the fake adds traffic)
    day_of_history: bool = False  # 24 h of metrics: the charts draw lines, not just points
    screenshot: str = "dashboard.png"  # saved under run/ by the admin's test
    failed_job_ids: tuple[str, ...] = ()  # jobs the page must list as failed
    # Without live traffic: makes some (a job, then the health check) while the page is open.
    more_traffic: Callable[[], None] | None = None

    @property
    def admin_by(self) -> str:
        return self.audit_name or self.admin.email

    def dashboard_url(self, *, refresh_s: float = 1.0) -> str:
        from urllib.parse import urlencode

        query = urlencode(
            {
                "auth": self.auth_base,
                "functions": self.functions_base,
                "key": self.api_key,
                "refresh": f"{refresh_s:g}",
            }
        )
        return f"{self.page_url}?{query}"


def create_app(world: FakeWorld, accounts: tuple[Account, ...] = (ADMIN, USER)) -> Flask:
    app = Flask("fake_stack")
    tokens: dict[str, Account] = {}
    by_email = {a.email: a for a in accounts}

    @app.after_request
    def cors(response: Response) -> Response:
        # The page and the APIs sit on different origins, as in production.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    @app.get("/dashboard")
    @app.get("/dashboard/")
    @app.get("/dashboard/<name>")
    def page(name: str = "") -> Response:
        found = asset(name)
        if found is None:
            return Response("not found", status=404, mimetype="text/plain")
        body, content_type = found
        # Page and APIs on two loopback ports, as in the emulator.
        headers = security_headers(emulator=True)
        return Response(body, content_type=content_type, headers=headers)

    @app.route("/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword", methods=["POST"])
    def sign_in() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        account = by_email.get(str(body.get("email")))
        if (
            not request.args.get("key")
            or account is None
            or body.get("password") != (account.password)
        ):
            error = {"code": 400, "message": "INVALID_LOGIN_CREDENTIALS"}
            return jsonify({"error": error}), 400
        token = secrets.token_urlsafe(24)
        tokens[token] = account
        return jsonify(
            {
                "kind": "identitytoolkit#VerifyPasswordResponse",
                "localId": account.email.split("@")[0],
                "email": account.email,
                "idToken": token,
                "refreshToken": secrets.token_urlsafe(24),
                "expiresIn": "3600",
                "registered": True,
            }
        ), 200

    def callable_fn(fn: Callable[[Account, dict[str, Any]], object]) -> tuple[Response, int]:
        auth = request.headers.get("Authorization", "")
        account = tokens.get(auth.removeprefix("Bearer ").strip())
        if account is None:
            return _error("UNAUTHENTICATED", "sign in first", 401)
        if not account.admin:
            return _error("PERMISSION_DENIED", "admins only", 403)
        data = (request.get_json(silent=True) or {}).get("data") or {}
        if not isinstance(data, dict):
            return _error("INVALID_ARGUMENT", "data must be an object", 400)
        try:
            with world.lock:
                return jsonify({"result": fn(account, data)}), 200
        except ValueError as exc:
            return _error("INVALID_ARGUMENT", str(exc), 400)

    base = f"/{PROJECT}/{REGION}"

    @app.route(f"{base}/systemDashboard", methods=["POST"])
    def system_dashboard() -> tuple[Response, int]:
        def answer(_: Account, __: dict[str, Any]) -> object:
            world.tick()
            return admin.dashboard_answer(world.shell)

        return callable_fn(answer)

    @app.route(f"{base}/setCircuitState", methods=["POST"])
    def set_circuit_state() -> tuple[Response, int]:
        def answer(account: Account, data: dict[str, Any]) -> object:
            pid, action, reason = data.get("providerId"), data.get("action"), data.get("reason")
            if pid not in world.providers:
                raise ValueError(f"unknown provider {pid!r}")
            if action not in {a.value for a in ManualAction}:
                raise ValueError("action must be open, close or reset")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
                raise ValueError("a reason (1-500 characters) is required")
            transition = admin.set_circuit(
                world.shell, str(pid), ManualAction(action), by=account.email, reason=reason.strip()
            )
            state = world.shell.ports.breakers.state(str(pid), now=world.clock(), fresh=True)
            return {
                "providerId": pid,
                "circuitState": state.state.value,
                "changed": transition is not None,
            }

        return callable_fn(answer)

    @app.route(f"{base}/<name>", methods=["OPTIONS"])
    @app.route("/identitytoolkit.googleapis.com/v1/<name>", methods=["OPTIONS"])
    def preflight(name: str) -> Response:
        return Response(status=204)

    return app


def _error(status: str, message: str, http: int) -> tuple[Response, int]:
    return jsonify({"error": {"status": status, "message": message}}), http


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def fake_stack() -> Iterator[Stack]:
    """The page on one origin, sign-in and callables on another."""
    app = create_app(build_world())
    with serve(app) as page_origin, serve(app) as api_origin:
        yield Stack(
            page_url=f"{page_origin}/dashboard",
            auth_base=f"{api_origin}/identitytoolkit.googleapis.com",
            functions_base=f"{api_origin}/{PROJECT}/{REGION}",
            api_key="fake-api-key",
            admin=ADMIN,
            user=USER,
            live_traffic=True,
            day_of_history=True,
            screenshot="dashboard-fake.png",
        )
