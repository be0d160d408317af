"""What the simulated providers remember: renders, idempotency keys, what each provider charged,
counters, webhook deliveries and the inbox that captures callbacks posted to the simulator itself.

Renders finish ``latency_s`` after acceptance (per provider). Providers that send webhooks get a
timer that POSTs the completion notice, shaped by the render's webhook faults: to the render's
own callback URL unsigned (D-ID, and HeyGen's per-request ``callback_url``, which HeyGen does not
sign: heygen-com/heygen-cli gen/ai-clipping.go), and for HeyGen also to every endpoint
registered through ``POST /v3/webhooks/endpoints``, signed with that endpoint's secret.

Video URLs are presigned and expire like the providers' do: each answer hands out a URL valid
for the provider's ``url_ttl_s``, and ``/_files`` answers 403 once it has passed.
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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from tools.provider_sim.faults import PROVIDERS, Fault, FaultBook, FaultKind

# USD billed per accepted render second (list-price estimates, for the benchmark's cost figures).
PRICE_PER_SECOND = {"heygen": 0.10, "runwayml": 0.05, "did": 0.035}
# Which providers honour Idempotency-Key like their real API does (only HeyGen documents it).
HONOURS_IDEMPOTENCY = {"heygen": True, "runwayml": False, "did": False}
DEFAULT_LATENCY_S = 0.2
DEFAULT_HEYGEN_SECRET = "sim-heygen-webhook-secret"
# How long a handed-out video URL works. RunwayML: "ephemeral: they will expire within 24-48
# hours" (docs.dev.runwayml.com/assets/outputs). D-ID: presigned S3 URLs, a day in published
# answers (Expires about 86 400 s after the talk started). HeyGen: presigned, lifetime not
# published (heygen-cli re-fetches on 403, cmd/heygen/video_download.go); a day assumed.
URL_TTL_S = {"heygen": 86_400.0, "runwayml": 86_400.0, "did": 86_400.0}


@dataclass(slots=True, kw_only=True)
class ProviderConfig:
    latency_s: float = DEFAULT_LATENCY_S
    honour_idempotency: bool = False
    url_ttl_s: float = 86_400.0
    # Renders accepted per rolling day before submits answer 429 (RunwayML's tiers cap daily
    # generations: docs.dev.runwayml.com/usage/tiers); None: no cap.
    daily_cap: int | None = None
    # RunwayML avatars: seconds from creation to READY (PROCESSING until then), and whether they
    # end FAILED instead.
    avatar_ready_s: float = 0.0
    avatar_fails: bool = False
    # D-ID: whether ``config.stitch: true`` gives the source image's framing (the talk then has
    # the photo's frame) or is ignored (D-ID's documented default, a 512x512 face crop:
    # docs.d-id.com/reference/talks-overview). Not confirmed either way.
    honour_stitch: bool = True


@dataclass(slots=True, kw_only=True)
class Endpoint:
    """A HeyGen webhook endpoint registered through ``POST /v3/webhooks/endpoints``."""

    endpoint_id: str
    url: str
    events: list[str] | None
    secret: str

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events


def presign(url: str, *, now: float, ttl_s: float) -> str:
    """``url`` with the simulator's expiry (its clock) in the query, as a presigned URL."""
    return f"{url}?expires={now + ttl_s:.3f}"


def with_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in values]
    return urlunsplit(parts._replace(query=urlencode(query + list(values.items()))))


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
    title: str | None = None  # HeyGen's video title (its Video object's ``title``)
    width: int = 1280  # the frame and audio of the video file it serves (``tools.mp4``)
    height: int = 720
    audio: bool = True
    outcome: str = "success"  # success | failed | no_url | wrong_duration | silent | cancelled
    failure_code: str | None = None
    url_ttl_s: float = 86_400.0
    webhook_faults: list[Fault] = field(default_factory=list)

    def finished(self, now: float) -> bool:
        return now >= self.ready_at

    def delivered_duration(self) -> float:
        return self.duration_s / 3 if self.outcome == "wrong_duration" else self.duration_s

    def delivered_url(self, now: float) -> str | None:
        """The video URL handed out at ``now``: presigned, valid for ``url_ttl_s``."""
        if self.outcome == "no_url":
            return None
        return presign(self.video_url, now=now, ttl_s=self.url_ttl_s)

    def thumbnail_url(self, now: float) -> str:
        return presign(f"{self.video_url}.jpg", now=now, ttl_s=self.url_ttl_s)


@dataclass(slots=True, kw_only=True)
class Avatar:
    """A RunwayML avatar (``POST /v1/avatars``): PROCESSING until ``ready_at``, then READY or,
    when its provider config says so, FAILED."""

    avatar_id: str
    name: str
    created_at: str
    body: dict[str, Any]
    ready_at: float
    fails: bool = False

    def status(self, now: float) -> str:
        if now < self.ready_at:
            return "PROCESSING"
        return "FAILED" if self.fails else "READY"


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
        self.config = _default_config()
        self._timers: list[threading.Timer] = []
        self._reset_data()

    def _reset_data(self) -> None:
        self.renders: dict[str, dict[str, Render]] = {p: {} for p in PROVIDERS}
        self.idempotency: dict[str, dict[str, str]] = {p: {} for p in PROVIDERS}
        self.counters: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
        self.charged_usd: dict[str, float] = dict.fromkeys(PROVIDERS, 0.0)
        self.deliveries: list[dict[str, Any]] = []
        self.inbox: list[InboxEntry] = []
        self.endpoints: list[Endpoint] = []  # HeyGen's registered webhook endpoints
        self.avatars: dict[str, Avatar] = {}  # RunwayML's avatars, by id

    def reset(self) -> None:
        with self.lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self.faults.clear()
            self.config = _default_config()
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
        title: str | None = None,
        frame: tuple[int, int] = (1280, 720),
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
                title=title,
                width=frame[0],
                height=frame[1],
                url_ttl_s=config.url_ttl_s,
            )
            for fault in self.faults.take_all(provider, frozenset({FaultKind.RENDER_FAILED})):
                render.outcome = "failed"
                render.failure_code = fault.code
                self._fired(provider, fault)
            if render.outcome == "success":
                quality = self.faults.take(provider, frozenset({FaultKind.LOW_QUALITY}), None)
                if quality is not None:
                    modes = {"wrong_duration": "wrong_duration", "silent": "silent"}
                    render.outcome = modes.get(quality.mode or "", "no_url")
                    render.audio = render.outcome != "silent"  # a file without its voice
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

    def create_avatar(self, name: str, body: dict[str, Any], created_at: str) -> Avatar:
        with self.lock:
            config = self.config["runwayml"]
            avatar = Avatar(
                avatar_id=str(uuid.uuid4()),
                name=name,
                created_at=created_at,
                body=body,
                ready_at=self.clock() + config.avatar_ready_s,
                fails=config.avatar_fails,
            )
            self.avatars[avatar.avatar_id] = avatar
            self.counters["runwayml"]["avatars_created"] += 1
            return avatar

    def accepted_today(self, provider: str) -> int:
        """Renders accepted in the last 24 h of the simulator's clock."""
        with self.lock:
            since = self.clock() - 86_400.0
            return sum(1 for r in self.renders[provider].values() if r.accepted_at >= since)

    def cancel(self, provider: str, job_id: str) -> bool:
        """Cancel a running render (it ends now, cancelled); False when there is no such one."""
        with self.lock:
            render = self.renders[provider].get(job_id)
            if render is None:
                return False
            if not render.finished(self.clock()):
                render.outcome = "cancelled"
                render.ready_at = self.clock()
            self.counters[provider]["cancels"] += 1
            return True

    def titled(self, provider: str, part: str) -> list[Render]:
        """The renders whose title contains ``part``, oldest first."""
        with self.lock:
            found = [r for r in self.renders[provider].values() if part in (r.title or "")]
        return sorted(found, key=lambda r: r.accepted_at)

    def render(self, provider: str, job_id: str) -> Render | None:
        with self.lock:
            return self.renders[provider].get(job_id)

    def _fired(self, provider: str, fault: Fault) -> None:
        self.counters[provider][f"fault:{fault.kind.value}"] += 1

    def fired(self, provider: str, fault: Fault) -> None:
        with self.lock:
            self._fired(provider, fault)

    # --- webhooks --------------------------------------------------------------------------

    def register_endpoint(self, url: str, events: list[str] | None) -> Endpoint:
        """A HeyGen endpoint; its secret is the simulator's HeyGen secret (``whsec_``-style in
        production; ``--heygen-secret``)."""
        with self.lock:
            endpoint = Endpoint(
                endpoint_id=f"ep_{uuid.uuid4().hex[:12]}",
                url=url,
                events=events,
                secret=self.heygen_secret,
            )
            self.endpoints.append(endpoint)
            return endpoint

    def schedule_webhook(
        self, render: Render, build: Callable[[Render], bytes], *, event_type: str = ""
    ) -> None:
        """After the render finishes, POST the notice ``build`` makes to the render's callback
        URL (unsigned) and, for HeyGen, to each registered endpoint that wants ``event_type``
        (signed)."""
        targets: list[tuple[str, str | None]] = []
        if render.callback_url:
            targets.append((render.callback_url, None))
        if render.provider == "heygen":
            with self.lock:
                targets += [(e.url, e.secret) for e in self.endpoints if e.wants(event_type)]
        if not targets:
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
        timer = threading.Timer(delay, self._deliver, args=(render, build, copies, targets))
        timer.daemon = True
        with self.lock:
            self._timers.append(timer)
        timer.start()

    def _deliver(
        self,
        render: Render,
        build: Callable[[Render], bytes],
        copies: int,
        targets: list[tuple[str, str | None]],
    ) -> None:
        body = build(render)
        forged = any(f.kind is FaultKind.WEBHOOK_BAD_SIGNATURE for f in render.webhook_faults)
        for url, secret in targets:
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                # The signed delivery of a registered endpoint. The scheme (header name, hex
                # HMAC-SHA256 of the raw body) is an assumption: HeyGen's public material does
                # not confirm it, and CVPlus accepts no delivery on its strength.
                key = "not-the-endpoint-secret" if forged else secret
                headers["Signature"] = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            elif forged:
                # An unsigned callback is forged by its URL: the token is not ours.
                url = with_query(url, token="forged-" + uuid.uuid4().hex[:8])
            self._post(render, url, body, headers, copies)

    def _post(
        self, render: Render, url: str, body: bytes, headers: dict[str, str], copies: int
    ) -> None:
        for copy in range(copies):
            try:
                answer = httpx.post(url, content=body, headers=headers, timeout=5.0)
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
                    "url_ttl_s": self.config[p].url_ttl_s,
                    "daily_cap": self.config[p].daily_cap,
                    "honour_stitch": self.config[p].honour_stitch,
                }
                for p in PROVIDERS
            } | {"faults_armed": self.faults.armed(), "deliveries": list(self.deliveries)}


def _default_config() -> dict[str, ProviderConfig]:
    return {
        p: ProviderConfig(honour_idempotency=HONOURS_IDEMPOTENCY[p], url_ttl_s=URL_TTL_S[p])
        for p in PROVIDERS
    }


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
