"""What the simulated providers remember: renders, idempotency keys, what each provider charged,
counters, webhook deliveries and the inbox that captures callbacks posted to the simulator itself.

Renders finish ``latency_s`` after acceptance (per provider). Providers that send webhooks get a
timer that POSTs the completion notice, shaped by the render's webhook faults.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tools.provider_sim.faults import PROVIDERS, Fault, FaultBook, FaultKind

# USD billed per accepted render second (list-price estimates, for the benchmark's cost figures).
PRICE_PER_SECOND = {"heygen": 0.10, "runwayml": 0.05, "did": 0.035}
# Which providers honour Idempotency-Key like their real API does (only HeyGen documents it).
HONOURS_IDEMPOTENCY = {"heygen": True, "runwayml": False, "did": False}
DEFAULT_LATENCY_S = 0.2
DEFAULT_HEYGEN_SECRET = "sim-heygen-webhook-secret"


@dataclass(slots=True, kw_only=True)
class ProviderConfig:
    latency_s: float = DEFAULT_LATENCY_S
    honour_idempotency: bool = False


@dataclass(slots=True, kw_only=True)
class Render:
    provider: str
    job_id: str
    accepted_at: float
    ready_at: float
    duration_s: float
    video_url: str
    callback_url: str | None = None
    callback_id: str | None = None
    user_data: str | None = None
    outcome: str = "success"  # success | failed | no_url | wrong_duration
    failure_code: str | None = None
    webhook_faults: list[Fault] = field(default_factory=list)

    def finished(self, now: float) -> bool:
        return now >= self.ready_at

    def delivered_duration(self) -> float:
        return self.duration_s / 3 if self.outcome == "wrong_duration" else self.duration_s

    def delivered_url(self) -> str | None:
        return None if self.outcome == "no_url" else self.video_url


@dataclass(slots=True, kw_only=True)
class InboxEntry:
    name: str
    body: bytes
    headers: dict[str, str]
    query: dict[str, str]
    received_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "body": self.body.decode("utf-8", errors="replace"),
            "headers": self.headers,
            "query": self.query,
            "received_at": self.received_at,
        }


class SimState:
    def __init__(
        self,
        *,
        heygen_secret: str = DEFAULT_HEYGEN_SECRET,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.heygen_secret = heygen_secret
        self.faults = FaultBook(seed=seed)
        self.config = {
            p: ProviderConfig(honour_idempotency=HONOURS_IDEMPOTENCY[p]) for p in PROVIDERS
        }
        self._timers: list[threading.Timer] = []
        self._reset_data()

    def _reset_data(self) -> None:
        self.renders: dict[str, dict[str, Render]] = {p: {} for p in PROVIDERS}
        self.idempotency: dict[str, dict[str, str]] = {p: {} for p in PROVIDERS}
        self.counters: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self.charged_usd: dict[str, float] = dict.fromkeys(PROVIDERS, 0.0)
        self.deliveries: list[dict[str, Any]] = []
        self.inbox: list[InboxEntry] = []

    def reset(self) -> None:
        with self.lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self.faults.clear()
            self.config = {
                p: ProviderConfig(honour_idempotency=HONOURS_IDEMPOTENCY[p]) for p in PROVIDERS
            }
            self._reset_data()

    def count(self, provider: str, name: str) -> None:
        with self.lock:
            self.counters[provider][name] += 1

    # --- renders ---------------------------------------------------------------------------

    def accept(
        self,
        provider: str,
        *,
        idempotency_key: str | None,
        duration_s: float,
        host_url: str,
        callback_url: str | None = None,
        callback_id: str | None = None,
        user_data: str | None = None,
        id_prefix: str = "",
    ) -> tuple[Render, bool]:
        """Accept a render, or replay the one this idempotency key made. True when new (billed)."""
        with self.lock:
            config = self.config[provider]
            if idempotency_key and config.honour_idempotency:
                known = self.idempotency[provider].get(idempotency_key)
                if known is not None:
                    self.counters[provider]["idempotent_replays"] += 1
                    return self.renders[provider][known], False
            job_id = f"{id_prefix}{uuid.uuid4().hex[:20]}"
            now = self.clock()
            render = Render(
                provider=provider,
                job_id=job_id,
                accepted_at=now,
                ready_at=now + config.latency_s,
                duration_s=duration_s,
                video_url=f"{host_url.rstrip('/')}/_files/{provider}/{job_id}.mp4",
                callback_url=callback_url,
                callback_id=callback_id,
                user_data=user_data,
            )
            for fault in self.faults.take_all(provider, frozenset({FaultKind.RENDER_FAILED})):
                render.outcome = "failed"
                render.failure_code = fault.code
                self._fired(provider, fault)
            if render.outcome == "success":
                quality = self.faults.take(provider, frozenset({FaultKind.LOW_QUALITY}), None)
                if quality is not None:
                    render.outcome = (
                        "wrong_duration" if quality.mode == "wrong_duration" else "no_url"
                    )
                    self._fired(provider, quality)
            render.webhook_faults = self.faults.take_all(
                provider,
                frozenset(
                    {
                        FaultKind.WEBHOOK_LOST,
                        FaultKind.WEBHOOK_DUPLICATE,
                        FaultKind.WEBHOOK_LATE,
                        FaultKind.WEBHOOK_BAD_SIGNATURE,
                    }
                ),
            )
            for fault in render.webhook_faults:
                self._fired(provider, fault)
            self.renders[provider][job_id] = render
            if idempotency_key and config.honour_idempotency:
                self.idempotency[provider][idempotency_key] = job_id
            self.counters[provider]["charges"] += 1
            self.charged_usd[provider] += PRICE_PER_SECOND[provider] * duration_s
            return render, True

    def render(self, provider: str, job_id: str) -> Render | None:
        with self.lock:
            return self.renders[provider].get(job_id)

    def _fired(self, provider: str, fault: Fault) -> None:
        self.counters[provider][f"fault:{fault.kind.value}"] += 1

    def fired(self, provider: str, fault: Fault) -> None:
        with self.lock:
            self._fired(provider, fault)

    # --- webhooks --------------------------------------------------------------------------

    def schedule_webhook(self, render: Render, build: Callable[[Render], bytes]) -> None:
        """After the render finishes, POST the notice ``build`` makes (HeyGen's signed)."""
        if not render.callback_url:
            return
        kinds = {f.kind for f in render.webhook_faults}
        if FaultKind.WEBHOOK_LOST in kinds:
            self.count(render.provider, "webhooks_lost")
            return
        late = max(
            (f.delay_s for f in render.webhook_faults if f.kind is FaultKind.WEBHOOK_LATE),
            default=0.0,
        )
        copies = 2 if FaultKind.WEBHOOK_DUPLICATE in kinds else 1
        delay = max(0.0, render.ready_at - self.clock()) + late
        timer = threading.Timer(delay, self._deliver, args=(render, build, copies))
        timer.daemon = True
        with self.lock:
            self._timers.append(timer)
        timer.start()

    def _deliver(self, render: Render, build: Callable[[Render], bytes], copies: int) -> None:
        body = build(render)
        headers = {"Content-Type": "application/json"}
        if render.provider == "heygen":
            bad = any(f.kind is FaultKind.WEBHOOK_BAD_SIGNATURE for f in render.webhook_faults)
            secret = "not-the-configured-secret" if bad else self.heygen_secret
            headers["Signature"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert render.callback_url is not None
        for copy in range(copies):
            try:
                answer = httpx.post(render.callback_url, content=body, headers=headers, timeout=5.0)
                outcome: int | str = answer.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with self.lock:
                self.counters[render.provider]["webhooks_sent"] += 1
                self.deliveries.append(
                    {
                        "provider": render.provider,
                        "job_id": render.job_id,
                        "copy": copy,
                        "answer": outcome,
                    }
                )

    def add_inbox(self, entry: InboxEntry) -> None:
        with self.lock:
            self.inbox.append(entry)

    # --- reporting -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                p: {
                    "charges": self.counters[p]["charges"],
                    "charged_usd": round(self.charged_usd[p], 4),
                    "renders": len(self.renders[p]),
                    "counters": dict(self.counters[p]),
                    "latency_s": self.config[p].latency_s,
                    "honour_idempotency": self.config[p].honour_idempotency,
                }
                for p in PROVIDERS
            } | {"faults_armed": self.faults.armed(), "deliveries": list(self.deliveries)}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
