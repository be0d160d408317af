"""The orchestration decisions as plain values: what to do next with a job, and the Effects of
every answer (job, side documents, breaker outcomes, next run, alerts)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.adapters.providers import did, heygen, runwayml
from shared.core import alerts, billing, jobs
from shared.core import breaker as br
from shared.core import orchestration as orch
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.jobs import Job, JobStatus, VideoResult
from shared.core.model import Duration, VideoOptions
from shared.core.records import CvJobMirror, Internal, Metric, RecoveryLog, Spend
from shared.core.recovery import STRATEGIES
from shared.core.scoring import Candidate, ProviderStats, Ranking, Rejected
from shared.core.tracking import Operation

NOW = 10_000.0
CAPS = {c.provider_id: c for c in (heygen.CAPABILITIES, did.CAPABILITIES, runwayml.CAPABILITIES)}
SETUP = orch.Setup(capabilities=CAPS, webhook_base_url="https://functions.example/")
QUIET = replace(SETUP, breaker_enabled=False, tracking_enabled=False)
RESULT = VideoResult(video_url="https://cdn.example/v.mp4")


# A medium video's script: 150 words, 60 s spoken, billed at each provider's medium price.
MEDIUM_SCRIPT = " ".join(["word"] * 150)


def new_job(**changes: object) -> Job:
    job = Job(
        job_id="job-1", created_at=NOW, deadline_at=NOW + orch.JOB_TIMEOUT_S, script=MEDIUM_SCRIPT
    )
    return replace(job, **changes)  # type: ignore[arg-type]


def on(provider_id: str, job: Job | None = None, *, now: float = NOW) -> Job:
    """A job whose attempt on ``provider_id`` was checkpointed (no answer yet)."""
    job = job or new_job()
    return jobs.begin_attempt(
        job, provider_id=provider_id, options=job.options, degradations=(), reasoning=(), now=now
    )


def rendering(provider_id: str = "heygen", *, now: float = NOW) -> Job:
    return jobs.submitted(
        on(provider_id, now=now), provider_job_id="r-1", follow_up_at=now, now=now
    )


def error(category: ErrorCategory, pid: str = "heygen", *, charged: bool = False) -> ProviderError:
    return ProviderError(category, f"simulated {category.value}", provider_id=pid, charged=charged)


def candidates() -> list[Candidate]:
    return [
        Candidate(
            capabilities=c,
            stats=ProviderStats(provider_id=pid),
            breaker=br.BreakerState(provider_id=pid),
            breaker_policy=br.BreakerPolicy(),
            in_flight=0,
        )
        for pid, c in CAPS.items()
    ]


def is_billed(category: ErrorCategory, pid: str, *, charged: bool) -> bool:
    """Whether a failure of ``category`` is billed: a failed render as its provider bills it
    (`billing`), anything else when the error says it may have been."""
    if category is ErrorCategory.PROCESSING_ERROR:
        return billing.failed_render_billed(pid)
    return charged


def metrics(effects: orch.Effects) -> list[dict[str, object]]:
    return [r.snapshot.to_doc() for r in effects.side if isinstance(r, Metric)]


def logs(effects: orch.Effects) -> list[dict[str, object]]:
    return [dict(r.entry) for r in effects.side if isinstance(r, RecoveryLog)]


# What to do next


def test_next_step_for_each_kind_of_job() -> None:
    assert orch.next_step(new_job(), NOW) is orch.Next.SUBMIT
    assert orch.next_step(new_job(next_action_at=NOW + 1), NOW) is orch.Next.STOP
    assert orch.next_step(jobs.complete(rendering(), result=RESULT, now=NOW), NOW) is orch.Next.STOP
    assert orch.next_step(new_job(), NOW + orch.JOB_TIMEOUT_S + 1) is orch.Next.EXPIRE
    # Past its deadline a job expires even while it waits for a later poll or a webhook.
    waiting = new_job(next_action_at=NOW + 2 * orch.JOB_TIMEOUT_S)
    assert orch.next_step(waiting, NOW + orch.JOB_TIMEOUT_S + 1) is orch.Next.EXPIRE
    assert orch.next_step(rendering(), NOW) is orch.Next.POLL
    assert orch.next_step(on("heygen"), NOW) is orch.Next.ORPHANED


def test_an_answered_attempt_is_not_open() -> None:
    failed = jobs.record_failure(on("heygen"), category="timeout", message="", now=NOW)
    assert not orch.open_attempt(failed)
    assert not orch.open_attempt(rendering())
    assert not orch.open_attempt(new_job())
    assert orch.open_attempt(on("heygen"))


def test_an_expired_job_fails_with_its_recovery_log() -> None:
    failed_once = jobs.record_failure(on("heygen"), category="timeout", message="", now=NOW)
    effects = orch.expire(failed_once, NOW + 5)
    assert effects.job is not None
    assert effects.job.status is JobStatus.FAILED
    assert effects.job.error is not None
    assert effects.job.error.code == "deadline_exceeded"
    assert [d["jobId"] for d in logs(effects)] == ["job-1"]
    assert effects.schedule is None
    assert logs(orch.expire(new_job(), NOW)) == []  # never failed: no recovery log


def test_an_orphaned_attempt_is_a_timeout_on_its_provider() -> None:
    lost = orch.orphaned_error(on("did"))
    assert lost.category is ErrorCategory.TIMEOUT
    assert lost.provider_id == "did"


# Submitting


def test_choose_ranks_the_capable_providers_and_begin_checkpoints_the_best() -> None:
    ranking = orch.choose(new_job(), candidates(), now=NOW, setup=SETUP)
    best = ranking.ranked[0]
    job = orch.begin(new_job(), best, NOW)
    assert job.provider_id == best.provider_id
    assert orch.open_attempt(job)
    assert not orch.needs_permit(best, SETUP)
    probing = replace(best, probe=True)
    assert orch.needs_permit(probing, SETUP)
    assert not orch.needs_permit(probing, QUIET)


def test_no_provider_waits_for_the_next_chance_or_fails() -> None:
    later = Ranking(
        ranked=(), rejected=(Rejected(provider_id="heygen", reason="busy", until=NOW + 9),)
    )
    waiting = orch.no_provider(new_job(), later, NOW)
    assert waiting.job is not None
    assert waiting.job.next_action_at == NOW + 9
    assert waiting.schedule == orch.Schedule(NOW + 9, "retry")

    never = Ranking(ranked=(), rejected=(Rejected(provider_id="did", reason="no 4k"),))
    failed = orch.no_provider(new_job(), never, NOW)
    assert failed.job is not None
    assert failed.job.error is not None
    assert failed.job.error.code == "no_capable_provider"
    assert "did: no 4k" in failed.job.error.message

    too_late = Ranking(
        ranked=(), rejected=(Rejected(provider_id="heygen", reason="x", until=1e12),)
    )
    expired = orch.no_provider(new_job(), too_late, NOW)
    assert expired.job is not None
    assert expired.job.status is JobStatus.FAILED
    assert expired.schedule is None


def test_callbacks_only_for_providers_that_send_webhooks() -> None:
    assert orch.callback_url("heygen", SETUP) == "https://functions.example/providerWebhook/heygen"
    assert orch.callback_url("runwayml", SETUP) is None  # polled
    assert orch.callback_url("unknown", SETUP) is None
    assert orch.callback_url("heygen", replace(SETUP, webhook_base_url=None)) is None


def test_the_first_look_at_a_render_waits_for_its_webhook() -> None:
    assert orch.follow_up_wait("runwayml", SETUP) == orch.poll_every("runwayml", SETUP)
    grace = orch.WEBHOOK_GRACE * CAPS["heygen"].typical_render_s
    assert orch.follow_up_wait("heygen", SETUP) == grace
    assert orch.follow_up_wait("heygen", replace(SETUP, webhook_wait_s=7.0)) == 7.0


def test_an_accepted_submit_is_a_breaker_success_and_a_follow_up() -> None:
    effects = orch.accepted(on("heygen"), "r-9", permit=5.0, took=1.5, now=NOW, setup=SETUP)
    assert effects.job is not None
    assert effects.job.provider_job_id == "r-9"
    assert effects.breaker == (
        ("heygen", br.Outcome(success=True, duration_s=1.5, probe=True, permit=5.0)),
    )
    assert effects.schedule is not None
    assert effects.schedule.at == NOW + orch.follow_up_wait("heygen", SETUP)
    assert effects.side == ()  # the generation's metric is written when it ends
    given_time = orch.accepted(
        on("did"), "r-1", permit=None, took=1.0, now=NOW, setup=QUIET, follow_up_at=NOW + 3
    )
    assert given_time.breaker == ()
    assert given_time.job is not None
    assert given_time.job.next_action_at == NOW + 3


def test_a_failed_submit_counts_alerts_and_fails_over() -> None:
    job = on("heygen")
    effects = orch.failed(
        job, error(ErrorCategory.AUTHENTICATION), candidates(), now=NOW + 2, rand=0.5, setup=SETUP
    )
    assert effects.alerts
    assert effects.alerts[0].fields["category"] == "authentication"
    (pid, outcome), *_ = effects.breaker
    assert pid == "heygen"
    assert not outcome.success
    assert outcome.counts is STRATEGIES[ErrorCategory.AUTHENTICATION].counts_against_breaker
    assert effects.job is not None
    assert "heygen" in effects.job.excluded
    assert effects.note == "switch_provider"
    assert effects.why
    assert [m["operationType"] for m in metrics(effects)] == [Operation.GENERATION.value]


def test_a_failure_without_tracking_or_breaker_writes_neither() -> None:
    effects = orch.failed(
        on("heygen"), error(ErrorCategory.TRANSIENT), candidates(), now=NOW, rand=0.1, setup=QUIET
    )
    assert effects.breaker == ()
    assert effects.side == ()  # not billed: nothing for the spend either
    assert effects.alerts == ()


# Following a render


def test_a_render_still_running_is_polled_again_at_its_providers_pace() -> None:
    """RunwayML every 10 s; HeyGen, whose renders take minutes, every minute."""
    effects = orch.still_rendering(rendering("runwayml"), took=0.3, now=NOW + 1, setup=SETUP)
    assert effects.schedule == orch.Schedule(NOW + 1 + orch.POLL_INTERVAL_S, "status poll")
    assert [m["operationType"] for m in metrics(effects)] == [Operation.STATUS_CHECK.value]
    assert metrics(effects)[0]["cost"] is None
    slow = orch.still_rendering(rendering("heygen"), took=0.3, now=NOW + 1, setup=SETUP)
    assert slow.schedule == orch.Schedule(NOW + 1 + 60.0, "status poll")


def test_heygen_render_times_are_its_documented_minutes() -> None:
    """HeyGen: "typically takes 5-15 minutes, but can exceed 20 minutes during peak load":
    the ETA, the first look and the patience with a render we cannot see follow it."""
    caps = CAPS["heygen"]
    assert (caps.typical_render_s, caps.worst_render_s) == (600.0, 1200.0)
    effects = orch.accepted(on("heygen"), "r-9", permit=None, took=1.0, now=NOW, setup=SETUP)
    assert effects.job is not None
    assert effects.job.eta_at == NOW + 600.0
    assert orch.follow_up_wait("heygen", SETUP) >= 600.0
    assert orch.render_patience_s("heygen", SETUP) == 1200.0
    assert all(c.worst_render_s < orch.JOB_TIMEOUT_S for c in CAPS.values())


def test_a_render_reported_in_progress_at_the_deadline_is_looked_at_and_kept() -> None:
    """At the job's deadline a render that is out is looked at once more, and while its
    provider reports it in progress (within its render cap) the job goes on; a render that
    finishes at minute 31 completes the job. Before: the job failed at minute 30, unchecked."""
    job = rendering("heygen")
    late = job.deadline_at + 60
    assert orch.next_step(job, late) is orch.Next.POLL
    going = orch.still_rendering(job, took=0.3, now=late, setup=SETUP).job
    assert going is not None
    assert going.status is JobStatus.PROCESSING
    assert going.next_action_at is not None
    done = orch.completion(going, RESULT, now=going.next_action_at, setup=SETUP).job
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    beyond = NOW + CAPS["heygen"].render_cap_s + 1
    gone = orch.still_rendering(job, took=0.3, now=beyond, setup=SETUP).job
    assert gone is not None
    assert gone.status is JobStatus.FAILED
    assert gone.error is not None
    assert gone.error.code == "deadline_exceeded"
    assert orch.next_step(new_job(), late) is orch.Next.EXPIRE  # nothing out: nothing to wait for


@pytest.mark.parametrize(
    ("category", "elapsed", "lost"),
    [
        (ErrorCategory.PROCESSING_ERROR, 1.0, True),
        (ErrorCategory.QUALITY_FAILURE, 1.0, True),
        (ErrorCategory.NETWORK_ERROR, 1200.0 + 1, True),
        (ErrorCategory.NETWORK_ERROR, orch.RENDER_PATIENCE_S + 1, False),  # HeyGen's worst: 20 min
        (ErrorCategory.NETWORK_ERROR, 1.0, False),
    ],
)
def test_when_a_render_is_lost(category: ErrorCategory, elapsed: float, lost: bool) -> None:
    """Only a failed render, or one out of sight past its provider's worst render time; a
    status API that fails (its circuit open or not) loses nothing that is paid for."""
    job = rendering()
    now = NOW + elapsed
    assert orch.render_lost(job, error(category), now=now, setup=SETUP) is lost


def test_a_failed_look_keeps_the_render_and_looks_again() -> None:
    effects = orch.poll_again(
        rendering(), error(ErrorCategory.NETWORK_ERROR), took=2.0, now=NOW + 1, setup=SETUP
    )
    assert effects.job is not None
    assert effects.job.provider_job_id == "r-1"
    assert effects.schedule == orch.Schedule(NOW + 1 + orch.POLL_RETRY_S, "status check failed")
    ((_, outcome),) = effects.breaker
    assert not outcome.success
    assert outcome.permit is None
    assert metrics(effects)[0]["success"] is False


def test_a_completion_is_billed_and_closes_the_recovery_log() -> None:
    first = jobs.record_failure(on("heygen"), category="timeout", message="", now=NOW + 1)
    second = jobs.submitted(
        on("did", first, now=NOW + 2), provider_job_id="r-2", follow_up_at=NOW + 3, now=NOW + 2
    )
    effects = orch.completion(second, RESULT, now=NOW + 60, setup=SETUP)
    assert effects.job is not None
    assert effects.job.status is JobStatus.COMPLETED
    (metric,) = metrics(effects)
    assert metric["cost"] == CAPS["did"].price_per_video
    assert metric["videoQuality"] == orch.DELIVERED_QUALITY
    assert metric["responseTime"] == pytest.approx(58_000.0)  # ms
    assert logs(effects)[0]["success"] is True
    assert effects.schedule is None
    assert effects.breaker == ()


# Webhooks


def test_a_webhook_for_the_current_render_completes_the_job() -> None:
    effects = orch.notice(
        rendering(),
        provider_id="heygen",
        provider_job_id="r-1",
        failure=None,
        result=RESULT,
        candidates=(),
        now=NOW + 30,
        rand=0.5,
        setup=SETUP,
    )
    assert effects is not None
    assert effects.note == "completed"
    assert effects.job is not None
    assert effects.job.result == RESULT


def test_a_webhook_whose_video_the_shell_could_not_keep_brings_the_poll_forward() -> None:
    """No result (the copy of the notified URL failed): nothing completes, the job is due now
    and a task is asked for now; the poll fetches a fresh URL and copies it."""
    job = replace(rendering(), next_action_at=NOW + 300)
    effects = orch.notice(
        job,
        provider_id="heygen",
        provider_job_id="r-1",
        failure=None,
        result=None,
        candidates=(),
        now=NOW + 30,
        rand=0.5,
        setup=SETUP,
    )
    assert effects is not None
    assert effects.job is not None
    assert effects.job.status is JobStatus.PROCESSING
    assert effects.job.result is None
    assert effects.job.next_action_at == NOW + 30
    assert effects.schedule == orch.Schedule(NOW + 30, "fetch the video")
    assert effects.side == ()
    assert orch.next_step(effects.job, NOW + 30) is orch.Next.POLL


def test_a_video_whose_url_expired_before_the_copy_fails_the_job_clearly() -> None:
    """Never a dead link as the result: video_expired, the generation billed (it was made),
    the recovery log closed."""
    job = rendering()
    effects = orch.undelivered(
        job, "the provider's URL answered 403", expired=True, now=NOW + 60, setup=SETUP
    )
    assert effects.job is not None
    assert effects.job.status is JobStatus.FAILED
    assert effects.job.result is None
    assert effects.job.error is not None
    assert effects.job.error.code == "video_expired"
    assert "403" in effects.job.error.message
    [metric] = metrics(effects)
    assert metric["success"] is True
    assert metric["cost"] == heygen.CAPABILITIES.price_per_video
    assert effects.breaker == ()  # our copy failed, not the provider


def test_a_copy_that_failed_for_another_reason_is_tried_again_later() -> None:
    """The render is fine (our bucket or the network failed): poll and copy again later."""
    job = rendering()
    effects = orch.undelivered(job, "bucket down", expired=False, now=NOW + 60, setup=SETUP)
    assert effects.job is not None
    assert effects.job.status is JobStatus.PROCESSING
    assert effects.job.provider_job_id == "r-1"
    assert effects.job.next_action_at == NOW + 60 + orch.POLL_RETRY_S
    assert effects.schedule is not None
    assert effects.breaker == ()
    assert effects.side == ()


def test_a_webhook_that_beats_the_save_of_its_render_id_binds_nothing() -> None:
    """Until the submit's answer saves the render id, no callback can name the open attempt's
    render (the shell asks for it again; polling covers it): a render id is bound only by the
    submission."""
    for attempt in (None, 1):
        effects = orch.notice(
            on("heygen"),
            provider_id="heygen",
            provider_job_id="r-7",
            attempt=attempt,
            failure=None,
            result=VideoResult(video_url=""),
            candidates=(),
            now=NOW,
            rand=0.5,
            setup=SETUP,
        )
        assert effects is None


def test_a_failed_render_by_webhook_fails_over() -> None:
    failure = error(ErrorCategory.PROCESSING_ERROR, charged=True)
    effects = orch.notice(
        rendering(),
        provider_id="heygen",
        provider_job_id="r-1",
        failure=failure,
        result=VideoResult(video_url=""),
        candidates=candidates(),
        now=NOW + 30,
        rand=0.5,
        setup=SETUP,
    )
    assert effects is not None
    assert effects.note.startswith("render failed: ")
    ((_, outcome),) = effects.breaker
    assert outcome == br.Outcome(success=False, category=failure.category, counts=True)
    assert metrics(effects)[0]["cost"] is None  # HeyGen bills no failed render (billing.py)


def test_whether_a_failed_render_is_billed_is_each_providers_fact() -> None:
    """One table: HeyGen documents that failed jobs are not charged; D-ID and RunwayML say
    nothing for the API, so their failed renders count as spent (the cap never undercounts)."""
    table = billing.FAILED_RENDERS_BILLED
    assert {pid: (f.billed, f.confirmed) for pid, f in table.items()} == {
        "heygen": (False, True),
        "did": (True, False),
        "runwayml": (True, False),
    }
    assert all(f.source for f in table.values())
    for pid in CAPS:
        failure = error(ErrorCategory.PROCESSING_ERROR, pid, charged=True)
        job = on(pid)
        (write, *spent) = orch.metric(
            job, Operation.GENERATION, success=False, took=1.0, now=NOW, setup=SETUP, error=failure
        )
        assert isinstance(write, Metric)
        assert (write.snapshot.cost is not None) is table[pid].billed
        assert len(spent) == int(table[pid].billed)


def test_stale_and_duplicate_webhooks_change_nothing() -> None:
    def notice(job: Job, provider_job_id: str = "r-1") -> orch.Effects | None:
        return orch.notice(
            job,
            provider_id="heygen",
            provider_job_id=provider_job_id,
            failure=None,
            result=VideoResult(video_url=""),
            candidates=(),
            now=NOW,
            rand=0.5,
            setup=SETUP,
        )

    assert notice(rendering(), "r-other") is None
    done = notice(rendering())
    assert done is not None
    assert done.job is not None
    assert notice(done.job) is None
    assert notice(new_job()) is None  # never submitted


# Health


def test_probes() -> None:
    up = orch.probed("did", None, permit=None, took=0.2, now=NOW, setup=SETUP)
    assert up.note == "up"
    assert up.breaker == ()
    assert up.job is None
    assert metrics(up)[0]["operationType"] == Operation.HEALTH_CHECK.value
    probe = orch.probed("did", None, permit=3.0, took=0.2, now=NOW, setup=SETUP)
    assert probe.breaker == (
        ("did", br.Outcome(success=True, duration_s=0.2, probe=True, permit=3.0)),
    )
    down = orch.probed(
        "did",
        error(ErrorCategory.AUTHENTICATION, "did"),
        permit=None,
        took=0.1,
        now=NOW,
        setup=SETUP,
    )
    assert down.note == "down: authentication"
    assert down.breaker[0][1].category is ErrorCategory.AUTHENTICATION
    assert metrics(down)[0]["errorType"] == "authentication"
    assert orch.probed("did", None, permit=None, took=0.1, now=NOW, setup=QUIET).side == ()


def test_alerts_for_low_success_and_opened_circuits() -> None:
    few = ProviderStats(provider_id="heygen", calls_1h=alerts.MIN_CALLS - 1, successes_1h=0)
    assert alerts.low_success(few) is None
    fine = ProviderStats(provider_id="heygen", calls_1h=100, successes_1h=96)
    assert alerts.low_success(fine) is None
    low = alerts.low_success(ProviderStats(provider_id="heygen", calls_1h=100, successes_1h=80))
    assert low is not None
    assert low.fields["successRate1h"] == 0.8

    def moved(to: br.CircuitState) -> br.Transition:
        return br.Transition(
            provider_id="did", from_state=br.CircuitState.CLOSED, to_state=to, reason="r", at=NOW
        )

    opened = orch.transition_alert("did", moved(br.CircuitState.OPEN))
    assert opened is not None
    assert "circuit opened for did" in opened.message
    assert orch.transition_alert("did", moved(br.CircuitState.HALF_OPEN)) is None


def test_a_job_without_a_provider_has_no_metric() -> None:
    assert (
        orch.metric(new_job(), Operation.GENERATION, success=True, took=1, now=NOW, setup=SETUP)
        == ()
    )
    unknown = on("elsewhere")
    (write,) = orch.metric(
        unknown, Operation.GENERATION, success=True, took=1, now=NOW, setup=SETUP
    )
    assert isinstance(write, Metric)
    assert write.snapshot.cost is None


# Properties

jobs_in_flight = st.builds(
    lambda pid, elapsed, submitted: (
        rendering(pid) if submitted else on(pid),
        elapsed,
    ),
    st.sampled_from(sorted(CAPS)),
    st.floats(0.0, 2 * orch.JOB_TIMEOUT_S),
    st.booleans(),
)
categories = st.sampled_from(list(ErrorCategory))


@given(jobs_in_flight, categories, st.floats(0.0, 1.0), st.booleans(), st.booleans())
def test_a_failure_always_counts_once_and_schedules_what_the_job_waits_for(
    case: tuple[Job, float], category: ErrorCategory, rand: float, charged: bool, quiet: bool
) -> None:
    job, elapsed = case
    setup = QUIET if quiet else SETUP
    pid = job.provider_id or ""
    effects = orch.failed(
        job,
        error(category, pid, charged=charged),
        candidates(),
        now=NOW + elapsed,
        rand=rand,
        setup=setup,
    )
    after = effects.job
    assert after is not None
    assert after.attempt == job.attempt
    spent = [r for r in effects.side if isinstance(r, Spend)]
    # A billed failure is added to today's spend whether or not metrics are tracked.
    charged = is_billed(category, pid, charged=charged)
    assert [r.billed_usd > 0 for r in spent] == ([True] if charged else [])
    if quiet:
        assert effects.breaker == ()
        assert effects.side == tuple(spent)
    else:
        ((who, outcome),) = effects.breaker
        assert who == pid
        assert not outcome.success
        assert outcome.counts is STRATEGIES[category].counts_against_breaker
        (metric,) = metrics(effects)
        assert (metric["cost"] is not None) is charged
        assert bool(logs(effects)) is (after.terminal)
    if after.terminal or after.next_action_at is None:
        assert effects.schedule is None
    else:
        assert effects.schedule is not None
        assert effects.schedule.at == after.next_action_at
    assert bool(effects.alerts) is (category in orch.ALERTING)


@given(
    st.sampled_from(list(Operation)),
    st.booleans(),
    st.one_of(st.none(), categories),
    st.booleans(),
    st.sampled_from(list(Duration)),
)
def test_billing_only_for_generations_that_succeed_or_are_charged(
    operation: Operation,
    success: bool,
    category: ErrorCategory | None,
    charged: bool,
    duration: Duration,
) -> None:
    job = on("heygen", new_job(options=VideoOptions(duration=duration)))
    err = error(category, charged=charged) if category is not None else None
    write, *spent = orch.metric(
        job, operation, success=success, took=1.0, now=NOW, setup=SETUP, error=err
    )
    billed = operation is Operation.GENERATION and (
        success or (category is not None and is_billed(category, "heygen", charged=charged))
    )
    assert isinstance(write, Metric)
    assert (write.snapshot.cost is not None) is billed
    # The same price goes to today's spend, once.
    assert [(type(r), r.billed_usd) for r in spent if isinstance(r, Spend)] == (
        [(Spend, write.snapshot.cost)] if billed else []
    )
    assert len(spent) == int(billed)
    assert write.snapshot.to_doc()["metadata"]["duration"] == duration.seconds
    if category is ErrorCategory.QUALITY_FAILURE:
        assert write.snapshot.to_doc()["videoQuality"] == 0.0


@given(st.floats(0.0, 3 * orch.JOB_TIMEOUT_S), st.booleans(), st.booleans())
def test_next_step_stops_exactly_when_the_job_is_settled(
    elapsed: float, waiting: bool, submitted: bool
) -> None:
    job = rendering() if submitted else new_job()
    if waiting:
        job = replace(job, next_action_at=NOW + orch.JOB_TIMEOUT_S)
    now = NOW + elapsed
    step = orch.next_step(job, now)
    assert (step is orch.Next.STOP) is orch.settled(job, now)
    if step is not orch.Next.STOP:
        expired = now > job.deadline_at and not job.provider_job_id
        assert (step is orch.Next.EXPIRE) is expired


@given(st.sampled_from(sorted(CAPS)), st.booleans(), st.floats(0.0, 600.0))
def test_a_webhook_is_applied_at_most_once(pid: str, ok: bool, elapsed: float) -> None:
    failure = None if ok else error(ErrorCategory.PROCESSING_ERROR, pid, charged=True)

    def notice(job: Job) -> orch.Effects | None:
        return orch.notice(
            job,
            provider_id=pid,
            provider_job_id="r-1",
            failure=failure,
            result=RESULT,
            candidates=candidates(),
            now=NOW + elapsed,
            rand=0.3,
            setup=SETUP,
        )

    first = notice(rendering(pid))
    assert first is not None
    assert first.job is not None
    assert notice(first.job) is None  # finished, or moved on from that render
    if ok:
        assert first.job.status is JobStatus.COMPLETED
        assert len(metrics(first)) == 1


def test_the_process_loop_is_bounded_by_the_attempt_budget() -> None:
    assert orch.max_rounds(new_job(max_attempts=4)) == 15


def test_a_renders_expected_length_is_its_scripts_spoken_length() -> None:
    job = new_job(script=" ".join(["word"] * 75), options=VideoOptions(duration=Duration.LONG))
    assert orch.spoken_length_s(job) == pytest.approx(30.0)  # not the 90 s asked for


# Never paying twice


def _timed_out_on_did_then_on_heygen() -> Job:
    """D-ID's submit answer was lost (attempt 1); the job moved on to HeyGen (attempt 2)."""
    first = on("did")
    lost = error(ErrorCategory.TIMEOUT, "did", charged=True)
    after = orch.failed(first, lost, candidates(), now=NOW, rand=0.5, setup=SETUP).job
    assert after is not None
    return on("heygen", replace(after, next_action_at=None), now=NOW + 10)


def test_a_lost_answer_from_a_provider_without_idempotency_is_never_resubmitted_there() -> None:
    lost = error(ErrorCategory.TIMEOUT, "did", charged=True)  # the answer was lost: maybe billed
    effects = orch.failed(on("did"), lost, candidates(), now=NOW, rand=0.5, setup=SETUP)
    assert effects.job is not None
    assert "did" in effects.job.excluded
    dropped = error(ErrorCategory.NETWORK_ERROR, "did", charged=True)
    assert orch.blind_resubmit(on("did"), dropped, SETUP)
    # A connection refused never reached D-ID: asking again cannot pay twice.
    refused = error(ErrorCategory.NETWORK_ERROR, "did", charged=False)
    assert not orch.blind_resubmit(on("did"), refused, SETUP)
    # An instance that stopped mid-call may have sent the submit.
    assert orch.blind_resubmit(on("did"), orch.orphaned_error(on("did")), SETUP)


def test_heygen_is_asked_again_after_a_lost_answer_only_by_a_lookup_first() -> None:
    """HeyGen's idempotency on POST /v3/videos is not confirmed (idempotent_submits False),
    but its renders are found by title: the resubmit of the same attempt looks first."""
    lost = error(ErrorCategory.TIMEOUT, "heygen", charged=True)
    assert not CAPS["heygen"].idempotent_submits
    assert not orch.blind_resubmit(on("heygen"), lost, SETUP)
    failed = orch.failed(on("heygen"), lost, candidates(), now=NOW, rand=0.0, setup=SETUP).job
    assert failed is not None
    again = on("heygen", failed, now=NOW + 5)
    assert again.key_seq == failed.key_seq  # the same key: a resend of the same submit
    assert orch.looks_up_first(failed, again, SETUP)
    fresh = on("heygen", new_job())
    assert not orch.looks_up_first(new_job(), fresh, SETUP)
    looked = orch.lookup_failed(again, error(ErrorCategory.TRANSIENT), now=NOW + 5, setup=SETUP)
    assert looked.job is not None
    assert orch.next_step(looked.job, NOW + 5 + orch.POLL_RETRY_S) is orch.Next.ORPHANED
    # A refused submit was certainly not accepted: asking again pays nothing twice.
    assert not orch.blind_resubmit(on("did"), error(ErrorCategory.RATE_LIMIT, "did"), SETUP)


def test_the_lost_render_that_succeeded_after_all_completes_the_job() -> None:
    job = _timed_out_on_did_then_on_heygen()
    effects = orch.notice(
        job,
        provider_id="did",
        provider_job_id="tlk_first",
        attempt=1,
        failure=None,
        result=VideoResult(video_url="https://d-id.example/first.mp4"),
        candidates=candidates(),
        now=NOW + 60,
        rand=0.5,
        setup=SETUP,
    )
    assert effects is not None
    done = effects.job
    assert done is not None
    assert done.status is jobs.JobStatus.COMPLETED
    assert (done.provider_id, done.provider_job_id) == ("did", "tlk_first")
    assert [r.outcome for r in done.history] == ["completed", jobs.SUPERSEDED]
    (billed,) = metrics(effects)
    assert (billed["providerId"], billed["cost"]) == ("did", CAPS["did"].price_per_video)
    assert effects.note == "completed by an earlier render"


def test_an_earlier_attempts_failure_changes_nothing() -> None:
    """A redelivered D-ID error for attempt 1 used to fail attempt 2 (and pay a third)."""
    job = _timed_out_on_did_then_on_heygen()
    for attempt in (1, None):
        stale = orch.notice(
            job,
            provider_id="did",
            provider_job_id="tlk_first",
            attempt=attempt,
            failure=error(ErrorCategory.PROCESSING_ERROR, "did", charged=True),
            result=None,
            candidates=candidates(),
            now=NOW + 60,
            rand=0.5,
            setup=SETUP,
        )
        assert stale is None


def test_before_its_render_id_is_saved_no_notice_is_about_the_current_render() -> None:
    job = on("heygen", on("heygen"))  # attempt 2 open on HeyGen, no render id yet
    for attempt in (2, 1, None, 3):
        assert orch.current_render(job, "heygen", "v-9", attempt=attempt) is False
    assert orch.earlier_render(job, "heygen", "v-9", 2) is False  # the open attempt


def test_a_lost_render_whose_video_could_not_be_kept_is_not_adopted() -> None:
    """The shell could not copy the earlier render's video (no result): the job goes on with
    its current render rather than complete without a video of ours."""
    job = _timed_out_on_did_then_on_heygen()
    effects = orch.notice(
        job,
        provider_id="did",
        provider_job_id="tlk_first",
        attempt=1,
        failure=None,
        result=None,
        candidates=candidates(),
        now=NOW + 60,
        rand=0.5,
        setup=SETUP,
    )
    assert effects is None


def test_a_render_that_failed_is_never_adopted() -> None:
    job = _timed_out_on_did_then_on_heygen()
    first = replace(job.history[0], provider_job_id="tlk_first", outcome="processing_error")
    failed_first = replace(job, history=(first, *job.history[1:]))
    assert not orch.earlier_render(failed_first, "did", "tlk_first", 1)
    assert not orch.earlier_render(job, "did", "tlk_other", 5)  # no such attempt
    assert not orch.earlier_render(job, "heygen", "tlk_first", 1)  # another provider's attempt


def test_when_every_provider_refuses_for_a_while_the_job_waits_and_comes_back() -> None:
    """HeyGen, D-ID and then RunwayML (a speaking third since its avatar videos) answer
    "overloaded": the job waits for the first of them to be rested and asks it again, instead
    of failing for want of a provider (before, each was excluded for good after one
    overload)."""
    job = new_job(options=VideoOptions(duration=Duration.MEDIUM))
    now = NOW
    for provider in ("heygen", "did", "runwayml"):
        picked = orch.choose(job, candidates(), now=now, setup=SETUP)
        assert picked.best is not None
        assert picked.best.provider_id == provider  # each is a full provider in its turn
        job = on(provider, replace(job, next_action_at=None), now=now)
        overload = error(ErrorCategory.PROVIDER_OVERLOAD, provider)
        failed = orch.failed(job, overload, candidates(), now=now, rand=0.5, setup=SETUP).job
        assert failed is not None
        assert not failed.terminal
        job, now = failed, now + 1
    ranking = orch.choose(job, candidates(), now=now, setup=SETUP)
    assert ranking.ranked == ()
    waiting = orch.no_provider(job, ranking, now).job
    assert waiting is not None
    assert not waiting.terminal
    back_at = min(until for _, until in job.resting)
    assert waiting.next_action_at == back_at
    again = orch.choose(waiting, candidates(), now=back_at, setup=SETUP)
    assert again.best is not None
    assert again.best.provider_id == "heygen"


def test_a_silent_clips_expected_length_is_the_duration_asked_for() -> None:
    """The last resort's clip has no voice: its length says nothing of the script."""
    clip = VideoOptions(duration=Duration.CLIP, features=frozenset())
    job = new_job(script=" ".join(["word"] * 150), options=clip)
    assert orch.spoken_length_s(job) == 10.0


def test_a_job_with_nowhere_to_go_waits_for_its_lost_render_instead_of_failing() -> None:
    """D-ID's answer was lost and every other provider is out: failing now would throw away
    the talk D-ID may have made (and billed); the job waits for its callback."""
    first = on("did")
    lost = error(ErrorCategory.TIMEOUT, "did", charged=True)
    job = orch.failed(first, lost, candidates(), now=NOW, rand=0.5, setup=SETUP).job
    assert job is not None
    nowhere = Ranking(ranked=(), rejected=(Rejected(provider_id="heygen", reason="x"),))
    waiting = orch.no_provider(job, nowhere, NOW + 1).job
    assert waiting is not None
    assert not waiting.terminal
    assert waiting.next_action_at == NOW + orch.RENDER_PATIENCE_S
    gone = orch.no_provider(job, nowhere, NOW + orch.RENDER_PATIENCE_S + 1).job
    assert gone is not None
    assert gone.terminal


# The job's own other documents


def test_a_decision_names_the_documents_its_new_version_changes() -> None:
    """A web-app job that completes names its CV-job mirror (the stage it shows changed); a
    look that changes nothing the app shows or the internal document holds names none."""
    job = replace(rendering(), app_call=jobs.AppCall.GENERATE, cv_job_id="cv-1")
    done = orch.completion(job, RESULT, now=NOW + 60, setup=SETUP)
    assert [type(r) for r in done.documents] == [CvJobMirror]
    again = orch.still_rendering(job, took=0.1, now=NOW + 5, setup=SETUP)
    assert again.documents == ()


def test_a_failure_names_the_internal_document_that_keeps_the_providers_words() -> None:
    """The provider's error text is the admins' only: it goes to the internal document."""
    effects = orch.failed(
        rendering(), error(ErrorCategory.TIMEOUT), candidates(), now=NOW + 1, rand=0.5, setup=SETUP
    )
    (internal,) = [r for r in effects.documents if isinstance(r, Internal)]
    assert effects.job is not None
    assert internal.job == effects.job
    assert not any(isinstance(r, CvJobMirror) for r in effects.documents)  # not an app job


def test_a_render_is_billed_for_its_length_at_its_providers_rate() -> None:
    """HeyGen bills by the second: a 246 s video (615 words) costs 246 s of its rate, not the
    medium video's price; the delivered duration, when known, wins over the script's."""
    long_job = replace(rendering(), script=" ".join(["word"] * 615))
    effects = orch.completion(long_job, RESULT, now=NOW + 60, setup=SETUP)
    (metric,) = metrics(effects)
    assert metric["cost"] == pytest.approx(246 * heygen.CAPABILITIES.price_per_second)
    measured = replace(RESULT, duration_s=31.0)
    (short,) = metrics(orch.completion(long_job, measured, now=NOW + 60, setup=SETUP))
    assert short["cost"] == pytest.approx(3.10)


def test_a_script_longer_than_a_provider_can_speak_is_not_offered_to_it() -> None:
    """A long video's script at its slack (248 words, 99 s) is past D-ID's and RunwayML's
    90 s: only HeyGen is ranked, and asking for less does not make the script shorter."""
    long = VideoOptions(duration=Duration.LONG)
    job = new_job(options=long, script=" ".join(["word"] * 248))
    ranking = orch.choose(job, candidates(), now=NOW, setup=SETUP)
    assert [s.provider_id for s in ranking.ranked] == ["heygen"]
    assert CAPS["did"].missing_for(long, 99.2) == ("a 99 s script",)
    assert CAPS["did"].missing_for(long, 80.0) == ()
