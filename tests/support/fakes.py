"""The one scripted provider and the one clock the tests drive, and the script they read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.model import Capabilities

NOW = 1_000_000.0
# 150 words, 60 s (a "medium" introduction) at the provider simulator's 2.5 words per second.
SCRIPT = " ".join(["experienced"] * 150)


class Clock:
    """The time the test says: ``now`` (move it by setting it, or ``offset``); with ``now`` None,
    the wall clock plus ``offset``, so a test can jump ahead of real time without waiting."""

    def __init__(self, now: float | None = NOW) -> None:
        self.now = now
        self.offset = 0.0

    def __call__(self) -> float:
        return (time.time() if self.now is None else self.now) + self.offset


def error(
    category: ErrorCategory, pid: str, *, charged: bool = False, status: int | None = None
) -> ProviderError:
    return ProviderError(
        category, f"scripted {category.value}", provider_id=pid, charged=charged, status=status
    )


@dataclass
class ScriptedProvider:
    """A provider adapter that answers as the test says: each ``fail_*`` is raised by that call
    while set; a render is in ``state`` at every status check (with ``progress`` until it is
    completed); ``event`` is what any webhook verifies to (None: refused as badly signed)."""

    caps: Capabilities
    submits: list[SubmitRequest] = field(default_factory=list)
    fail_submit: ProviderError | None = None
    fail_status: ProviderError | None = None
    fail_probe: ProviderError | None = None
    state: RenderState = RenderState.PROCESSING
    on_submit: Callable[[], None] | None = None
    event: WebhookEvent | None = None
    cancels: list[str] = field(default_factory=list)
    can_cancel: bool = True
    progress: float | None = None
    # What a submission says it will render (None: the duration the job asks for); a completed
    # render reports the duration expected of it when ``echo_duration`` (else none).
    render_s: float | None = 60.0
    echo_duration: bool = False

    @property
    def provider_id(self) -> str:
        return self.caps.provider_id

    @property
    def capabilities(self) -> Capabilities:
        return self.caps

    def fail(self, category: ErrorCategory | None) -> None:
        """Every submit and probe fails with ``category`` (None: they succeed again), with the
        HTTP status such an answer carries."""
        failure = None
        if category is not None:
            status = {ErrorCategory.AUTHENTICATION: 401}.get(category, 503)
            failure = error(category, self.provider_id, status=status)
        self.fail_submit = self.fail_probe = failure

    def submit(self, request: SubmitRequest) -> Submission:
        self.submits.append(request)
        if self.on_submit is not None:
            self.on_submit()
        if self.fail_submit is not None:
            raise self.fail_submit
        return Submission(
            provider_id=self.provider_id,
            provider_job_id=f"{self.provider_id}-r{len(self.submits)}",
            idempotency_key=request.idempotency_key,
            requested_duration_s=(
                self.render_s
                if self.render_s is not None
                else float(request.options.duration.seconds)
            ),
        )

    def find(self, request: SubmitRequest) -> Submission | None:
        """No render is ever shown (a scripted provider keeps none)."""
        del request
        return None

    def status(
        self, provider_job_id: str, *, expected_duration_s: float | None = None
    ) -> RenderStatus:
        if self.fail_status is not None:
            raise self.fail_status
        done = self.state is RenderState.COMPLETED
        return RenderStatus(
            provider_id=self.provider_id,
            provider_job_id=provider_job_id,
            state=self.state,
            video_url=f"https://cdn.example/{provider_job_id}.mp4" if done else None,
            progress=None if done else self.progress,
            duration_s=expected_duration_s if done and self.echo_duration else None,
        )

    def cancel(self, provider_job_id: str) -> bool:
        self.cancels.append(provider_job_id)
        return self.can_cancel

    def probe(self) -> ProbeResult:
        if self.fail_probe is not None:
            raise self.fail_probe
        return ProbeResult(provider_id=self.provider_id, latency_s=0.1)

    def parse_webhook(
        self, request: WebhookRequest, *, expected_token: str | None = None
    ) -> WebhookEvent:
        if self.event is None:
            raise WebhookError(401, "bad signature")
        return self.event

    def close(self) -> None:
        pass
