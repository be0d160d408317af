"""RunwayML developer API: the whole wire format of RunwayML in one module. Polling only.

Checked against (2026-11-29, via the stored-docs search and the official SDK in the code index):
- github runwayml/sdk-python src/runwayml/_client.py — base URL ``https://api.dev.runwayml.com``,
  ``Authorization: Bearer <key>``, ``X-Runway-Version: 2024-11-06``.
- runwayml/sdk-python src/runwayml/types/image_to_video_create_params.py — ``POST
  /v1/image_to_video`` with ``model`` (``gen4_turbo``), ``promptImage`` (HTTPS URL), ``promptText``
  (<= 1000 UTF-16 units), ``ratio`` (``1280:720``, ``720:1280``...), ``duration`` (seconds).
- runwayml/sdk-python src/runwayml/types/task_retrieve_response.py — ``GET /v1/tasks/{id}``:
  status PENDING | THROTTLED | RUNNING | SUCCEEDED | FAILED | CANCELLED, ``output`` (URLs),
  ``failure``, ``failureCode`` (dot-separated, most generic segment first), ``progress``.
- docs.dev.runwayml.com/errors/errors — HTTP 400/401/404/405 not retryable; 429 retryable;
  502/503 "shedding load", 504 "overloaded". docs.dev.runwayml.com/errors/task-failures —
  ``SAFETY.*`` (do not retry), ``INTERNAL.BAD_OUTPUT.*`` (rejected for quality); a 429 "may be
  returned when an integration's limits have been reached".
- docs.dev.runwayml.com/usage/tiers — per-model limits by tier: tier 1 runs 1-2 generations at
  once and 50-200 a day, tier 3 five at once (``concurrency_limit`` defaults to 1).
- runwayml/sdk-python src/runwayml/types/organization_retrieve_response.py — ``GET
  /v1/organization`` gives ``tier.models[m].maxConcurrentGenerations`` /
  ``maxDailyGenerations`` and ``usage.models[m].dailyGenerations`` (how a 429 is told to be the
  daily cap, ``RunwayMLProvider._as_daily_cap``).
- docs.dev.runwayml.com/assets/outputs — output URLs on ``dnznrvs05pmza.cloudfront.net``,
  ephemeral (24-48 h).

Not confirmed: an idempotency header (Runway documents none; we still send ``Idempotency-Key``, and
a retried submit may be billed twice); ``gen4_turbo`` durations are 5 or 10 s (older docs), so a CV
introduction of 30-90 s cannot be served without degradation, hence ``max_duration_s=10``; the
out-of-credits answer (we read a 400 whose message mentions credits as quota); the text of the
daily-cap 429 (the organization's usage decides; cap wording counts too); that outputs stay on that
one CloudFront host (Runway's own domain is admitted as well; ``RUNWAYML_MEDIA_HOSTS``). RunwayML
has no voice, no lip-sync and no avatar: it animates one still image, and its output carries no
narration.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

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
from shared.core.model import AspectRatio, Capabilities, Resolution

PROVIDER_ID = "runwayml"
DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
API_VERSION = "2024-11-06"
MODEL = "gen4_turbo"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_PROMPT_CHARS = 1000
DURATIONS_S = (5, 10)
# Placeholder: set RUNWAYML_PROMPT_IMAGE_URL to a real HTTPS image of the presenter.
DEFAULT_PROMPT_IMAGE_URL = "https://storage.googleapis.com/cvplus-public/presenter.jpg"
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
    features=frozenset(),  # no voice, no lip-sync, no custom avatar
    max_duration_s=max(DURATIONS_S),
    resolutions=frozenset({Resolution.P720}),  # 1280:720 / 720:1280
    aspect_ratios=frozenset({AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT}),
    # gen4_turbo list price, about $0.05 per second, for a 10 s clip.
    price_per_video=0.50,
    # docs.dev.runwayml.com/usage/tiers: tier 1 allows 1-2 concurrent generations per model
    # (1 for some video models), tier 2 three, tier 3 five; further tasks wait as THROTTLED.
    # The default is the lowest tier's 1; set RUNWAYML_CONCURRENCY to the project's tier.
    concurrency_limit=DEFAULT_CONCURRENCY,
    typical_render_s=60.0,
    webhooks=False,  # no callbacks: renders are polled
)

_RATIOS = {AspectRatio.LANDSCAPE: "1280:720", AspectRatio.PORTRAIT: "720:1280"}

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
        # docs.dev.runwayml.com/errors/errors: a 429 "may be returned when an integration's
        # limits have been reached"; docs.dev.runwayml.com/usage/tiers: those limits include
        # a cap of generations per day (50-200 at tier 1). Runway publishes no error text for
        # it, so its wording decides; a 429 that says nothing of the kind stays a rate limit.
        return "daily_limit", ErrorCategory.QUOTA_EXCEEDED, message
    return None, None, message


def clip_duration(requested_s: int) -> int:
    """The longest clip Runway renders that does not exceed the request (5 s at least)."""
    fitting = [d for d in DURATIONS_S if d <= requested_s]
    return max(fitting) if fitting else min(DURATIONS_S)


class RunwayMLProvider(HttpAdapter):
    provider_id = PROVIDER_ID

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        prompt_image_url: str = DEFAULT_PROMPT_IMAGE_URL,
        concurrency_limit: int = DEFAULT_CONCURRENCY,
        media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
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
        self._prompt_image_url = prompt_image_url
        self._capabilities = replace(
            CAPABILITIES, concurrency_limit=max(1, min(concurrency_limit, MAX_CONCURRENCY))
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def submit(self, request: SubmitRequest) -> Submission:
        duration = clip_duration(request.options.duration.seconds)
        payload: JSONObject = {
            "model": MODEL,
            "promptImage": self._prompt_image_url,
            "promptText": request.script[:MAX_PROMPT_CHARS],
            "ratio": _RATIOS[request.options.aspect_ratio],
            "duration": duration,
        }
        key = request.idempotency_key
        try:
            _, body = self._call(
                "POST",
                "/v1/image_to_video",
                op="submit",
                read_code=read_code,
                billable=True,
                json=payload,
                headers={"Idempotency-Key": key},  # undocumented by Runway; sent for safety
            )
        except ProviderError as error:
            if error.status == 429 and error.category is ErrorCategory.RATE_LIMIT:
                raise self._as_daily_cap(error) from error
            raise
        task_id = check_render_id(PROVIDER_ID, "submit", str_field(body, "id"), charged=True)
        return Submission(
            provider_id=PROVIDER_ID,
            provider_job_id=task_id,
            idempotency_key=key,
            requested_duration_s=float(duration),
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

    def _as_daily_cap(self, error: ProviderError) -> ProviderError:
        """A 429 whose text says nothing of a cap may still be the tier's daily one: Runway's
        ``GET /v1/organization`` (runwayml/sdk-python types/organization_retrieve_response.py)
        reports ``tier.models[model].maxDailyGenerations`` and
        ``usage.models[model].dailyGenerations``. When the model's day is used up the 429 is
        quota; when the check itself fails, it stays the rate limit it looked like."""
        try:
            _, org = self._call(
                "GET", "/v1/organization", op="limits", read_code=read_code, deadline_s=5.0
            )
        except ProviderError:
            return error
        cap = num_field(
            obj_field(obj_field(obj_field(org, "tier"), "models"), MODEL), "maxDailyGenerations"
        )
        used = num_field(
            obj_field(obj_field(obj_field(org, "usage"), "models"), MODEL), "dailyGenerations"
        )
        if cap is None or used is None or used < cap:
            return error
        return ProviderError(
            ErrorCategory.QUOTA_EXCEEDED,
            f"{error.message} (daily cap of {cap:.0f} {MODEL} generations reached)",
            provider_id=PROVIDER_ID,
            status=error.status,
            provider_code="daily_limit",
            retry_after=error.retry_after,
        )

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
