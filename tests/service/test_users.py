"""What a user does after asking for a video: cancel (at once before the submit, at the provider
after it, and nothing changes when the provider answers later), retry (a new job keeping the
history, within the limits), tiers and quota, live progress, the web app's CV job mirrored once
per stage, and the split between the user's job document and the admin-only internals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.adapters.providers.base import RenderState, WebhookEvent, WebhookRequest
from shared.adapters.stores import base as stores
from shared.core.breaker import ManualAction
from shared.core.errors import ErrorCategory
from shared.core.jobs import AppCall, JobStatus
from shared.core.model import Duration, Resolution, Tier, Urgency, VideoOptions
from shared.core.quota import QuotaExceededError
from shared.core.refusals import NotFound, WrongState
from shared.core.tiers import TierRefusedError
from shared.shell import admin, processing, users, webhooks
from shared.shell.context import capabilities_of
from tests.support.fakes import NOW, error
from tests.support.memory import World

USER = "user-1"

# The attempt and expiry every callback URL names (the fake adapters check no token).
CALLBACK = {"attempt": "1", "exp": "4000000000"}


def jobs_retry_id(job_id: str) -> str:
    return f"{job_id}-r1"


def _runway_takes_anything(world: World) -> None:
    """RunwayML's real clips are 10 s; here it takes the test's jobs."""
    p = world.providers["runwayml"]
    p.caps = replace(p.caps, max_duration_s=90, resolutions=frozenset(Resolution))
    world.choose(capabilities=capabilities_of(world.providers))  # the setup holds them too


def _submitted(world: World, provider: str = "runwayml") -> str:
    """A job submitted to ``provider`` (the others refuse), rendering."""
    _runway_takes_anything(world)
    for pid, p in world.providers.items():
        if pid != provider:
            p.fail_submit = error(ErrorCategory.AUTHENTICATION, pid)
    world.job(options=VideoOptions(duration=Duration.SHORT, features=frozenset()))
    job = processing.process(world.shell, "job-1")
    assert job is not None
    assert job.provider_id == provider
    assert job.provider_job_id
    return job.provider_job_id


def test_a_queued_job_is_cancelled_at_once_and_never_submitted(world: World) -> None:
    world.job()
    job, stopped = users.cancel(world.shell, job_id="job-1", user_id=USER)
    assert job.status is JobStatus.CANCELLED
    assert not stopped
    assert processing.process(world.shell, "job-1") is None  # nothing left to claim
    assert not any(p.submits for p in world.providers.values())
    again, _ = users.cancel(world.shell, job_id="job-1", user_id=USER)  # idempotent
    assert again.status is JobStatus.CANCELLED


def test_a_submitted_render_is_cancelled_at_its_provider_and_its_poll_changes_nothing(
    world: World,
) -> None:
    render = _submitted(world)
    _job, stopped = users.cancel(world.shell, job_id="job-1", user_id=USER)
    assert stopped
    assert world.providers["runwayml"].cancels == [render]
    world.providers["runwayml"].state = RenderState.COMPLETED
    world.clock.now += 60
    assert processing.process(world.shell, "job-1") is None
    stored = world.shell.ports.jobs.get("job-1")
    assert stored is not None
    assert stored.status is JobStatus.CANCELLED
    assert stored.result is None


def test_a_webhook_after_a_cancel_changes_nothing(world: World) -> None:
    render = _submitted(world, provider="heygen")
    users.cancel(world.shell, job_id="job-1", user_id=USER)
    world.providers["heygen"].event = WebhookEvent(
        provider_id="heygen",
        provider_job_id=render,
        job_id="job-1",
        succeeded=True,
        event_id="e1",
        video_url="https://cdn.example/late.mp4",
    )
    note = webhooks.on_webhook(world.shell, "heygen", WebhookRequest(body=b"{}", query=CALLBACK))
    assert note.startswith("ignored")
    stored = world.shell.ports.jobs.get("job-1")
    assert stored is not None
    assert stored.status is JobStatus.CANCELLED


def test_a_submit_answered_after_the_cancel_is_cancelled_at_the_provider(world: World) -> None:
    """The owner cancels while the submit is in flight: the job stays cancelled, and the
    render the provider accepted meanwhile is cancelled there."""
    _runway_takes_anything(world)
    for pid in ("heygen", "did"):
        world.providers[pid].fail_submit = error(ErrorCategory.AUTHENTICATION, pid)
    world.providers["runwayml"].on_submit = lambda: users.cancel(
        world.shell, job_id="job-1", user_id=USER
    )
    world.job(options=VideoOptions(duration=Duration.SHORT, features=frozenset()))
    job = processing.process(world.shell, "job-1")
    assert job is not None
    assert job.status is JobStatus.CANCELLED
    assert world.providers["runwayml"].cancels == ["runwayml-r1"]


def test_cancel_and_retry_answer_precisely(world: World) -> None:
    with pytest.raises(NotFound):
        users.cancel(world.shell, job_id="nope", user_id=USER)
    world.job()
    with pytest.raises(NotFound):
        users.cancel(world.shell, job_id="job-1", user_id="someone-else")
    with pytest.raises(NotFound):
        users.retry(world.shell, job_id="job-1", user_id="someone-else")
    with pytest.raises(WrongState, match="only a failed or cancelled job"):
        users.retry(world.shell, job_id="job-1", user_id=USER)


def test_a_completed_job_cannot_be_cancelled(world: World) -> None:
    _submitted(world)
    world.providers["runwayml"].state = RenderState.COMPLETED
    world.clock.now += 60
    done = processing.process(world.shell, "job-1")
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    with pytest.raises(WrongState, match="already completed"):
        users.cancel(world.shell, job_id="job-1", user_id=USER)


def test_a_failed_job_runs_again_keeping_its_history(world: World) -> None:
    for pid, p in world.providers.items():
        p.fail_submit = error(ErrorCategory.QUOTA_EXCEEDED, pid)
    world.job(max_attempts=1)
    failed = processing.process(world.shell, "job-1")
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    for p in world.providers.values():
        p.fail_submit = None
    for p in world.providers.values():
        p.state = RenderState.COMPLETED

    retried, dedup = users.retry(world.shell, job_id="job-1", user_id=USER)
    assert not dedup
    assert retried.retry_of == "job-1"
    assert retried.job_id == "job-1-r1"
    assert retried.history == failed.history
    assert retried.status is JobStatus.QUEUED
    assert (users.retry(world.shell, job_id="job-1", user_id=USER)) == (retried, True)
    # The breakers opened on the quota failures; closed by hand, the retry completes.
    for pid in world.providers:
        admin.set_circuit(world.shell, pid, ManualAction.CLOSE, by="test", reason="test")
    world.clock.now += 1
    done = processing.process(world.shell, "job-1-r1")
    assert done is not None
    assert done.history[: len(failed.history)] == failed.history
    old = world.shell.ports.jobs.get("job-1")
    assert old is not None
    assert old.status is JobStatus.FAILED


def test_a_retry_counts_against_the_hourly_limit(world: World) -> None:
    world.choose(user_jobs_per_hour=1)
    job, _ = processing.create_job(
        world.shell,
        user_id=USER,
        script="Hello, I build reliable things for people.",
        options=VideoOptions(),
    )
    users.cancel(world.shell, job_id=job.job_id, user_id=USER)
    with pytest.raises(QuotaExceededError, match="limit is 1 per hour"):
        users.retry(world.shell, job_id=job.job_id, user_id=USER)
    assert world.shell.ports.jobs.get(jobs_retry_id(job.job_id)) is None


def test_tiers_limit_the_options_and_the_counts(world: World) -> None:
    with pytest.raises(TierRefusedError) as refused:
        processing.create_job(
            world.shell,
            user_id=USER,
            script="Hello, I build reliable things for people.",
            options=VideoOptions(duration=Duration.LONG, urgency=Urgency.CRITICAL),
            tier=Tier.FREE,
        )
    fields = {r.field: r.message for r in refused.value.disallowed}
    assert set(fields) == {"options.duration", "options.urgency"}
    assert "free tier" in fields["options.duration"]
    assert "short, medium" in fields["options.duration"]
    processing.create_job(
        world.shell,
        user_id=USER,
        script="Hello, I build reliable things for people.",
        options=VideoOptions(duration=Duration.LONG),
        tier=Tier.PREMIUM,
    )
    q = processing.usage(world.shell, user_id=USER, tier=Tier.PREMIUM)
    assert (q.used_hour, q.used_day, q.per_hour, q.per_day) == (1, 1, 30, 100)
    assert q.remaining == 29
    world.choose(user_jobs_per_hour=5)  # the operator's cap binds every tier
    assert processing.usage(world.shell, user_id=USER, tier=Tier.PREMIUM).per_hour == 5


def test_progress_moves_with_the_providers_figure_and_has_an_eta(world: World) -> None:
    _submitted(world)
    job = world.shell.ports.jobs.get("job-1")
    assert job is not None
    assert job.eta_at is not None
    assert job.eta_at > NOW
    doc = world.db.coll(stores.JOBS)["job-1"]
    assert (doc["stage"], doc["progress"]) == ("rendering", 15)
    seen = []
    for share in (0.2, 0.5, 0.9):
        world.providers["runwayml"].progress = share
        world.clock.now = (job.next_action_at or NOW) + 0.1
        job = processing.process(world.shell, "job-1")
        assert job is not None
        seen.append(world.db.coll(stores.JOBS)["job-1"]["progress"])
    assert seen == sorted(seen)
    assert seen[0] < seen[-1] <= 95


def test_the_users_document_holds_no_internals(world: World) -> None:
    _runway_takes_anything(world)
    for pid in ("heygen", "did"):
        world.providers[pid].fail_submit = error(ErrorCategory.AUTHENTICATION, pid)
    world.job(
        request_fingerprint="sha256:abc",
        options=VideoOptions(duration=Duration.SHORT, features=frozenset()),
    )
    processing.process(world.shell, "job-1")
    doc = world.db.coll(stores.JOBS)["job-1"]
    internal = world.db.coll(stores.JOBS_INTERNAL)["job-1"]
    text = repr(doc)
    assert "scripted authentication" not in text  # the provider's error text
    assert "requestFingerprint" not in doc
    assert "selectionReasoning" not in doc
    assert all("message" not in h for h in doc["providerHistory"])
    assert internal["requestFingerprint"] == "sha256:abc"
    assert internal["selectionReasoning"]
    assert "scripted authentication" in repr(internal["attemptMessages"])
    # ... and the job read back has all of it.
    job = world.shell.ports.jobs.get("job-1")
    assert job is not None
    assert job.request_fingerprint == "sha256:abc"
    assert job.history[0].message == "scripted authentication"


def test_the_app_cv_job_is_mirrored_once_per_stage(world: World) -> None:
    world.db.put(stores.CV_JOBS, "cv-1", {"userId": USER, "parsedData": {}})
    _runway_takes_anything(world)
    for pid in ("heygen", "did"):
        world.providers[pid].fail_submit = error(ErrorCategory.AUTHENTICATION, pid)
    users.introduce(
        world.shell,
        cv_job_id="cv-1",
        user_id=USER,
        cv=None,
        script="Hello, I build reliable things for people who need them.",
        options=VideoOptions(duration=Duration.SHORT, features=frozenset()),
        tier=Tier.FREE,
        call=AppCall.GENERATE,
    )
    video_job = world.db.coll(stores.CV_JOBS)["cv-1"]["enhancedFeatures"]["videoIntroduction"][
        "videoJobId"
    ]
    writes = []
    original = world.db.put

    def counting(collection, doc_id, data):  # type: ignore[no-untyped-def]
        if collection == stores.CV_JOBS:
            writes.append(data["videoStatus"])
        return original(collection, doc_id, data)

    world.db.put = counting  # type: ignore[method-assign]
    job = processing.process(world.shell, video_job)
    assert job is not None
    for _ in range(3):  # polls while rendering: no CV job write
        world.clock.now = (job.next_action_at or NOW) + 0.1
        job = processing.process(world.shell, video_job)
        assert job is not None
    world.providers["runwayml"].state = RenderState.COMPLETED
    world.clock.now = (job.next_action_at or NOW) + 0.1
    processing.process(world.shell, video_job)
    cv = world.db.coll(stores.CV_JOBS)["cv-1"]
    assert cv["videoStatus"] == "completed"
    assert cv["video"]["url"]
    assert cv["parsedData"] == {}
    assert cv["userId"] == USER
    assert cv["enhancedFeatures"]["videoIntroduction"]["progress"] == 100
    assert writes == ["generating", "completed"]  # preparing was written at intake
    status = users.video_status(world.shell, cv_job_id="cv-1", user_id=USER)
    assert status.status == "completed"
    with pytest.raises(NotFound):
        users.video_status(world.shell, cv_job_id="cv-1", user_id="other")
