"""The service shell end to end in-process: real adapters over HTTP against the provider
simulator, in-memory stores (the Firestore stores have their own contract suite), a recording
task scheduler and a clock the test moves."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from unittest.mock import ANY

import pytest

from shared.adapters.providers.base import WebhookError, WebhookRequest
from shared.adapters.stores import base as stores
from shared.adapters.stores import codec
from shared.core import orchestration as orch
from shared.core.breaker import Admission, CircuitState, ManualAction
from shared.core.jobs import JobStatus
from shared.core.model import Duration
from shared.core.refusals import InvalidRequest, NotFound
from shared.shell import admin, health, processing, webhooks
from tests.support.memory import World, submitted_on_heygen


def metrics_of(live: World, job_id: str) -> list[dict[str, object]]:
    return [d for d in live.db.coll(stores.METRICS).values() if d.get("jobId") == job_id]


def test_a_job_completes_on_the_best_provider_with_its_metrics(live: World) -> None:
    """Submit, follow up when due, complete: the job says where and how, metrics were kept."""
    job = live.run(live.new_job().job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert job.result.video_url.startswith("http")
    assert job.provider_id in ("heygen", "did")
    assert job.selection_reasoning
    assert not job.degraded
    generations = [m for m in metrics_of(live, job.job_id) if m["operationType"] == "generation"]
    assert len(generations) == 1  # one snapshot per generation, written when it ends
    assert generations[0]["success"] is True
    assert generations[0]["videoQuality"] == 10.0
    assert live.shell.ports.jobs.lease(job.job_id) is None
    # What the provider billed is added to today's spend (the daily cap's figure).
    (today,) = live.db.coll(stores.SPEND).values()
    assert today == {"billedUsd": generations[0]["cost"], "renders": 1}


def test_jobs_fail_over_when_heygen_fails_and_its_breaker_opens(live: World) -> None:
    """HeyGen answers 500: every job (of eight users, as traffic is) still completes elsewhere;
    the breaker opens; logs kept."""
    live.sim.add_fault("heygen", "server_error", count=1000)
    started = [live.new_job(user_id=f"user-{n}").job_id for n in range(8)]
    for job_id in started:  # the first attempts, close together: the breaker sees them all
        processing.process(live.shell, job_id)
    now = live.clock()
    assert live.shell.ports.breakers.state("heygen", now=now, fresh=True).state is CircuitState.OPEN
    done = [live.run(job_id) for job_id in started]
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 8
    assert {j.provider_id for j in done} == {"did"}
    logs = live.db.coll(stores.RECOVERY_LOGS)
    failed_over = [j for j in done if j.history[0].provider_id == "heygen"]
    assert len(failed_over) >= 5
    for j in failed_over:
        assert logs[j.job_id]["originalProvider"] == "heygen"
        assert logs[j.job_id]["finalProvider"] == "did"
        assert logs[j.job_id]["success"] is True


def test_a_429_with_retry_after_is_retried_no_earlier_than_asked(live: World) -> None:
    """A job that may not fall back waits out the provider's Retry-After, via a task."""
    for provider in ("did", "runwayml"):
        admin.set_circuit(
            live.shell, provider, ManualAction.OPEN, by="test", reason="keep the job on HeyGen"
        )
    live.sim.add_fault("heygen", "rate_limit", count=1, retry_after=42)
    job = live.new_job(allow_fallback=False)
    before = live.clock()
    after = processing.process(live.shell, job.job_id)
    assert after is not None
    assert after.status is JobStatus.PROCESSING
    assert after.next_action_at is not None
    assert after.next_action_at >= before + 42
    assert any(t[0] == job.job_id and t[1] >= before + 42 for t in live.tasks.tasks)


def test_a_forged_webhook_is_refused_and_changes_nothing(live: World) -> None:
    """A HeyGen callback with a wrong token (HeyGen does not sign per-request callbacks)
    answers 401 and leaves the job as it was."""
    job = submitted_on_heygen(live)
    entry = live.sim.wait_inbox("providerWebhook/heygen")[0]
    forged = WebhookRequest(
        body=entry["body"].encode(),
        headers={**entry["headers"], "Signature": "0" * 64},
        query={**entry["query"], "token": "0" * 32},
    )
    with pytest.raises(WebhookError) as refused:
        webhooks.on_webhook(live.shell, "heygen", forged)
    assert refused.value.status == 401
    assert live.shell.ports.jobs.get(job.job_id) == job


def test_a_duplicate_webhook_makes_one_transition(live: World) -> None:
    """The same completion delivered twice completes the job once."""
    job = submitted_on_heygen(live)
    entry = live.sim.wait_inbox("providerWebhook/heygen")[0]
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    assert webhooks.on_webhook(live.shell, "heygen", request) == "completed"
    done = live.shell.ports.jobs.get(job.job_id)
    assert webhooks.on_webhook(live.shell, "heygen", request).startswith("ignored")
    assert live.shell.ports.jobs.get(job.job_id) == done
    assert done is not None
    assert done.status is JobStatus.COMPLETED


def test_a_lost_webhook_is_made_good_by_the_deadline_poll(live: World) -> None:
    """No callback ever comes: the follow-up at the deadline polls and completes the job."""
    live.sim.add_fault("heygen", "webhook_lost", count=1)
    job = submitted_on_heygen(live)
    time.sleep(0.3)
    assert job.next_action_at is not None
    live.clock.offset += job.next_action_at - live.clock() + 1
    done = processing.process(live.shell, job.job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert live.sim.inbox("providerWebhook/heygen") == []


def test_the_health_check_refreshes_stats_and_redrives_overdue_jobs(live: World) -> None:
    """Probes answer, provider_stats appear, and a job left behind gets a task."""
    live.run(live.new_job().job_id)
    stranded = live.new_job()
    live.clock.offset += 5
    report = health.health_check(live.shell)
    assert report["heygen"] == "up"
    assert report["redriven"] == 1
    assert live.tasks.tasks[-1][0] == stranded.job_id
    stats = live.db.coll(stores.STATS)
    assert set(stats) == {"heygen", "did", "runwayml"}
    assert len(stats["heygen"]["hourly"]) == 24


def test_a_revoked_key_opens_the_breaker_at_once_and_the_dashboard_shows_it(live: World) -> None:
    """One 401 from HeyGen opens its circuit; the dashboard counts it and the recovery."""
    live.sim.add_fault("heygen", "auth", count=1000)
    job = live.new_job()
    first = processing.process(live.shell, job.job_id)
    assert first is not None
    assert [r.outcome for r in first.history] == ["authentication", None]
    now = live.clock()
    assert live.shell.ports.breakers.admission("heygen", now=now) is Admission.REJECT
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.provider_id == "did"
    board = admin.dashboard_answer(live.shell)
    circuit = board["circuitBreaker"]
    assert isinstance(circuit, dict)
    assert [t["to"] for t in circuit["transitions"]][-1] == "open"
    recovery = board["errorRecovery"]
    assert isinstance(recovery, dict)
    assert recovery["byCategory"] == {"authentication": 1}


def test_a_failed_status_check_keeps_the_paid_render_instead_of_paying_again(
    live: World,
) -> None:
    """HeyGen accepted the render, then its status endpoint answers 500 for a while: the job
    looks again later and completes with that render; no second provider is paid."""
    live.choose(webhook_base_url=None)  # polling only, so every follow-up is a status check
    live.sim.add_fault("heygen", "server_error", count=2, op="status")
    job = submitted_on_heygen(live)
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert [r.provider_id for r in done.history] == ["heygen"]
    stats = live.sim.stats()
    charges = {p: stats[p]["charges"] for p in ("heygen", "runwayml", "did")}
    assert charges == {"heygen": 1, "runwayml": 0, "did": 0}
    checks = [m for m in metrics_of(live, job.job_id) if m["operationType"] == "status_check"]
    assert [m["success"] for m in checks][:2] == [False, False]


def test_a_webhook_that_beats_the_save_of_its_render_id_is_asked_again_then_completes(
    live: World,
) -> None:
    """A fast render's notice can arrive before the submitting worker stored the render id: it
    is answered 409 (deliver again), since only the submission binds a render id; once the id
    is saved, the same notice completes the job."""
    job = submitted_on_heygen(live)
    render_id = job.provider_job_id
    unsaved = replace(
        job, provider_job_id=None, history=(replace(job.history[-1], provider_job_id=None),)
    )
    live.db.coll(stores.JOBS)[job.job_id] = {**codec.job_to_doc(unsaved), "lease": None}
    entry = live.sim.wait_inbox("providerWebhook/heygen")[0]
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    with pytest.raises(WebhookError) as early:
        webhooks.on_webhook(live.shell, "heygen", request)
    assert early.value.status == 409
    live.db.coll(stores.JOBS)[job.job_id] = {**codec.job_to_doc(job), "lease": None}
    assert webhooks.on_webhook(live.shell, "heygen", request) == "completed"
    done = live.shell.ports.jobs.get(job.job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.provider_job_id == render_id


def test_a_render_accepted_before_an_outage_is_kept_while_only_the_status_api_fails(
    live: World,
) -> None:
    """HeyGen's API answers 500 and its circuit is open, D-ID is free: the render HeyGen
    accepted is waited for (within its patience), and the job completes with it once HeyGen
    answers again; D-ID is not paid. Before: the open circuit gave the render up and D-ID was
    paid for the same video (in `make demo`, 10 HeyGen renders paid and not used)."""
    live.choose(webhook_base_url=None)
    job = submitted_on_heygen(live)
    live.sim.add_fault("heygen", "server_error", count=8)
    admin.set_circuit(live.shell, "did", ManualAction.RESET, by="test", reason="let D-ID take it")
    live.shell.ports.breakers.force(
        "heygen", ManualAction.OPEN, by="test", reason="down", now=live.clock()
    )
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert [r.provider_id for r in done.history] == ["heygen"]
    assert live.sim.stats()["did"]["charges"] == 0


@pytest.mark.parametrize("honoured", [True, False])
def test_a_heygen_submit_whose_answer_was_lost_is_looked_up_and_paid_once(
    live: World, honoured: bool
) -> None:
    """HeyGen accepts a render, then the connection drops before its answer. Whether HeyGen
    honours the Idempotency-Key or not (unconfirmed), the resend of that submit first looks
    the render up by its title and adopts it: one charge for the one video. Before: the
    resend relied on the key, and a HeyGen that ignores it was paid twice."""
    live.sim.configure("heygen", honour_idempotency=honoured)
    for provider in ("did", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="HeyGen")
    live.sim.add_fault("heygen", "drop", count=1, op="submit")
    done = live.run(live.new_job().job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.provider_id == "heygen"
    charges = {p: live.sim.stats()[p]["charges"] for p in ("heygen", "did", "runwayml")}
    assert charges == {"heygen": 1, "did": 0, "runwayml": 0}


def test_a_done_did_talk_without_a_usable_url_is_polled_not_paid_again(live: World) -> None:
    """D-ID calls back "done" but its talk has no result_url: the job looks at the talk again
    rather than pay another provider for the same video. Before: a quality failure, and the
    job failed over (a second render paid)."""
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID only")
    live.sim.add_fault("did", "low_quality", count=1, mode="no_url")
    job = processing.process(live.shell, live.new_job().job_id)
    assert job is not None
    assert job.provider_id == "did"
    entry = live.sim.wait_inbox("providerWebhook/did")[0]
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    assert webhooks.on_webhook(live.shell, "did", request) == "render done; fetching the video"
    live.clock.offset += 1.0
    after = processing.process(live.shell, job.job_id)
    assert after is not None
    assert after.status is JobStatus.PROCESSING
    assert after.provider_job_id == job.provider_job_id
    assert [r.outcome for r in after.history] == [None]
    assert live.sim.stats()["did"]["charges"] == 1


# A video lasts as long as its script takes to speak.
SHORT_SCRIPT = " ".join(["practical"] * 27)  # 10.8 s at 2.5 words a second


def test_a_short_script_makes_a_short_video_and_it_is_kept(live: World) -> None:
    """27 words asked as a 30 s video render in about 11 s: that is the right video. Judged by
    the requested duration it was a quality failure and another provider was paid for it."""
    live.choose(webhook_base_url=None)  # found by polling, where the length was checked
    job = live.new_job(script=SHORT_SCRIPT, duration=Duration.SHORT)
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    assert done.result.duration_s == pytest.approx(10.8)
    assert len(done.history) == 1
    assert sum(live.sim.stats()[p]["charges"] for p in ("heygen", "did", "runwayml")) == 1


def test_a_truncated_render_is_refused_by_webhook_as_it_is_by_poll(live: World) -> None:
    """HeyGen delivers a video a third as long as its script: refused whichever way it is
    noticed (before, a webhook stored it; a poll refused it)."""
    live.sim.add_fault("heygen", "low_quality", count=1, mode="wrong_duration")
    job = submitted_on_heygen(live)
    entry = live.sim.wait_inbox("providerWebhook/heygen")[0]
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    webhooks.on_webhook(live.shell, "heygen", request)
    after = live.shell.ports.jobs.get(job.job_id)
    assert after is not None
    assert after.status is not JobStatus.COMPLETED
    assert after.result is None
    assert after.history[0].outcome == "quality_failure"


def test_a_did_render_whose_answer_was_lost_is_paid_once_and_its_video_kept(
    live: World,
) -> None:
    """D-ID accepts a talk, then the connection drops before its answer (D-ID honours no
    idempotency key). The job never submits to D-ID again; the talk's callback, which names
    attempt 1 with that attempt's token, completes the job with the video that was paid for.
    Before: the same talk was submitted again (two renders paid) and the late callback for the
    first was ignored as stale."""
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID only")
    live.sim.add_fault("did", "drop", count=1, op="submit")
    job = live.new_job()
    waiting = processing.process(live.shell, job.job_id)
    assert waiting is not None
    assert "did" in waiting.excluded
    entry = live.sim.wait_inbox("providerWebhook/did")[0]
    assert entry["query"]["attempt"] == "1"
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    assert webhooks.on_webhook(live.shell, "did", request) == "completed by an earlier render"
    done = live.shell.ports.jobs.get(job.job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.provider_id == "did"
    assert live.sim.stats()["did"]["charges"] == 1


def test_a_job_waits_for_the_end_of_a_maintenance_window_within_its_deadline(
    live: World,
) -> None:
    """HeyGen is opened for maintenance until a time; with the others out, a
    job waits for it (no attempt spent), then probes HeyGen back and completes there."""
    now = live.clock()
    for other in ("did", "runwayml"):
        admin.set_circuit(live.shell, other, ManualAction.OPEN, by="test", reason="out")
    admin.set_circuit(
        live.shell, "heygen", ManualAction.OPEN, by="ops", reason="maintenance", until=now + 300
    )
    job = live.new_job()
    waiting = processing.process(live.shell, job.job_id)
    assert waiting is not None
    assert waiting.status is JobStatus.QUEUED
    assert waiting.attempt == 0
    assert waiting.next_action_at == pytest.approx(now + 300)
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.provider_id == "heygen"
    state = live.shell.ports.breakers.state("heygen", now=live.clock(), fresh=True)
    assert state.override is None


def test_a_maintenance_window_past_the_deadline_fails_the_job_at_once(live: World) -> None:
    now = live.clock()
    for other in ("did", "runwayml"):
        admin.set_circuit(live.shell, other, ManualAction.OPEN, by="test", reason="out")
    admin.set_circuit(
        live.shell,
        "heygen",
        ManualAction.OPEN,
        by="ops",
        reason="long maintenance",
        until=now + 7200,
    )
    failed = processing.process(live.shell, live.new_job().job_id)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "no_provider_available"


def test_until_is_refused_on_anything_but_a_future_open(live: World) -> None:
    now = live.clock()
    with pytest.raises(InvalidRequest) as close:
        admin.set_circuit(live.shell, "did", ManualAction.CLOSE, by="t", reason="x", until=now + 60)
    with pytest.raises(InvalidRequest) as past:
        admin.set_circuit(live.shell, "did", ManualAction.OPEN, by="t", reason="x", until=now - 1)
    for refused in (close, past):
        assert refused.value.details == [{"field": "until", "message": ANY}]


def test_an_admin_quality_reset_lets_a_locked_out_provider_be_selected_again(
    live: World,
) -> None:
    """HeyGen failed its quality checks; an admin resets its quality, and the
    health check keeps counting only the renders after the reset."""
    now = live.clock()
    for i in range(3):
        live.db.put(
            stores.METRICS,
            None,
            {
                "providerId": "heygen",
                "timestamp": now - 100 + i,
                "operationType": "generation",
                "success": False,
                "responseTime": 60_000,
                "videoQuality": 0.0,
            },
        )
    health.health_check(live.shell)
    locked = live.shell.ports.docs.get(stores.STATS, "heygen")
    assert locked is not None
    assert (locked["quality"], locked["qualitySamples"]) == (0.0, 3)
    admin.reset_quality(live.shell, "heygen", by="ops@example.test", reason="provider fixed it")
    reset = live.shell.ports.docs.get(stores.STATS, "heygen")
    assert reset is not None
    assert reset["quality"] is None
    assert reset["qualityReset"]["by"] == "ops@example.test"
    live.clock.offset += 1.0
    health.health_check(live.shell)
    after = live.shell.ports.docs.get(stores.STATS, "heygen")
    assert after is not None
    assert (after["quality"], after["qualitySamples"]) == (None, 0)
    assert after["qualityReset"]["reason"] == "provider fixed it"
    with pytest.raises(NotFound, match="no provider 'nobody'"):
        admin.reset_quality(live.shell, "nobody", by="ops", reason="no such provider")


def test_costs_and_job_reliability_reach_the_dashboard_for_every_period(live: World) -> None:
    """A finished job carries estimatedCost; the health check rolls the
    hour into analytics documents, and the dashboard answers every period from them."""
    job = live.run(live.new_job().job_id)
    assert job.status is JobStatus.COMPLETED
    stored = live.db.coll(stores.JOBS)[job.job_id]
    caps = live.shell.ports.providers[job.provider_id or ""].capabilities
    assert stored["estimatedCost"] == caps.price_per_video  # no measured cost yet: list price
    health.health_check(live.shell)
    assert live.db.coll(stores.ANALYTICS_HOURLY)
    assert live.db.coll(stores.ANALYTICS_DAILY)
    board = admin.dashboard_answer(live.shell)
    periods = board["analytics"]["periods"]  # type: ignore[index]
    assert set(periods) == {"1h", "24h", "7d", "30d"}
    for name in ("1h", "24h", "7d", "30d"):
        assert periods[name]["jobs"]["completed"] == 1
        assert periods[name]["jobs"]["completionRate"] == 1.0
        assert periods[name]["jobs"]["firstTryRate"] == 1.0
        assert periods[name]["overall"]["spend"] > 0
        assert periods[name]["spendByTier"] == {"free": periods[name]["overall"]["spend"]}
    day = board["analytics"]["spendByDay"][0]  # type: ignore[index]
    assert day["byProvider"][job.provider_id] > 0


def test_alerts_are_stored_with_when_they_started_and_cleared(live: World) -> None:
    """The health check starts an alert episode for an open circuit and clears
    it when the circuit is back; the dashboard shows both times."""
    admin.set_circuit(live.shell, "runwayml", ManualAction.OPEN, by="ops", reason="planned work")
    health.health_check(live.shell)
    active = admin.dashboard_answer(live.shell)["alerts"]["active"]  # type: ignore[index]
    assert [(a["kind"], a["providerId"]) for a in active] == [("circuit_open", "runwayml")]
    started = active[0]["startedAt"]
    admin.set_circuit(live.shell, "runwayml", ManualAction.RESET, by="ops", reason="done")
    live.clock.offset += 60.0
    health.health_check(live.shell)
    board = admin.dashboard_answer(live.shell)["alerts"]  # type: ignore[index]
    assert board["active"] == []
    (cleared,) = board["recent"]
    assert cleared["startedAt"] == started
    assert cleared["clearedAt"] > started


def test_an_api_failure_with_nowhere_else_to_go_is_spaced_not_budgeted(
    live: World,
) -> None:
    """D-ID answers 500 to every submit of one user's job and the others are out. A refused
    submit is no render: it costs nothing and uses none of the render budget, so the job keeps
    asking, spaced by its backoff (one user's failures alone never open D-ID's breaker for
    everyone: they count only within the user's share), and fails at its deadline, having
    paid for nothing."""
    live.sim.add_fault("did", "server_error", count=100, op="submit")
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID only")
    done = live.run(live.new_job().job_id, rounds=80)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "deadline_exceeded"
    submits = [r.started_at for r in done.history]
    assert len(submits) > done.max_attempts  # refusals are not renders
    assert {r.outcome for r in done.history} == {"api_failure"}
    gaps = [b - a for a, b in itertools.pairwise(submits)]
    assert min(gaps[5:]) >= 29  # the backoff spaces them out, to its cap
    assert len(submits) <= orch.JOB_TIMEOUT_S / 30 + 8
    assert live.sim.stats()["did"]["charges"] == 0
