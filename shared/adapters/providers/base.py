"""The one interface the rest of CVPlus sees of a video provider, and the frozen values that cross
it. Provider modules (heygen, runwayml, did) hold their wire formats; nothing here knows one.

Failure contract: every method raises only ``shared.core.errors.ProviderError`` (classified at the
boundary) or, for webhooks, ``WebhookError`` (carrying the HTTP status to answer with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from shared.core.errors import ProviderError, Signal
from shared.core.model import Capabilities, VideoOptions

# A talking-head video lasts as long as its script takes to speak (the expected length comes
# from the script, `orchestration.spoken_length_s`, never from the requested duration). Voices
# speak about 2 to 3 words a second, so only a render shorter than half, or longer than twice,
# the expected length (with DURATION_SLACK_S either way) is refused: a truncated or garbled
# render, never a correct video that merely speaks faster or slower.
DURATION_SLACK_S = 5.0
DURATION_FACTOR = 2.0


def idempotency_key(job_id: str, attempt: int) -> str:
    """The provider idempotency key of one submit: a hash of job id and attempt, so a retried
    submit after a lost answer reuses it and a new attempt gets a new one. Fits HeyGen's
    documented pattern ``[A-Za-z0-9_:.-]{1,255}``."""
    digest = hashlib.sha256(f"{job_id}\x00{attempt}".encode()).hexdigest()
    return f"cvplus-{digest[:40]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitRequest:
    """What one submit asks of a provider. ``callback_token`` is the per-job secret put in the
    callback URL for providers that do not sign webhooks (D-ID); the caller stores it on the job."""

    job_id: str
    attempt: int
    script: str
    options: VideoOptions = field(default_factory=VideoOptions)
    callback_url: str | None = None
    callback_token: str | None = field(default=None, repr=False)

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.job_id, self.attempt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """A render the provider accepted (and may bill for)."""

    provider_id: str
    provider_job_id: str
    idempotency_key: str
    requested_duration_s: float


class RenderState(StrEnum):
    PENDING = "pending"  # accepted, queued (RunwayML THROTTLED included)
    PROCESSING = "processing"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderStatus:
    """A render that has not failed. A COMPLETED status always has a ``video_url`` that passed the
    quality check; failed or low-quality renders are raised as ``ProviderError`` instead."""

    provider_id: str
    provider_job_id: str
    state: RenderState
    video_url: str | None = None
    thumbnail_url: str | None = None
    duration_s: float | None = None
    progress: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """An authenticated cheap read answered; ``latency_s`` is measured around the HTTP call."""

    provider_id: str
    latency_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRequest:
    """The raw request as the HTTP function received it: the body exactly as sent (signatures are
    computed over these bytes), headers, and the callback URL's query parameters."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """A verified completion notice. ``event_id`` is stable across redeliveries (for dedup);
    ``job_id`` is our job id as echoed by the provider (HeyGen ``callback_id``, D-ID query)."""

    provider_id: str
    provider_job_id: str
    job_id: str | None
    succeeded: bool
    event_id: str
    video_url: str | None = None
    failure_message: str | None = None
    duration_s: float | None = None  # the video's length, where the provider says it
    # False: the callback's token was ours, but the provider's API could not be asked about the
    # render (a status outage). Neither success nor failure: the job looks at the render later.
    confirmed: bool = True


class WebhookError(Exception):
    """A webhook request we refuse; ``status`` is what the HTTP function should answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"WebhookError({self.status!r}, {self.message!r})"


@runtime_checkable
class VideoProvider(Protocol):
    """A video provider adapter. Sync (Cloud Functions handlers are sync); one reused HTTP
    client per adapter; every failure is a classified ``ProviderError``."""

    @property
    def provider_id(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def submit(self, request: SubmitRequest) -> Submission: ...

    def find(self, request: SubmitRequest) -> Submission | None:
        """The render an earlier submit of ``request`` (same job and key) made, if the provider
        shows one (``Capabilities.finds_renders``); None when it shows none, or offers no way
        to look. ProviderError when the look fails."""
        ...

    def cancel(self, provider_job_id: str) -> bool:
        """Stop a render at the provider: True when it was cancelled there (or was already
        over), False when the provider offers no way to cancel. ProviderError otherwise."""
        ...

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus: ...

    def probe(self) -> ProbeResult: ...

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent: ...

    def close(self) -> None: ...


def check_render(
    *,
    provider_id: str,
    provider_job_id: str,
    video_url: str | None,
    duration_s: float | None,
    expected_duration_s: float | None,
) -> None:
    """Raise a charged ``quality_failure`` for a finished render that is not usable: no video URL,
    or a length far from the script's spoken length (DURATION_FACTOR). An unknown length is not
    held against the render."""
    problem: str | None = None
    if not video_url:
        problem = "finished without a video URL"
    elif duration_s is not None and expected_duration_s is not None:
        low = expected_duration_s / DURATION_FACTOR - DURATION_SLACK_S
        high = expected_duration_s * DURATION_FACTOR + DURATION_SLACK_S
        if not low <= duration_s <= high:
            problem = (
                f"lasts {duration_s:.1f}s; its script takes about {expected_duration_s:.0f}s "
                "to speak"
            )
    if problem is not None:
        raise ProviderError.from_signal(
            Signal(below_quality=True),
            f"{provider_id} render {provider_job_id} {problem}",
            provider_id=provider_id,
            charged=True,
        )


def failure_of(
    event: WebhookEvent, *, expected_duration_s: float | None = None
) -> ProviderError | None:
    """The classified failure a verified webhook reports, or None for a usable success: the
    same quality check as a status poll's, so a render passes or fails whichever way it was
    noticed."""
    if not event.succeeded:
        return ProviderError.from_signal(
            Signal(render_failed=True),
            f"{event.provider_id} render {event.provider_job_id} failed: "
            f"{event.failure_message or 'no reason given'}",
            provider_id=event.provider_id,
            charged=True,
        )
    try:
        check_render(
            provider_id=event.provider_id,
            provider_job_id=event.provider_job_id,
            video_url=event.video_url,
            duration_s=event.duration_s,
            expected_duration_s=expected_duration_s,
        )
    except ProviderError as error:
        return error
    return None
