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

Presentation (heygen-com/heygen-cli gen/video.go:97, commit 7699a8e: the ``VideoCreate``
RequestSchema of ``POST /v3/videos``, its ``type: "avatar"`` variant, generated from HeyGen's
OpenAPI spec):
- ``aspect_ratio``: "Supported values: '16:9', '9:16', '4:5', '5:4', '1:1', 'auto'" (so a square
  video is HeyGen's to make); ``resolution``: "4k" | "1080p" | "720p".
- ``background``: ``{type: "color" | "image", value: hex (required when color), url |
  asset_id}`` - "'color' uses a solid hex color". The app's named backgrounds that a solid
  colour can be are sent as one (`BACKGROUND_COLOURS`); "office" is the presenter's own setting
  (nothing sent); a gradient or the app's "custom" (it sends no image) are not honoured, and
  the job's notes say so. Not confirmed: whether a colour shows behind a video avatar that was
  not trained with matting (``remove_background``: "Video avatars must be trained with matting
  enabled"); ``remove_background`` is not sent, since an avatar without matting might refuse it.
- ``caption``: ``{file_format: "srt" (the only value), style: "default" | null}`` - "A sidecar
  subtitle file is always returned via subtitle_url; set 'style' to additionally burn captions
  into the rendered video." Asked when the job wants subtitles, sidecar only (no ``style``): the
  app plays our WebVTT file as a track, and burnt-in captions would show twice.
- No name-card field exists in that schema (nor an avatar-style one: the presenter is the
  configured ``avatar_id``).

Callbacks. HeyGen's v3 spec text (heygen-com/heygen-cli gen/ai-clipping.go, commit 7699a8e,
``callback_url``: "Per-job callback_url deliveries are NOT HMAC-signed: authenticate them by
verifying TLS and matching the echoed callback_id, and do not trust an unverified body. To receive
a signed payload, register a webhook endpoint with a secret (the signature header is sent only to
registered endpoints)") says our per-request ``callback_url`` gets no signature. So the callback
URL carries the job id and a secret token (``callback_url_with_token``), compared in constant
time, and even then the body is only a hint: the video is read back with ``GET /v3/videos/{id}``
and the event is made from that answer, never from the body.

Registered endpoints (``POST /v3/webhooks/endpoints``, developers.heygen.com/docs/webhooks: the
answer carries a ``whsec_...`` secret "for verifying payloads", shown once) are signed, but the
public material does not confirm the header name, the encoding or whether a timestamp is signed:
the stored copies of that page are cut before "Verifying Payloads"; heygen-cli gen/webhook.go
only says "signing secret"; heygen-com/skills skills/heygen/references/webhooks.md (commit
e306499) hedges "If HeyGen provides signature verification". So a delivery without our token is
refused (401), signed or not: only the verified path (token, then GET) is accepted. Register no
endpoint for CVPlus; polling covers a lost callback.

Not confirmed: the HTTP status HeyGen pairs with ``insufficient_credit`` (the simulator uses
402) or with ``quota_exceeded`` (429 assumed); the account-info path (we probe ``/v3/voices``
instead). Unknown codes fall back to the HTTP status.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import httpx

from shared.adapters.providers._http import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_RESPONSE_BYTES,
    JOB_PARAM,
    RENDER_ID,
    TOKEN_PARAM,
    HttpAdapter,
    JSONObject,
    callback_url_with_token,
    check_render_id,
    clip,
    clip_code,
    id_path,
    load_json,
    malformed,
    num_field,
    obj_field,
    quota_wording,
    render_status,
    str_field,
)
from shared.adapters.providers.base import (
    ProbeResult,
    RenderState,
    RenderStatus,
    Submission,
    SubmitRequest,
    WebhookError,
    WebhookEvent,
    WebhookRequest,
)
from shared.core.errors import ErrorCategory, ProviderError, Signal
from shared.core.model import (
    AspectRatio,
    Background,
    Capabilities,
    Feature,
    Resolution,
    VideoOptions,
)

log = logging.getLogger("cvplus.providers")

PROVIDER_ID = "heygen"
# Placeholders: no real avatar or voice has these ids, so a video asked with them fails. Only
# the emulator or the simulator may run with them (shared.adapters.providers.placeholder_problems).
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
# answers, not a published list), so every host of HeyGen's own domains. Override with
# HEYGEN_MEDIA_HOSTS (comma-separated; ``.example.com`` admits subdomains).
DEFAULT_MEDIA_HOSTS = (".heygen.ai", ".heygen.com")
FIND_PAGES = 5  # pages of a title lookup (a job's title matches few videos)

# The app's named backgrounds that a solid colour can stand for (``background: {type: "color",
# value}``, module docstring); "office" keeps the presenter's own setting.
BACKGROUND_COLOURS: Mapping[Background, str] = {
    Background.STUDIO: "#2b2d42",
    Background.MODERN: "#f4f5f7",
    Background.VIRTUAL: "#1e3a8a",
}

CAPABILITIES = Capabilities(
    provider_id=PROVIDER_ID,
    priority=1,
    features=frozenset({Feature.VOICE, Feature.LIP_SYNC, Feature.CUSTOM_AVATAR}),
    max_duration_s=300,
    resolutions=frozenset({Resolution.P720, Resolution.P1080}),
    aspect_ratios=frozenset({AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT, AspectRatio.SQUARE}),
    # "All rates are billed in USD based on output duration" (developers.heygen.com/docs/pricing):
    # per second of the delivered video. $0.10 a second is the highest avatar rate that page
    # has listed ("Video Generation ... IV $0.1 / sec"; later versions list $0.05-0.0833): an
    # upper bound, so the cap never undercounts. A medium video (60 s) is $6.00.
    price_per_video=6.00,
    price_per_second=0.10,
    concurrency_limit=10,  # plan-dependent; not published per key
    # heygen-com/skills, skills/heygen/references/video-status.md:93 (commit 996515c): "Video
    # generation typically takes 5-15 minutes, but can exceed 20 minutes during peak load or for
    # longer scripts"; "Most videos complete within 10 minutes"; "Set timeout to 15-20 minutes".
    typical_render_s=600.0,
    worst_render_s=1200.0,
    # No server-side render limit is documented: an hour (unconfirmed), the hard timeout
    # HeyGen's own skills give a translation (heygen-translate/SKILL.md:250), three times the
    # documented worst case.
    render_cap_s=3600.0,
    # Idempotency-Key on POST /v3/videos: documented in one stored copy of the create-video page,
    # while POST /v3/background-removals documents that the header "is *not* honored"
    # (heygen-cli gen/background-removal.go:11). Not relied on: the key is sent, and a submit
    # whose answer was lost is looked up by its title (``find``) before it is sent again.
    idempotent_submits=False,
    finds_renders=True,  # GET /v3/videos?title= (heygen-cli gen/video.go:144-209)
    backgrounds=frozenset({Background.OFFICE, *BACKGROUND_COLOURS}),
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
    # A 403 about a resource (an avatar or voice this account may not use), not the key:
    # heygen-cli internal/errors/errors.go:236-237 hints "Your credentials are valid but not
    # permitted for this"; heygen-com/skills heygen-video/references/troubleshooting.md:117
    # "the resource is not owned by the caller". A refusal of this request, not an outage
    # (`errors.about_the_request`): it never opens the breaker for everyone.
    "resource_access_denied": ErrorCategory.API_FAILURE,
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


class HeyGenProvider(HttpAdapter):
    provider_id = PROVIDER_ID

    def __init__(
        self,
        *,
        api_key: str,
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
            "title": render_title(request),
            "resolution": options.resolution.value,
            "aspect_ratio": options.aspect_ratio.value,
            "callback_id": request.job_id,
        }
        payload.update(presentation_fields(options))
        if request.callback_url and request.callback_token:
            # Unsigned by HeyGen: the token in the URL is what authenticates the delivery.
            payload["callback_url"] = callback_url_with_token(
                request.callback_url, job_id=request.job_id, token=request.callback_token
            )
        elif request.callback_url:
            # An unverifiable callback is worse than none: the render is found by polling.
            log.warning("heygen submit without a callback token: no callback_url sent")
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

    def find(self, request: SubmitRequest) -> Submission | None:
        """The render an earlier submit of ``request`` made: ``GET /v3/videos?title=`` lists the
        account's videos whose title contains ours ("Filter videos by title substring",
        heygen-com/heygen-cli gen/video.go:144-209; paginated by ``token``/``next_token``, at
        most 100 a page), and the oldest whose title is exactly ours is the one. Whatever its
        state: a failed one is seen failed by the next status poll."""
        title = render_title(request)
        token: str | None = None
        best: tuple[float, str] | None = None
        for _ in range(FIND_PAGES):
            params: dict[str, str | int] = {"title": title, "limit": 100}
            if token:
                params["token"] = token
            _, body = self._call("GET", "/v3/videos", op="find", read_code=read_code, params=params)
            videos = body.get("data")
            if not isinstance(videos, list):
                raise malformed(PROVIDER_ID, "find", "no data list")
            for video in videos:
                if not isinstance(video, dict) or str_field(video, "title") != title:
                    continue
                video_id = str_field(video, "id")
                if video_id is None or RENDER_ID.fullmatch(video_id) is None:
                    continue
                created = num_field(video, "created_at") or 0.0
                if best is None or created < best[0]:
                    best = (created, video_id)
            token = str_field(body, "next_token")
            if not body.get("has_more") or not token:
                break
        if best is None:
            return None
        return Submission(
            provider_id=PROVIDER_ID,
            provider_job_id=best[1],
            idempotency_key=request.idempotency_key,
            requested_duration_s=float(request.options.duration.seconds),
        )

    def _video(self, provider_job_id: str, *, op: str) -> tuple[str, JSONObject]:
        """``GET /v3/videos/{id}``: the video's status name and its ``data`` object."""
        check_render_id(PROVIDER_ID, op, provider_job_id, charged=False)
        path = id_path("/v3/videos/{id}", provider_job_id)
        _, body = self._call("GET", path, op=op, read_code=read_code)
        data = obj_field(body, "data")
        raw_state = str_field(data, "status")
        if data is None or raw_state is None:
            raise malformed(PROVIDER_ID, op, "no data.status")
        return raw_state, data

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus:
        raw_state, data = self._video(provider_job_id, op="status")
        if raw_state == "failed":
            reason = str_field(data, "failure_message") or str_field(data, "failure_code")
            raise ProviderError.from_signal(
                Signal(render_failed=True),
                f"heygen render {provider_job_id} failed: {clip(reason or 'no reason given')}",
                provider_id=PROVIDER_ID,
                provider_code=clip_code(str_field(data, "failure_code")),
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

    def cancel(self, provider_job_id: str) -> bool:
        """The API offers no way to cancel a render: it runs to its end (and its webhook is
        ignored, the job being over)."""
        del provider_job_id
        return False

    def probe(self) -> ProbeResult:
        started = time.monotonic()
        self._call("GET", "/v3/voices", op="probe", read_code=read_code, params={"limit": 1})
        return ProbeResult(provider_id=PROVIDER_ID, latency_s=time.monotonic() - started)

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent:
        """A per-request callback: its URL's token must equal ``expected_token`` (constant
        time, fail closed), then the video named in the body is confirmed with ``GET
        /v3/videos/{id}`` and the event is made from HeyGen's answer, not from the body.
        Deliveries without our token (a registered endpoint's, signed or not) are refused:
        HeyGen's signature scheme is not confirmed by its public material (module docstring)."""
        if not expected_token:
            raise WebhookError(401, "heygen callback: no token is known for this job")
        token = request.query.get(TOKEN_PARAM)
        if not token or not hmac.compare_digest(token.encode(), expected_token.encode()):
            raise WebhookError(401, "heygen callback token does not match")
        hint = parse_event(request.body)
        job_id = request.query.get(JOB_PARAM)
        if hint.job_id is not None and job_id is not None and hint.job_id != job_id:
            raise WebhookError(400, "heygen callback_id does not match the callback URL's job")
        return self._confirmed(hint, job_id=job_id)

    def _confirmed(self, hint: WebhookEvent, *, job_id: str | None) -> WebhookEvent:
        """The event HeyGen's own ``GET /v3/videos/{id}`` confirms for the video ``hint`` names;
        a video not finished yet, or unknown to HeyGen, is refused. A read that fails (HeyGen's
        API down) is not refused: the delivery carried our token, so the event comes back
        unconfirmed and the job looks at the render later (HeyGen may never deliver again)."""
        video_id = hint.provider_job_id
        try:
            raw_state, data = self._video(video_id, op="webhook")
        except ProviderError as error:
            if error.status == 404:
                raise WebhookError(400, f"heygen video {video_id} not found: {error}") from error
            return replace(
                hint,
                job_id=job_id,
                succeeded=False,
                event_id=f"{video_id}:unconfirmed",
                video_url=None,
                failure_message=None,
                confirmed=False,
            )
        # The render must be this job's: its Video object's ``title`` (heygen-cli gen/video.go,
        # the Video item of GET /v3/videos/{id}) is the one submit gives it. Absent (the field
        # is optional), the shell still binds the render id to the one the submit returned.
        title = str_field(data, "title")
        if job_id is not None and title is not None and not titled_for(title, job_id):
            raise WebhookError(400, f"heygen video {video_id} is not this job's render")
        if raw_state == "failed":
            reason = str_field(data, "failure_message") or str_field(data, "failure_code")
            return replace(
                hint,
                job_id=job_id,
                succeeded=False,
                event_id=f"{video_id}:failed",
                video_url=None,
                failure_message=clip(reason or "no reason given"),
            )
        if raw_state != "completed":
            raise WebhookError(409, f"heygen video {video_id} is {raw_state!r}, not finished")
        # A refused URL leaves a success without a video: a quality failure, never stored.
        url = self._media_url(
            str_field(data, "video_url"), op="webhook", what="video_url", required=False
        )
        return replace(
            hint,
            job_id=job_id,
            succeeded=True,
            event_id=f"{video_id}:completed",
            video_url=url,
            failure_message=None,
            duration_s=num_field(data, "duration"),
        )


def presentation_fields(options: VideoOptions) -> JSONObject:
    """The body's ``background`` and ``caption`` for ``options`` (module docstring): only what
    HeyGen documents and can honour; the rest is the job's notes, not the body's."""
    fields: JSONObject = {}
    colour = BACKGROUND_COLOURS.get(options.background)
    if colour is not None:
        fields["background"] = {"type": "color", "value": colour}
    if options.subtitles:
        fields["caption"] = {"file_format": "srt"}
    return fields


def video_title(job_id: str) -> str:
    """What every title of a job's videos starts with: how a confirming GET tells it is this
    job's (`titled_for`)."""
    return f"CVPlus {job_id}"


def render_title(request: SubmitRequest) -> str:
    """The title of the render of one submit (job and key): what ``find`` looks for."""
    return f"{video_title(request.job_id)} #{request.attempt}"


def titled_for(title: str, job_id: str) -> bool:
    """Whether ``title`` is one submit of ``job_id`` gave (any key; or the title renders had
    before they were titled per key)."""
    own = video_title(job_id)
    return title == own or title.startswith(f"{own} #")


def parse_event(body: bytes) -> WebhookEvent:
    """A HeyGen webhook body as an event; anything unexpected is a 400. Unauthenticated by
    itself: ``HeyGenProvider.parse_webhook`` only takes the video id from it."""
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
        else clip(
            str_field(data, "failure_message") or str_field(data, "msg") or "no reason given"
        ),
    )
