"""What a user is shown of a job: one stage per state in words, a progress that only grows
within an attempt, a plain message for every error code the backend writes, degradations in
words, and the web app's CV job fields."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core import jobs, userview
from shared.core.degradation import Degradation
from shared.core.errors import ErrorCategory
from shared.core.jobs import AppCall, Job, JobError, VideoResult
from shared.core.userview import Stage

NOW = 1_000_000.0


def _job() -> Job:
    return Job(job_id="vj_1", created_at=NOW, deadline_at=NOW + 1800, user_id="u1")


def _begun(job: Job) -> Job:
    return jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW
    )


def test_each_state_has_its_stage_label_and_progress() -> None:
    queued = _job()
    begun = _begun(queued)
    rendering = jobs.submitted(begun, provider_job_id="r1", follow_up_at=NOW + 9, now=NOW)
    failed_once = jobs.retry_later(
        jobs.record_failure(begun, category="timeout", message="x", now=NOW),
        at=NOW + 5,
        prefer=None,
        exclude=None,
        now=NOW,
    )
    done = jobs.complete(rendering, result=VideoResult(video_url="https://v"), now=NOW)
    cancelled = jobs.cancel(rendering, now=NOW)
    seen = [
        (userview.stage(j), userview.progress(j))
        for j in (queued, begun, rendering, failed_once, done, cancelled)
    ]
    assert seen == [
        (Stage.QUEUED, 0),
        (Stage.SUBMITTING, 10),
        (Stage.RENDERING, 15),
        (Stage.RETRYING, 10),
        (Stage.COMPLETED, 100),
        (Stage.CANCELLED, 100),
    ]
    assert all(s in userview.STAGE_LABELS for s, _ in seen)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20).map(sorted))
def test_progress_follows_the_providers_figure_upwards_and_stays_under_95(
    shares: list[float],
) -> None:
    job = jobs.submitted(_begun(_job()), provider_job_id="r", follow_up_at=NOW, now=NOW)
    values = []
    for share in shares:
        job = jobs.submitted(job, provider_job_id="r", follow_up_at=NOW, now=NOW, progress=share)
        values.append(userview.progress(job))
    assert values == sorted(values)
    assert all(userview.RENDER_FROM <= v <= userview.RENDER_TO for v in values)


@pytest.mark.parametrize(
    "code",
    [c.value for c in ErrorCategory]
    + ["cancelled", "deadline_exceeded", "no_capable_provider", "no_provider_available"]
    + ["video_expired"],
)
def test_every_error_code_has_a_plain_message(code: str) -> None:
    message = userview.error_message(code)
    assert message.endswith(".")
    assert "_" not in message  # words, not the code
    assert message != userview.DEFAULT_ERROR_MESSAGE or code in ("system_error",)


def test_degradations_are_explained_in_words() -> None:
    assert set(userview.DEGRADATION_NOTES) == set(Degradation)
    job = jobs.degrade(
        _job(),
        options=_job().options,
        step=Degradation.RESOLUTION_1080P_TO_720P,
        at=NOW,
        now=NOW,
    )
    assert userview.degradation_notes(job) == ["Made in 720p instead of 1080p."]


def test_the_cv_job_mirror_as_the_app_reads_it() -> None:
    job = Job(
        job_id="vj_1",
        created_at=NOW,
        deadline_at=NOW + 1800,
        cv_job_id="cv-1",
        app_call=AppCall.GENERATE,
        script="Hello there, I am Ada.",
    )
    queued = userview.mirror_doc(job)
    assert queued["videoStatus"] == "generating"
    assert queued["enhancedFeatures"]["videoIntroduction"]["currentStep"] == "Preparing your video"
    assert isinstance(queued["updatedAt"], datetime)
    done = jobs.complete(
        _begun(job), result=VideoResult(video_url="https://v", duration_s=30.0), now=NOW + 60
    )
    completed = userview.mirror_doc(done, regenerated=True)
    assert completed["videoStatus"] == "completed"
    assert completed["video"]["url"] == "https://v"
    assert "regeneratedAt" in completed["video"]
    assert completed["enhancedFeatures"]["video"]["data"]["duration"] == 30.0
    failed = jobs.fail(
        _begun(job), error=JobError(code="timeout", message="raw", retryable=True), now=NOW
    )
    gone = userview.mirror_doc(failed)
    assert gone["videoStatus"] == "failed"
    assert gone["videoError"] == userview.error_message("timeout")
    assert "raw" not in repr(gone)
    assert userview.mirror_key(job) == userview.mirror_key(_begun(job)) == "preparing"
