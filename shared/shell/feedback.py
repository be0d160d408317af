"""rateVideo: the owner of a finished video rates it 1-5, once. The rating is a metrics snapshot
(``provider_metrics/feedback-{jobId}``, created only if absent), so it reaches the provider's
stats (userSatisfaction, shrunk towards a prior in scoring) and the hourly analytics."""

from __future__ import annotations

from shared.adapters.stores import base as stores
from shared.core.jobs import JobStatus
from shared.core.tracking import MetricsSnapshot, Operation
from shared.shell.context import Shell


class FeedbackError(Exception):
    """Why a rating is refused; ``code`` names the callable's HttpsError."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def rate(shell: Shell, *, user_id: str, job_id: str, rating: int) -> float:
    """Store the rating; returns its time. Another user's job is "not-found", as a missing one
    is (its existence is not theirs to learn)."""
    if not 1 <= rating <= 5:
        raise FeedbackError("invalid-argument", "rating: between 1 and 5")
    job = shell.ports.jobs.get(job_id)
    if job is None or job.user_id != user_id:
        raise FeedbackError("not-found", f"no video {job_id!r} of yours")
    if job.status is not JobStatus.COMPLETED or job.provider_id is None:
        raise FeedbackError("failed-precondition", "only a finished video can be rated")
    now = shell.ports.clock()
    snap = MetricsSnapshot(
        provider_id=job.provider_id,
        at=now,
        operation=Operation.FEEDBACK,
        success=True,
        response_time_s=0.0,
        job_id=job.job_id,
        tier=job.tier.value,
        user_satisfaction=float(rating),
    )
    if not shell.ports.docs.create(stores.METRICS, f"feedback-{job.job_id}", snap.to_doc()):
        raise FeedbackError("already-exists", "this video has already been rated")
    return now
