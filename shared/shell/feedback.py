"""rateVideo: the owner of a finished video rates it 1-5, once. The rating is a metrics snapshot
(``provider_metrics/feedback-{jobId}``, created only if absent), so it reaches the provider's
stats (userSatisfaction, shrunk towards a prior in scoring) and the hourly analytics."""

from __future__ import annotations

from shared.adapters.stores import base as stores
from shared.core.jobs import JobStatus
from shared.core.refusals import AlreadyExists, InvalidRequest, NotFound, WrongState
from shared.core.tracking import MetricsSnapshot, Operation
from shared.shell.context import Shell


def rate(shell: Shell, *, user_id: str, job_id: str, rating: int) -> float:
    """Store the rating; returns its time. Another user's job is "not-found", as a missing one
    is (its existence is not theirs to learn)."""
    if not 1 <= rating <= 5:
        raise InvalidRequest("rating: between 1 and 5", [{"field": "rating", "message": "1 to 5"}])
    job = shell.ports.jobs.get(job_id)
    if job is None or job.user_id != user_id:
        raise NotFound(f"no video job {job_id}")
    if job.status is not JobStatus.COMPLETED or job.provider_id is None:
        raise WrongState("only a finished video can be rated")
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
        raise AlreadyExists("this video has already been rated")
    return now
