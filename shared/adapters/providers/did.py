"""D-ID Talks API: the whole wire format of D-ID in one module (submit, status, probe, webhook).

Checked against (2026-11-29, via the stored-docs search):
- docs.d-id.com/reference/talks-overview — ``POST /talks`` with ``source_url`` and
  ``script {type: "text", input}`` answers ``{id: "tlk_...", status: "created", object: "talk"}``;
  ``GET /talks/{id}`` answers the talk with ``status`` and, when done, ``result_url``.
- github api-evangelist/d-id json-schema/d-id-talk-schema.json and
  examples/d-id-create-talk-example.json — status created | started | done | error | rejected;
  ``webhook`` (URL notified on completion), ``user_data`` (<= 1000 chars, echoed back),
  ``script.provider {type: "microsoft", voice_id}``, ``config.result_format``, 201 on create,
  ``Authorization: Basic <key>``.
- docs.d-id.com discussions (647b257c..., 672e15a3...) — error bodies ``{kind, description}``
  (``BadRequestError``, ``InternalServerError``); docs.d-id.com/reference/createtalkstream lists
  ``AuthorizationError`` for 401.
- github de-id/agents-sdk src/errors/http-error.ts and errors.test.ts (D-ID's own SDK) — every
  API error is the ``{kind, description}`` envelope; out of credits is 402
  ``InsufficientCreditsError``; a 5xx gateway may answer HTML instead (read as the status alone).

Not confirmed: D-ID documents no idempotency header (we send ``Idempotency-Key`` anyway; a retried
submit may be billed twice); the exact webhook body (we read it as the talk object, which is what
D-ID describes posting); the ``TooManyRequestsError`` kind (a 429 is classified by status anyway);
``GET /credits`` as probe; whether 1080p output is possible (it follows the source image size); that
results stay in the S3 bucket seen in published talks (D-ID's domain is admitted as well;
``DID_MEDIA_HOSTS``); a 429 for a plan's cap (its wording decides). D-ID does not sign webhooks, so
the callback URL carries our job id and a per-job secret token, compared in constant time against
the token stored on the job.
"""

from __future__ import annotations

import hmac
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
from shared.core.model import AspectRatio, Capabilities, Feature, Resolution

PROVIDER_ID = "did"
DEFAULT_BASE_URL = "https://api.d-id.com"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Where D-ID serves finished talks: presigned URLs in its S3 bucket, as in the talks D-ID's own
# forum shows (docs.d-id.com/discuss/6433c858be6e08002d515b7b: audio_url and source_url on
# d-id-talks-prod.s3.us-west-2.amazonaws.com; result_url alike in published answers), plus any
# host of D-ID's own domain. Not a published list: a refused host is named in the error, and
# DID_MEDIA_HOSTS (comma-separated; ``.example.com`` admits subdomains) replaces the default.
DEFAULT_MEDIA_HOSTS = (
    "d-id-talks-prod.s3.us-west-2.amazonaws.com",
    "d-id-talks-prod.s3.amazonaws.com",
    ".d-id.com",
)
DEFAULT_VOICE_ID = "en-US-JennyNeural"  # a Microsoft TTS voice, as in D-ID's examples

CAPABILITIES = Capabilities(
    provider_id=PROVIDER_ID,
    priority=2,
    features=frozenset({Feature.VOICE, Feature.LIP_SYNC}),  # presenter photo, not a custom avatar
    max_duration_s=90,
    resolutions=frozenset({Resolution.P720, Resolution.P1080}),
    aspect_ratios=frozenset({AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT}),
    # D-ID bills plan credits (GET /credits, docs.d-id.com/reference/credits-1); their cost per
    # second of video is not published (UNCONFIRMED). Billed here by the second, at a credit
    # per started 15 s as commonly cited ($2.00 a minute), so a long video never looks free.
    price_per_video=2.00,
    price_per_second=2.00 / 60,
    min_billed_s=15.0,
    concurrency_limit=5,
    # Not documented. D-ID's talks-overview example took 26 s (created_at to modified_at) for
    # 41 frames at processing_fps 51, so a minute of video (1 500 frames) about half a minute
    # more: a minute typical, five minutes worst (unconfirmed); no render limit documented (an
    # hour, unconfirmed; D-ID caps a video at 5 min, www.d-id.com/faqs).
    typical_render_s=60.0,
    worst_render_s=300.0,
    render_cap_s=3600.0,
)

# D-ID's ``kind`` field -> category; wins over the HTTP status.
KIND_CATEGORIES: Mapping[str, ErrorCategory] = {
    "InsufficientCreditsError": ErrorCategory.QUOTA_EXCEEDED,
    "AuthorizationError": ErrorCategory.AUTHENTICATION,
    "UnauthorizedError": ErrorCategory.AUTHENTICATION,
    "TooManyRequestsError": ErrorCategory.RATE_LIMIT,
}

_STATES = {
    "created": RenderState.PENDING,
    "started": RenderState.PROCESSING,
    "done": RenderState.COMPLETED,
}
_FAILED = frozenset({"error", "rejected"})

# Placeholders: set DID_SOURCE_URL_LANDSCAPE / _PORTRAIT to real presenter photos.
_DEFAULT_SOURCES = {
    AspectRatio.LANDSCAPE: "https://storage.googleapis.com/cvplus-public/presenter-16x9.jpg",
    AspectRatio.PORTRAIT: "https://storage.googleapis.com/cvplus-public/presenter-9x16.jpg",
}


def read_code(status: int, body: JSONObject | None) -> tuple[str | None, ErrorCategory | None, str]:
    kind = str_field(body, "kind")
    message = str_field(body, "description") or str_field(body, "message") or ""
    category = KIND_CATEGORIES.get(kind) if kind else None
    if status == 429 and category in (None, ErrorCategory.RATE_LIMIT) and quota_wording(message):
        category = ErrorCategory.QUOTA_EXCEEDED  # a plan's cap, not a burst (wording only)
    return kind, category, message


class DIDProvider(HttpAdapter):
    provider_id = PROVIDER_ID

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        source_urls: Mapping[AspectRatio, str] | None = None,
        voice_id: str = DEFAULT_VOICE_ID,
        media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            auth_headers={"Authorization": f"Basic {api_key}"},
            timeout=timeout,
            media_hosts=media_hosts,
            deadline_s=deadline_s,
            max_response_bytes=max_response_bytes,
            limits=limits,
            transport=transport,
        )
        self._source_urls = dict(source_urls or _DEFAULT_SOURCES)
        self._voice_id = voice_id

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def submit(self, request: SubmitRequest) -> Submission:
        # Presentation: the talk's ``config`` (docs.d-id.com/reference/talks-overview, the
        # example talk's keys: stitch, pad_audio, align_driver, sharpen, auto_match,
        # normalization_factor, logo, motion_factor, result_format, fluent,
        # align_expand_factor) has no background, caption or name-card option, and the frame
        # is the source image's (one per aspect ratio, none square). So none is sent; the
        # capabilities keep the defaults (the presenter's own backdrop only, no name card) and
        # the job's notes say what was not honoured. Not confirmed: that no such option exists
        # beyond that example (D-ID's full talks schema was not retrieved).
        payload: JSONObject = {
            "source_url": self._source_urls[request.options.aspect_ratio],
            "script": {
                "type": "text",
                "input": request.script,
                "provider": {"type": "microsoft", "voice_id": self._voice_id},
            },
            # D-ID's default output is a 512x512 crop of the face (the default talk in
            # docs.d-id.com/reference/talks-overview: metadata.resolution [512, 512], config
            # stitch false); ``stitch: true`` puts the animated face back into the whole
            # presenter photo, so the video has the photo's frame (our photos are framed for the
            # job's aspect ratio). Unconfirmed: no D-ID page retrieved states it (a D-ID forum
            # thread uses it, docs.d-id.com/discuss/6694e0c7b56807002fa150e0). Safe either way:
            # the delivered file's frame is checked (shared.adapters.media), and a face crop is
            # a quality failure, never a delivered wrong-shaped video.
            "config": {"result_format": "mp4", "stitch": True},
            "name": f"CVPlus {request.job_id}",
            "user_data": request.job_id,
        }
        if request.callback_url:
            if not request.callback_token:
                # Our own invalid state: an unsigned callback without a token is unverifiable.
                raise ProviderError.from_signal(
                    Signal(internal=True),
                    "did submit: a callback URL needs a per-job token",
                    provider_id=PROVIDER_ID,
                )
            payload["webhook"] = callback_url_with_token(
                request.callback_url, job_id=request.job_id, token=request.callback_token
            )
        key = request.idempotency_key
        _, body = self._call(
            "POST",
            "/talks",
            op="submit",
            read_code=read_code,
            billable=True,
            json=payload,
            headers={"Idempotency-Key": key},  # undocumented by D-ID; sent for safety
        )
        talk_id = check_render_id(PROVIDER_ID, "submit", str_field(body, "id"), charged=True)
        return Submission(
            provider_id=PROVIDER_ID,
            provider_job_id=talk_id,
            idempotency_key=key,
            requested_duration_s=float(request.options.duration.seconds),
        )

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus:
        body = self._talk(provider_job_id, op="status")
        done = str_field(body, "status") == "done"
        url = self._media_url(
            str_field(body, "result_url"), op="status", what="result_url", required=done
        )
        if done and url is None:
            # A done talk without a result_url is not a failed render (D-ID documents none such):
            # it is looked at again, within its patience, rather than paid for elsewhere.
            raise malformed(PROVIDER_ID, "status", "done without a result_url")
        return talk_status(
            body, provider_job_id, video_url=url, expected_duration_s=expected_duration_s
        )

    def find(self, request: SubmitRequest) -> Submission | None:
        """No lookup of renders is relied on (``finds_renders`` False): a submit whose answer
        was lost is never sent here again."""
        del request
        return None

    def cancel(self, provider_job_id: str) -> bool:
        """The API offers no way to cancel a render: it runs to its end (and its webhook is
        ignored, the job being over)."""
        del provider_job_id
        return False

    def probe(self) -> ProbeResult:
        started = time.monotonic()
        self._call("GET", "/credits", op="probe", read_code=read_code)
        return ProbeResult(provider_id=PROVIDER_ID, latency_s=time.monotonic() - started)

    def _talk(self, provider_job_id: str, *, op: str) -> JSONObject:
        """``GET /talks/{id}`` (docs.d-id.com/reference/talks-overview): the talk object."""
        check_render_id(PROVIDER_ID, op, provider_job_id, charged=False)
        path = id_path("/talks/{id}", provider_job_id)
        _, body = self._call("GET", path, op=op, read_code=read_code)
        return body

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent:
        """Check the per-job token from the callback URL (fail closed), then confirm the talk
        the body names with ``GET /talks/{id}``, as HeyGen's callbacks are: D-ID does not sign
        its webhooks and its body is not documented, so the event is made from D-ID's answer,
        never from the body. A talk not finished yet, or unknown, is refused; a read that fails
        gives an unconfirmed event (the job looks again later). A done talk whose URL is
        missing or not on D-ID's hosts is a success without a video: the job polls it."""
        if not expected_token:
            raise WebhookError(401, "did webhook: no token is stored for this job")
        token = request.query.get(TOKEN_PARAM)
        if not token or not hmac.compare_digest(token.encode(), expected_token.encode()):
            raise WebhookError(401, "did webhook token does not match")
        hint = parse_event(request.body, job_id=request.query.get(JOB_PARAM))
        talk_id = hint.provider_job_id
        try:
            talk = self._talk(talk_id, op="webhook")
        except ProviderError as error:
            if error.status == 404:
                raise WebhookError(400, f"did talk {talk_id} not found: {error}") from error
            return replace(
                hint,
                succeeded=False,
                event_id=f"{talk_id}:unconfirmed",
                video_url=None,
                failure_message=None,
                duration_s=None,
                confirmed=False,
            )
        if str_field(talk, "status") not in {"done", *_FAILED}:
            raise WebhookError(409, f"did talk {talk_id} is not finished")
        confirmed = talk_event(talk, job_id=hint.job_id)
        if confirmed.video_url is not None:
            url = self._media_url(
                confirmed.video_url, op="webhook", what="result_url", required=False
            )
            confirmed = replace(confirmed, video_url=url)
        return confirmed


def talk_status(
    body: JSONObject,
    provider_job_id: str,
    *,
    video_url: str | None,
    expected_duration_s: float | None,
) -> RenderStatus:
    raw_state = str_field(body, "status")
    if raw_state is None:
        raise malformed(PROVIDER_ID, "status", "no status")
    if raw_state in _FAILED:
        error = obj_field(body, "error")
        reason = str_field(error, "description") or str_field(error, "kind") or raw_state
        raise ProviderError.from_signal(
            Signal(render_failed=True),
            f"did talk {provider_job_id} {raw_state}: {clip(reason)}",
            provider_id=PROVIDER_ID,
            provider_code=clip_code(str_field(error, "kind")),
            charged=True,
        )
    return render_status(
        PROVIDER_ID,
        provider_job_id,
        raw_state,
        _STATES,
        video_url=video_url,
        duration_s=num_field(body, "duration"),
        expected_duration_s=expected_duration_s,
    )


def parse_event(body: bytes, *, job_id: str | None) -> WebhookEvent:
    """A D-ID webhook body (the talk object) as an event; anything unexpected is a 400."""
    try:
        talk = load_json(body)
    except ValueError as exc:
        raise WebhookError(400, "did webhook body is not JSON") from exc
    if not isinstance(talk, dict):
        raise WebhookError(400, "did webhook body is not an object")
    return talk_event(talk, job_id=job_id)


def talk_event(talk: JSONObject, *, job_id: str | None) -> WebhookEvent:
    """A talk object (a webhook body, or D-ID's answer to ``GET /talks/{id}``) as an event."""
    talk_id = str_field(talk, "id")
    state = str_field(talk, "status")
    if talk_id is None or RENDER_ID.fullmatch(talk_id) is None or state not in {"done", *_FAILED}:
        raise WebhookError(400, f"did webhook talk not understood (status {state!r})")
    succeeded = state == "done"
    error = obj_field(talk, "error")
    return WebhookEvent(
        provider_id=PROVIDER_ID,
        provider_job_id=talk_id,
        job_id=job_id or str_field(talk, "user_data"),
        succeeded=succeeded,
        event_id=f"{talk_id}:{state}",
        video_url=str_field(talk, "result_url") if succeeded else None,
        duration_s=num_field(talk, "duration") if succeeded else None,
        failure_message=None
        if succeeded
        else clip(str_field(error, "description") or str_field(error, "kind") or state),
    )
