"""RunwayML developer API: the whole wire format of RunwayML in one module. Polling only.

RunwayML speaks: a GWM-1 avatar made once from the presenter image says the script.

Checked against (2026-12-08) runwayml/sdk-python at v5.13.0 (commit c604e0e; ``src/runwayml/``
paths below; ``client.avatar_videos`` exists from 4.11.0, CHANGELOG.md:259-266):
- ``_client.py`` — base URL ``https://api.dev.runwayml.com``, ``Authorization: Bearer <key>``,
  ``X-Runway-Version: 2024-11-06`` (also docs.dev.runwayml.com/ai-context.md: "Required on every
  request").
- ``resources/avatars.py`` + ``types/avatar_create_params.py`` — ``POST /v1/avatars`` with
  ``name``, ``personality`` ("System prompt defining how the avatar should behave in
  conversations"), ``referenceImage`` ("A HTTPS URL, Runway upload URI, or base64 data URI ...
  up to 5MB") and ``voice`` ``{type: "runway-live-preset", presetId}`` (30 ids, ``VOICES``) or
  ``{type: "custom", id}``. ``GET /v1/avatars?limit=&cursor=`` lists them (``limit`` required;
  a ``{data, nextCursor}`` page: ``pagination.py``), ``GET /v1/avatars/{id}`` reads one.
- ``types/avatar_list_response.py`` / ``avatar_create_response.py`` — an avatar's ``status`` is
  ``PROCESSING`` | ``READY`` | ``FAILED`` (+ ``failureReason``, "not stable and should not be
  matched against programmatically"): creating one is asynchronous.
- ``resources/avatar_videos.py`` + ``types/avatar_video_create_params.py`` — ``POST
  /v1/avatar_videos`` "Start an asynchronous task to generate a video of an avatar speaking":
  ``{model: "gwm1_avatars", avatar: {type: "custom", avatarId}, speech: {type: "text", text,
  voice?}}`` (without ``voice`` "the avatar's configured voice is used"); answers ``{id}``, a
  task polled at ``GET /v1/tasks/{id}``. The body has NO ratio, duration, resolution, seed or
  webhook field.
- ``types/task_retrieve_response.py`` — task status PENDING | THROTTLED | RUNNING (+``progress``)
  | SUCCEEDED (+``output``: URLs that "will expire within 24-48 hours; fetch the task again to
  get fresh URLs") | FAILED (+``failure``, ``failureCode``) | CANCELLED. ``resources/tasks.py``:
  "should not expect updates more frequent than once every five seconds"; ``DELETE`` cancels a
  running task and deletes a finished one.
- ``types/organization_retrieve_response.py`` — ``GET /v1/organization``:
  ``tier.models[m].maxConcurrentGenerations`` / ``maxDailyGenerations`` and
  ``usage.models[m].dailyGenerations`` (the probe reads it).
- ``_base_client.py:391`` — ``_idempotency_header = None``; no create takes an idempotency key.
- docs.dev.runwayml.com/errors/errors — HTTP 400/401/404/405 not retryable; 429 retryable;
  502/503 "shedding load", 504 "overloaded". docs.dev.runwayml.com/errors/task-failures (and
  runwayml/skills rw-api-reference/SKILL.md:401-409) — ``SAFETY.*`` (do not retry),
  ``INTERNAL.BAD_OUTPUT.*`` (rejected for quality), ``ASSET.INVALID``, ``INTERNAL``.
- docs.dev.runwayml.com/usage/tiers (skills rw-api-reference/SKILL.md:375-386) — per-model
  limits by tier: tier 1 runs 1-2 generations at once and 50-200 a day, tier 5 twenty at once;
  over the concurrency a task waits THROTTLED, over the daily limit a submit answers 429.
- docs.dev.runwayml.com/assets/outputs — outputs on ``dnznrvs05pmza.cloudfront.net``; skills
  rw-api-reference/SKILL.md:341 "Video outputs are MP4".
- skills rw-setup-api-key/SKILL.md:27 — credits are prepaid at $0.01 each.

Not documented, so the code is safe either way:
- Idempotency: none. ``idempotent_submits`` stays False, so a submit whose answer was lost is
  never sent again (``orchestration.blind_resubmit``); the ``Idempotency-Key`` we send is
  harmless if ignored. Avatars are found by a deterministic name before one is created, so a
  lost create answer, or two instances racing, never leaves a job without the avatar; a race
  may leave two avatars of that name, and every instance then uses the earliest (``_pick``).
- The output's resolution, frame and length limits: the body has no ratio or duration, so the
  video is framed like the presenter image (inferred: RUNWAYML_PROMPT_IMAGE_URL must be a
  landscape image; only 16:9 is declared) and lasts as long as the script takes to speak. We
  declare 720p only (never promise 1080p unseen) and the CVPlus maximum of 90 s (the only
  documented bound is a 5-minute realtime session, skills rw-api-reference/SKILL.md:67): a
  script Runway finds too long is refused with a 400, which bills nothing.
- The task does not say how long its video lasts; a ``duration`` is read when present (the
  simulator sends one), else the length is not held against the render.
- The price of ``gwm1_avatars`` videos: not published in the SDK or the skills; estimated at
  act_two's 5 credits a second (skills rw-api-reference/SKILL.md:25-33), $3 for a minute.
- The out-of-credits answer (a 400 whose message mentions credits is read as quota); the text of
  the daily-cap 429 (the organization's usage decides); that outputs stay on that one
  CloudFront host (Runway's own domain is admitted as well; ``RUNWAYML_MEDIA_HOSTS``); whether
  creating an avatar costs credits.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import httpx

from shared.adapters.providers._http import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpAdapter,
    JSONObject,
    check_render_id,
    clip,
    clip_code,
    id_path,
    malformed,
    num_field,
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

PROVIDER_ID = "runwayml"
DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
API_VERSION = "2024-11-06"
MODEL = "gwm1_avatars"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Placeholder: set RUNWAYML_PROMPT_IMAGE_URL to a real HTTPS landscape image of the presenter.
DEFAULT_PROMPT_IMAGE_URL = "https://storage.googleapis.com/cvplus-public/presenter.jpg"
# The preset voices an avatar may have (types/avatar_create_params.py, VoiceRunwayLivePreset).
VOICES = frozenset(
    {
        "victoria", "vincent", "clara", "drew", "skye", "max", "morgan", "felix", "mia",
        "marcus", "summer", "ruby", "aurora", "jasper", "leo", "adrian", "nina", "emma",
        "blake", "david", "maya", "nathan", "sam", "georgia", "petra", "adam", "zach",
        "violet", "roman", "luna",
    }
)  # fmt: skip
DEFAULT_VOICE = "victoria"
AVATAR_NAME_PREFIX = "cvplus-presenter-"
PERSONALITY = (
    "A calm, professional presenter who introduces a candidate by reading their CV summary "
    "exactly as written."
)
AVATAR_PAGE = 100  # GET /v1/avatars ``limit``
AVATAR_PAGES = 20  # at most this many pages are read looking for ours
AVATAR_WAIT_S = 20.0  # how long one submit waits for a new avatar to be READY
AVATAR_POLL_S = 2.0
AVATAR_RETRY_S = 15.0  # Retry-After of a submit refused because the avatar is still processing
# Where Runway serves task outputs: docs.dev.runwayml.com/assets/outputs shows
# ``https://dnznrvs05pmza.cloudfront.net/...?_jwt=...`` (ephemeral, expiring within 24-48 h),
# plus any host of Runway's own domain. A refused host is named in the error; override with
# RUNWAYML_MEDIA_HOSTS (comma-separated; ``.example.com`` admits subdomains).
DEFAULT_MEDIA_HOSTS = ("dnznrvs05pmza.cloudfront.net", ".runwayml.com")

DEFAULT_CONCURRENCY = 1
MAX_CONCURRENCY = 20  # tier 5

CAPABILITIES = Capabilities(
    provider_id=PROVIDER_ID,
    priority=3,
    # "a video of an avatar speaking" the text, in the avatar's voice (resources/avatar_videos.py).
    features=frozenset({Feature.VOICE, Feature.LIP_SYNC}),
    max_duration_s=90,  # undocumented for avatar videos (module docstring); CVPlus's longest
    resolutions=frozenset({Resolution.P720}),  # undocumented: never promise 1080p
    aspect_ratios=frozenset({AspectRatio.LANDSCAPE}),  # framed like the presenter image
    # Billed in credits at $0.01 each (runwayml/skills rw-setup-api-key/SKILL.md:27), per second
    # of output for its video models (rw-api-reference/SKILL.md:25-33). The avatar videos' own
    # rate is unpublished (UNCONFIRMED): act_two's 5 credits/s, $0.05 a second, $3.00 a minute.
    price_per_video=3.00,
    price_per_second=0.05,
    # docs.dev.runwayml.com/usage/tiers: tier 1 allows 1-2 concurrent generations per model,
    # tier 2 three, tier 3 five; further tasks wait as THROTTLED. The default is the lowest
    # tier's 1; set RUNWAYML_CONCURRENCY to the project's tier.
    concurrency_limit=DEFAULT_CONCURRENCY,
    # Runway publishes no render time: 90 s is an estimate. Its own SDK waits at most 600 s for a
    # task (runwayml/sdk-python src/runwayml/lib/polling.py:36-37), the worst we assume; no
    # render limit is documented (an hour, unconfirmed). Tasks are not to be polled more than
    # once every five seconds (resources/tasks.py:63-66).
    typical_render_s=90.0,
    worst_render_s=600.0,
    render_cap_s=3600.0,
    webhooks=False,  # no callbacks: renders are polled
    idempotent_submits=False,  # no idempotency documented (_base_client.py:391)
)

_STATES = {
    "PENDING": RenderState.PENDING,
    "THROTTLED": RenderState.PENDING,  # waits for this key's concurrency to free up
    "RUNNING": RenderState.PROCESSING,
    "SUCCEEDED": RenderState.COMPLETED,
}

# Task ``failureCode`` prefixes -> category (longest prefix wins). A failed task is a
# processing error unless its code says something more specific.
FAILURE_CODE_CATEGORIES: Mapping[str, ErrorCategory] = {
    "SAFETY": ErrorCategory.PROCESSING_ERROR,
    "ASSET": ErrorCategory.PROCESSING_ERROR,
    "INPUT_PREPROCESSING": ErrorCategory.PROCESSING_ERROR,
    "INTERNAL": ErrorCategory.TRANSIENT,
    "INTERNAL.BAD_OUTPUT": ErrorCategory.QUALITY_FAILURE,
}


def failure_code_category(code: str | None) -> ErrorCategory | None:
    if not code:
        return None
    parts = code.upper().split(".")
    for end in range(len(parts), 0, -1):
        category = FAILURE_CODE_CATEGORIES.get(".".join(parts[:end]))
        if category is not None:
            return category
    return None


def read_code(status: int, body: JSONObject | None) -> tuple[str | None, ErrorCategory | None, str]:
    """RunwayML error bodies are ``{"error": "<human-readable message>"}``."""
    message = str_field(body, "error") or ""
    if status == 400 and "credit" in message.lower():
        return "insufficient_credits", ErrorCategory.QUOTA_EXCEEDED, message
    if status == 429 and quota_wording(message):
        return "daily_limit", ErrorCategory.QUOTA_EXCEEDED, message
    return None, None, message


def read_submit_code(
    status: int, body: JSONObject | None
) -> tuple[str | None, ErrorCategory | None, str]:
    """A submit's answer: every 429 is the daily quota. runwayml/skills
    rw-api-reference/SKILL.md:375-386: "No requests-per-minute limit — only daily generation
    quotas", "Exceeding concurrency -> THROTTLED status (auto-queued, not rejected)", "Exceeding
    daily limit -> 429", over a rolling 24-hour window. Retrying in seconds cannot help;
    another provider can."""
    code, category, message = read_code(status, body)
    if status == 429:
        return "daily_limit", ErrorCategory.QUOTA_EXCEEDED, message
    return code, category, message


def avatar_name(reference_image: str, voice: str) -> str:
    """The one name the presenter avatar of this image and voice has, on every instance: how an
    instance finds the avatar another one made (or its own lost create) before making one."""
    digest = hashlib.sha256(f"{reference_image}\x00{voice}".encode()).hexdigest()
    return f"{AVATAR_NAME_PREFIX}{digest[:16]}"


@dataclass(frozen=True, slots=True)
class Avatar:
    avatar_id: str
    status: str  # PROCESSING | READY | FAILED
    created_at: str
    failure: str | None = None


def _avatar_of(item: object) -> Avatar | None:
    if not isinstance(item, dict):
        return None
    avatar_id, status = str_field(item, "id"), str_field(item, "status")
    if not avatar_id or not status:
        return None
    # A docs example shows "AvatarProcessing" where the SDK says PROCESSING: read leniently.
    upper = status.upper()
    state = next((s for s in ("READY", "FAILED") if s in upper), "PROCESSING")
    return Avatar(
        avatar_id=avatar_id,
        status=state,
        created_at=str_field(item, "createdAt") or "",
        failure=str_field(item, "failureReason"),
    )


def _pick(avatars: list[Avatar]) -> Avatar | None:
    """The avatar every instance uses among those of our name: the earliest that is not FAILED
    (creation time, then id), else the earliest FAILED one (to report it)."""
    usable = sorted((a for a in avatars if a.status != "FAILED"), key=_age)
    failed = sorted((a for a in avatars if a.status == "FAILED"), key=_age)
    ranked = usable or failed
    return ranked[0] if ranked else None


def _age(avatar: Avatar) -> tuple[str, str]:
    return avatar.created_at, avatar.avatar_id


class RunwayMLProvider(HttpAdapter):
    provider_id = PROVIDER_ID

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        prompt_image_url: str = DEFAULT_PROMPT_IMAGE_URL,
        avatar_id: str | None = None,
        voice: str = DEFAULT_VOICE,
        concurrency_limit: int = DEFAULT_CONCURRENCY,
        media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
        avatar_wait_s: float = AVATAR_WAIT_S,
        avatar_poll_s: float = AVATAR_POLL_S,
    ) -> None:
        super().__init__(
            base_url=base_url,
            auth_headers={"Authorization": f"Bearer {api_key}", "X-Runway-Version": API_VERSION},
            timeout=timeout,
            media_hosts=media_hosts,
            deadline_s=deadline_s,
            max_response_bytes=max_response_bytes,
            limits=limits,
            transport=transport,
        )
        if voice not in VOICES:
            raise ValueError(f"RunwayML voice {voice!r} is not one of its presets")
        self._prompt_image_url = prompt_image_url
        self._voice = voice
        self._avatar_name = avatar_name(prompt_image_url, voice)
        # A pinned RUNWAYML_AVATAR_ID is used as it is: no lookup, no creation.
        self._pinned = bool(avatar_id)
        self._avatar_id = avatar_id or None
        self._avatar_lock = threading.Lock()
        self._avatar_wait_s = avatar_wait_s
        self._avatar_poll_s = avatar_poll_s
        self._capabilities = replace(
            CAPABILITIES, concurrency_limit=max(1, min(concurrency_limit, MAX_CONCURRENCY))
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def avatar_name(self) -> str:
        return self._avatar_name

    # --- the presenter avatar: found or made once, then reused ------------------------------

    def presenter_avatar(self) -> str:
        """The id of the READY presenter avatar: the pinned one, else the one of our name
        (``avatar_name``), made when there is none. Waits up to ``avatar_wait_s`` for one that
        is PROCESSING; raises an uncharged ProviderError when it is still not READY (transient,
        with a Retry-After) or FAILED."""
        with self._avatar_lock:  # one lookup per instance, whatever its threads
            if self._avatar_id is not None:
                return self._avatar_id
            found = self._find_avatar()
            if found is None:
                self._create_avatar()
                # Look again rather than trust our answer: an instance racing us may have made
                # one first, and every instance must settle on the same one (`_pick`).
                found = self._find_avatar()
                if found is None:
                    raise malformed(PROVIDER_ID, "avatar", "created avatar not listed")
            found = self._wait_ready(found)
            self._avatar_id = found.avatar_id
            return found.avatar_id

    def _find_avatar(self) -> Avatar | None:
        ours: list[Avatar] = []
        cursor: str | None = None
        for _ in range(AVATAR_PAGES):
            params: dict[str, str | int] = {"limit": AVATAR_PAGE}
            if cursor:
                params["cursor"] = cursor
            _, page = self._call(
                "GET", "/v1/avatars", op="avatar", read_code=read_code, params=params
            )
            data = page.get("data")
            if not isinstance(data, list):
                raise malformed(PROVIDER_ID, "avatar", "no avatar list")
            for item in data:
                avatar = _avatar_of(item)
                if avatar is not None and str_field(item, "name") == self._avatar_name:
                    ours.append(avatar)
            cursor = str_field(page, "nextCursor")
            if not cursor:
                break
        return _pick(ours)

    def _create_avatar(self) -> None:
        payload: JSONObject = {
            "name": self._avatar_name,
            "personality": PERSONALITY,
            "referenceImage": self._prompt_image_url,
            "voice": {"type": "runway-live-preset", "presetId": self._voice},
        }
        self._call("POST", "/v1/avatars", op="avatar", read_code=read_code, json=payload)

    def _wait_ready(self, avatar: Avatar) -> Avatar:
        waited_until = time.monotonic() + self._avatar_wait_s
        while avatar.status == "PROCESSING" and time.monotonic() < waited_until:
            time.sleep(self._avatar_poll_s)
            path = id_path("/v1/avatars/{id}", avatar.avatar_id)
            _, body = self._call("GET", path, op="avatar", read_code=read_code)
            avatar = _avatar_of(body) or avatar
        if avatar.status == "FAILED":
            # Not the job's fault and not passing: the presenter image needs replacing.
            raise ProviderError(
                ErrorCategory.AUTHENTICATION,
                f"runwayml presenter avatar {avatar.avatar_id} failed: "
                f"{clip(avatar.failure or 'no reason given')}; set RUNWAYML_PROMPT_IMAGE_URL "
                "to another image or RUNWAYML_AVATAR_ID to a ready avatar",
                provider_id=PROVIDER_ID,
                provider_code="avatar_failed",
            )
        if avatar.status != "READY":
            raise ProviderError(
                ErrorCategory.TRANSIENT,
                f"runwayml presenter avatar {avatar.avatar_id} is still processing",
                provider_id=PROVIDER_ID,
                provider_code="avatar_processing",
                retry_after=AVATAR_RETRY_S,
            )
        return avatar

    # --- renders ----------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> Submission:
        avatar_id = self.presenter_avatar()
        # Presentation: the body is model, avatar and speech and nothing else
        # (runwayml/sdk-python src/runwayml/types/avatar_video_create_params.py, v5.13.0): no
        # background, caption, name card, ratio or resolution. The capabilities say so (16:9,
        # 720p, the presenter's own backdrop) and the job's notes name what was not honoured.
        payload: JSONObject = {
            "model": MODEL,
            "avatar": {"type": "custom", "avatarId": avatar_id},
            # No voice override: the avatar's own voice speaks (avatar_video_create_params.py).
            "speech": {"type": "text", "text": request.script},
        }
        key = request.idempotency_key
        try:
            _, body = self._call(
                "POST",
                "/v1/avatar_videos",
                op="submit",
                read_code=read_submit_code,
                billable=True,
                json=payload,
                headers={"Idempotency-Key": key},  # undocumented by Runway; harmless
            )
        except ProviderError as error:
            if error.status in {400, 404} and not self._pinned:
                # Perhaps our avatar was deleted (Runway's wording for it is not published):
                # the next submit looks it up again, and makes one when it is gone.
                with self._avatar_lock:
                    self._avatar_id = None
            raise
        task_id = check_render_id(PROVIDER_ID, "submit", str_field(body, "id"), charged=True)
        return Submission(
            provider_id=PROVIDER_ID,
            provider_job_id=task_id,
            idempotency_key=key,
            # As long as the script takes to speak; no duration is asked for.
            requested_duration_s=float(request.options.duration.seconds),
        )

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus:
        check_render_id(PROVIDER_ID, "status", provider_job_id, charged=False)
        path = id_path("/v1/tasks/{id}", provider_job_id)
        _, body = self._call("GET", path, op="status", read_code=read_code)
        raw_state = str_field(body, "status")
        if raw_state is None:
            raise malformed(PROVIDER_ID, "status", "no status")
        if raw_state in {"FAILED", "CANCELLED"}:
            code = clip_code(str_field(body, "failureCode"))
            raise ProviderError.from_signal(
                Signal(render_failed=True, code_category=failure_code_category(code)),
                f"runwayml task {provider_job_id} {raw_state.lower()}: "
                f"{clip(str_field(body, 'failure') or code or 'no reason given')}",
                provider_id=PROVIDER_ID,
                provider_code=code,
                charged=True,
            )
        output = body.get("output")
        urls = [u for u in output if isinstance(u, str) and u] if isinstance(output, list) else []
        video_url = self._media_url(
            urls[0] if urls else None,
            op="status",
            what="output URL",
            required=raw_state == "SUCCEEDED",
        )
        return render_status(
            PROVIDER_ID,
            provider_job_id,
            raw_state,
            _STATES,
            video_url=video_url,
            # Not in the documented task; the simulator sends it.
            duration_s=num_field(body, "duration"),
            expected_duration_s=expected_duration_s,
            progress=num_field(body, "progress"),
        )

    def find(self, request: SubmitRequest) -> Submission | None:
        """No lookup of renders is relied on (``finds_renders`` False): a submit whose answer
        was lost is never sent here again."""
        del request
        return None

    def cancel(self, provider_job_id: str) -> bool:
        """``DELETE /v1/tasks/{id}`` (runwayml/sdk-python ``tasks.delete``): cancels a running
        task, deletes a finished one; 204, no body. A task the API no longer knows is over."""
        try:
            self._call(
                "DELETE",
                f"/v1/tasks/{provider_job_id}",
                op="cancel",
                read_code=read_code,
                empty_ok=True,
            )
        except ProviderError as error:
            if error.status == 404:
                return True
            raise
        return True

    def probe(self) -> ProbeResult:
        started = time.monotonic()
        self._call("GET", "/v1/organization", op="probe", read_code=read_code)
        return ProbeResult(provider_id=PROVIDER_ID, latency_s=time.monotonic() - started)

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent:
        raise WebhookError(404, "runwayml sends no webhooks; poll its tasks")
