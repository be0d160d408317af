"""HeyGen API v3: the whole wire format of HeyGen in one module (submit, status, probe, webhook).

Checked against (2026-11-29, via the stored-docs search):
- developers.heygen.com/reference/create-video(.md) — ``POST /v3/videos`` with ``type: "avatar"``,
  ``avatar_id``, ``script``, ``voice_id``, ``title``, ``resolution`` (720p/1080p/4k),
  ``aspect_ratio`` (16:9, 9:16), ``callback_url``, ``callback_id`` (echoed in the webhook).
- developers.heygen.com/generate-avatar-video — ``GET /v3/videos/{video_id}``; status
  pending | processing | completed | failed; ``video_url``; ``failure_message``.
- developers.heygen.com/docs/quick-start — ``X-Api-Key`` header; answers wrapped in ``data``.
- developers.heygen.com/reference/rotate-webhook-signing-secret — the ``Idempotency-Key`` header:
  1-255 chars ``[A-Za-z0-9_:.-]``, replays the original answer for 24 h, a retry while the first
  is in flight gets ``409 request_in_progress``.
- docs.heygen.com/docs/using-heygens-webhook-events — webhook body
  ``{event_type, event_data: {video_id, url | msg, callback_id}}``, events ``avatar_video.success``
  / ``avatar_video.fail``; github heygen-com/skills references/api-reference.md adds ``event_id``
  and ``video_url`` to the v3 payload and lists v3 ``GET /v3/voices`` (used as probe, ``limit=1``).
- github heygen-com/heygen-cli internal/errors/api_error.go, codes.go, errors.go — the v3 error
  envelope ``{"error": {"code", "message", "param", "doc_url"}}`` and codes ``insufficient_credit``,
  ``unauthorized``, ``forbidden``, ``rate_limit_exceeded``/``rate_limited``, ``not_found``,
  ``validation_error``, ``invalid_parameter``, ``conflict``; internal/client/retry.go — HeyGen's
  own client retries 429, 500, 502, 503 and 504 (so overload is a 503; HeyGen shows no 529).

Not confirmed (the stored copy of developers.heygen.com/docs/webhooks is cut before its
"Verifying Payloads" section): the signature header name and encoding. We verify the header
``Signature`` = lowercase hex HMAC-SHA256 of the raw body under the endpoint secret, as HeyGen's
earlier webhook docs described; third-party code also shows ``X-HeyGen-Signature``, which is
accepted as an alias. The HTTP status HeyGen pairs with ``insufficient_credit`` (the simulator
uses 402); the account-info path (we probe ``/v3/voices`` instead). Unknown codes fall back to
the HTTP status.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import replace

import httpx

from shared.errors import ErrorCategory, ProviderError, Signal
from shared.model import AspectRatio, Capabilities, Feature, Resolution
from shared.providers._http import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_RESPONSE_BYTES,
    RENDER_ID,
    HttpAdapter,
    JSONObject,
    check_render_id,
    id_path,
    load_json,
    malformed,
    num_field,
    obj_field,
    parse_hosts,
    quota_wording,
    render_status,
    str_field,
)
from shared.providers.base import (
    ProbeResult,
    RenderState,
    RenderStatus,
    Submission,
    SubmitRequest,
    WebhookError,
    WebhookEvent,
    WebhookRequest,
)

PROVIDER_ID = "heygen"
# Placeholders: no real avatar or voice has these ids, so a video asked with them fails. Only
# the emulator or the simulator may run with them (shared.providers.placeholder_problems).
DEFAULT_AVATAR_ID = "default_avatar"
DEFAULT_VOICE_ID = "default_voice"
DEFAULT_BASE_URL = "https://api.heygen.com"
# Timeouts from HeyGen's own client (heygen-com/heygen-cli cmd/heygen/timeouts.go, commit
# 7699a8e): reads have a server p99 under 2 s and get the client's 30 s default; POST /v3/videos
# runs to a p99 of about 31 s (Datadog, 30-day window), so every write gets 120 s, about four
# times that. A shorter submit timeout gives up on renders HeyGen is about to accept; the
# Idempotency-Key makes the retry of such a submit a replay, not a second render.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
SUBMIT_P99_S = 31.0
SUBMIT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
SUBMIT_DEADLINE_S = 120.0
# Where HeyGen serves videos and thumbnails: presigned URLs on files2.heygen.ai,
# dynamic.heygen.ai and resource2.heygen.ai in published v3/v1 answers (heygen-com/heygen-cli
# gen/video.go documents ``video_url`` as a presigned URL; the hosts come from example
# answers, not a published list), so every subdomain of heygen.ai. Override with
# HEYGEN_MEDIA_HOSTS (comma-separated; ``.example.com`` admits subdomains).
DEFAULT_MEDIA_HOSTS = (".heygen.ai",)
SIGNATURE_HEADER = "Signature"
SIGNATURE_HEADER_ALIASES = ("X-HeyGen-Signature",)

CAPABILITIES = Capabilities(
    provider_id=PROVIDER_ID,
    priority=1,
    features=frozenset({Feature.VOICE, Feature.LIP_SYNC, Feature.CUSTOM_AVATAR}),
    max_duration_s=300,
    resolutions=frozenset({Resolution.P720, Resolution.P1080}),
    aspect_ratios=frozenset({AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT}),
    # List price of an avatar video, $0.10 per second (heygen-com/skills pricing table), at 60 s.
    price_per_video=6.00,
    concurrency_limit=10,  # plan-dependent; not published per key
    typical_render_s=120.0,
)

# HeyGen's own error codes (``error.code`` in v3 answers) -> category; wins over the HTTP status.
CODE_CATEGORIES: Mapping[str, ErrorCategory] = {
    "insufficient_credit": ErrorCategory.QUOTA_EXCEEDED,
    # An API code next to rate_limit_exceeded in heygen-cli internal/errors/errors.go. HeyGen's
    # CLI retries it like a rate limit; here it moves the job to another provider instead of
    # spending its attempts on a cap of unknown length (a 429 is never billed either way).
    "quota_exceeded": ErrorCategory.QUOTA_EXCEEDED,
    "rate_limit_exceeded": ErrorCategory.RATE_LIMIT,
    "rate_limited": ErrorCategory.RATE_LIMIT,
    "unauthorized": ErrorCategory.AUTHENTICATION,
    "forbidden": ErrorCategory.AUTHENTICATION,
    "request_in_progress": ErrorCategory.TRANSIENT,  # 409 on a concurrent idempotent retry
}

_STATES = {
    "pending": RenderState.PENDING,
    "waiting": RenderState.PENDING,
    "processing": RenderState.PROCESSING,
    "completed": RenderState.COMPLETED,
}


def read_code(status: int, body: JSONObject | None) -> tuple[str | None, ErrorCategory | None, str]:
    """HeyGen error bodies: v3 ``{"error": {"code", "message"}}``; v1/v2 ``{"code", "message"}``."""
    error = obj_field(body, "error")
    source = error if error is not None else body
    code = str_field(source, "code")
    message = str_field(source, "message") or str_field(body, "message") or ""
    category = CODE_CATEGORIES.get(code.lower()) if code else None
    if status == 429 and category in (None, ErrorCategory.RATE_LIMIT) and quota_wording(message):
        # "Daily rate limit exceeded" (HeyGen's plan limits, docs.heygen.com discussions) is a
        # cap for the day, not a burst limit: retrying in seconds cannot help.
        category = ErrorCategory.QUOTA_EXCEEDED
    return code, category, message


def sign(body: bytes, secret: str) -> str:
    """The signature HeyGen puts on a webhook: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HeyGenProvider(HttpAdapter):
    provider_id = PROVIDER_ID

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None,
        base_url: str = DEFAULT_BASE_URL,
        avatar_id: str = DEFAULT_AVATAR_ID,
        voice_id: str = DEFAULT_VOICE_ID,
        media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        submit_timeout: httpx.Timeout = SUBMIT_TIMEOUT,
        submit_deadline_s: float = SUBMIT_DEADLINE_S,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            auth_headers={"X-Api-Key": api_key},
            timeout=timeout,
            media_hosts=media_hosts,
            deadline_s=deadline_s,
            max_response_bytes=max_response_bytes,
            limits=limits,
            transport=transport,
        )
        self._webhook_secret = webhook_secret or None
        self._submit_timeout = submit_timeout
        self._submit_deadline_s = submit_deadline_s
        self._avatar_id = avatar_id
        self._voice_id = voice_id

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def submit(self, request: SubmitRequest) -> Submission:
        options = request.options
        payload: JSONObject = {
            "type": "avatar",
            "avatar_id": self._avatar_id,
            "voice_id": self._voice_id,
            "script": request.script,
            "title": f"CVPlus {request.job_id}",
            "resolution": options.resolution.value,
            "aspect_ratio": options.aspect_ratio.value,
            "callback_id": request.job_id,
        }
        if request.callback_url:
            payload["callback_url"] = request.callback_url
        key = request.idempotency_key
        _, body = self._call(
            "POST",
            "/v3/videos",
            op="submit",
            read_code=read_code,
            billable=True,
            json=payload,
            headers={"Idempotency-Key": key},
            timeout=self._submit_timeout,
            deadline_s=self._submit_deadline_s,
        )
        video_id = str_field(obj_field(body, "data"), "video_id")
        video_id = check_render_id(PROVIDER_ID, "submit", video_id, charged=True)
        return Submission(
            provider_id=PROVIDER_ID,
            provider_job_id=video_id,
            idempotency_key=key,
            requested_duration_s=float(options.duration.seconds),
        )

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus:
        check_render_id(PROVIDER_ID, "status", provider_job_id, charged=False)
        path = id_path("/v3/videos/{id}", provider_job_id)
        _, body = self._call("GET", path, op="status", read_code=read_code)
        data = obj_field(body, "data")
        raw_state = str_field(data, "status")
        if data is None or raw_state is None:
            raise malformed(PROVIDER_ID, "status", "no data.status")
        if raw_state == "failed":
            reason = str_field(data, "failure_message") or str_field(data, "failure_code")
            raise ProviderError.from_signal(
                Signal(render_failed=True),
                f"heygen render {provider_job_id} failed: {reason or 'no reason given'}",
                provider_id=PROVIDER_ID,
                provider_code=str_field(data, "failure_code"),
                charged=True,
            )
        return render_status(
            PROVIDER_ID,
            provider_job_id,
            raw_state,
            _STATES,
            video_url=self._media_url(
                str_field(data, "video_url"),
                op="status",
                what="video_url",
                required=raw_state == "completed",
            ),
            duration_s=num_field(data, "duration"),
            expected_duration_s=expected_duration_s,
            thumbnail_url=self._media_url(
                str_field(data, "thumbnail_url"), op="status", what="thumbnail_url", required=False
            ),
        )

    def probe(self) -> ProbeResult:
        started = time.monotonic()
        self._call("GET", "/v3/voices", op="probe", read_code=read_code, params={"limit": 1})
        return ProbeResult(provider_id=PROVIDER_ID, latency_s=time.monotonic() - started)

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent:
        """Verify the HMAC over the raw bytes (fail closed without a secret), then parse."""
        if self._webhook_secret is None:
            raise WebhookError(401, "heygen webhook secret is not configured")
        signature = request.header(SIGNATURE_HEADER)
        for alias in SIGNATURE_HEADER_ALIASES:
            signature = signature or request.header(alias)
        if not signature:
            raise WebhookError(401, "heygen webhook has no signature")
        expected = sign(request.body, self._webhook_secret)
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            raise WebhookError(401, "heygen webhook signature does not match")
        event = parse_event(request.body)
        if event.video_url is not None:
            # A refused URL leaves a success without a video: a quality failure, never stored.
            url = self._media_url(event.video_url, op="webhook", what="video_url", required=False)
            event = replace(event, video_url=url)
        return event


def parse_event(body: bytes) -> WebhookEvent:
    """A verified HeyGen webhook body as an event; anything unexpected is a 400."""
    try:
        payload = load_json(body)
    except ValueError as exc:
        raise WebhookError(400, "heygen webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookError(400, "heygen webhook body is not an object")
    event_type = str_field(payload, "event_type")
    data = obj_field(payload, "event_data")
    video_id = str_field(data, "video_id")
    known = event_type in {"avatar_video.success", "avatar_video.fail"}
    if not known or video_id is None or RENDER_ID.fullmatch(video_id) is None:
        raise WebhookError(400, f"heygen webhook event not understood: {event_type!r}")
    succeeded = event_type == "avatar_video.success"
    return WebhookEvent(
        provider_id=PROVIDER_ID,
        provider_job_id=video_id,
        job_id=str_field(data, "callback_id"),
        succeeded=succeeded,
        event_id=str_field(payload, "event_id") or f"{event_type}:{video_id}",
        video_url=(str_field(data, "video_url") or str_field(data, "url")) if succeeded else None,
        failure_message=None
        if succeeded
        else (str_field(data, "failure_message") or str_field(data, "msg")),
    )


def from_env(
    environ: Mapping[str, str] = os.environ, *, transport: httpx.BaseTransport | None = None
) -> HeyGenProvider:
    """``HEYGEN_API_KEY``, ``HEYGEN_WEBHOOK_SECRET``, ``HEYGEN_BASE_URL``; ``HEYGEN_AVATAR_ID``
    and ``HEYGEN_VOICE_ID`` name the avatar look and voice (placeholders otherwise)."""
    return HeyGenProvider(
        api_key=environ.get("HEYGEN_API_KEY", ""),
        webhook_secret=environ.get("HEYGEN_WEBHOOK_SECRET") or None,
        base_url=environ.get("HEYGEN_BASE_URL") or DEFAULT_BASE_URL,
        avatar_id=environ.get("HEYGEN_AVATAR_ID") or DEFAULT_AVATAR_ID,
        voice_id=environ.get("HEYGEN_VOICE_ID") or DEFAULT_VOICE_ID,
        media_hosts=parse_hosts(environ.get("HEYGEN_MEDIA_HOSTS"), DEFAULT_MEDIA_HOSTS),
        transport=transport,
    )
