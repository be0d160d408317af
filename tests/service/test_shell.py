"""The shell's rarer paths with scripted providers and in-memory stores: a job past its
deadline, an attempt whose worker died, a lease lost during a slow call, webhooks for unknown
jobs and failed renders, a probe, a lost status check, the dashboard view."""

from __future__ import annotations

import pytest

from shared.adapters.providers.base import (
    WebhookError,
    WebhookEvent,
    WebhookRequest,
)
from shared.adapters.stores import base as stores
from shared.adapters.stores import codec
from shared.core import breaker as br
from shared.core import jobs
from shared.core import orchestration as orch
from shared.core.errors import ErrorCategory
from shared.core.jobs import JobStatus
from shared.core.refusals import NotFound
from shared.shell import admin, health, processing, webhooks
from tests.support.fakes import NOW, error
from tests.support.memory import World

# The attempt and expiry every callback URL names (the fake adapters check no token).
CALLBACK = {"attempt": "1", "exp": "4000000000"}


def test_a_job_past_its_deadline_fails_and_releases_its_lease(world: World) -> None:
    """The deadline wins over any budget left."""
    world.job(deadline_at=NOW - 1)
    done = processing.process(world.shell, "job-1")
    assert done is not None
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "deadline_exceeded"
    assert world.shell.ports.jobs.lease("job-1") is None
    assert not any(p.submits for p in world.providers.values())


def test_a_job_waiting_past_its_deadline_is_failed_by_the_health_check(world: World) -> None:
    """A render whose webhook never comes (e.g. callbacks that cannot be verified) no longer
    leaves the job processing forever: the health check runs it, even though its next action
    (the follow-up poll) is still ahead. Its render is looked at once more: while D-ID reports
    it in progress the job goes on, and past D-ID's render cap it fails with
    deadline_exceeded."""
    world.job(
        status=JobStatus.PROCESSING,
        provider_id="did",
        provider_job_id="tlk_1",
        attempt=1,
        deadline_at=NOW + 60,
        next_action_at=NOW + 3600,
    )
    world.clock.now = NOW + 61
    report = health.health_check(world.shell)
    assert report["expired"] == 1
    (job_id, at, reason) = world.tasks.tasks[-1]
    assert (job_id, at, reason) == ("job-1", NOW + 61, "past its deadline")
    going = processing.process(world.shell, job_id)
    assert going is not None
    assert going.status is JobStatus.PROCESSING
    world.clock.now = NOW + world.shell.setup.capabilities["did"].render_cap_s + 1
    health.health_check(world.shell)
    done = processing.process(world.shell, job_id)
    assert done is not None
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "deadline_exceeded"


def test_an_orphaned_attempt_is_resubmitted_with_the_same_key(world: World) -> None:
    """A worker died after its checkpoint: the next one resubmits on the same provider, with the
    same idempotency key, so the provider cannot bill twice."""
    job = world.job()
    checkpoint = jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW
    )
    world.db.put(
        stores.JOBS,
        "job-1",
        {**world.db.coll(stores.JOBS)["job-1"], **codec.job_to_doc(checkpoint)},
    )
    waiting = processing.process(world.shell, "job-1")
    assert waiting is not None
    assert waiting.history[0].outcome == ErrorCategory.TIMEOUT.value
    assert waiting.preferred_provider == "heygen"
    assert world.tasks.tasks[-1][1] == waiting.next_action_at
    world.clock.now = waiting.next_action_at or NOW
    done = processing.process(world.shell, "job-1")
    assert done is not None
    assert done.provider_job_id == "heygen-r1"
    (request,) = world.providers["heygen"].submits
    assert request.attempt == checkpoint.key_seq


def test_a_lease_lost_during_a_slow_submit_keeps_the_stored_job(world: World) -> None:
    """Another worker took the job over while the submit ran: our answer is dropped."""
    world.job()

    def steal() -> None:
        world.clock.now += 500  # past our lease
        world.shell.ports.jobs.claim("job-1", owner="other", now=world.clock(), lease_s=120)

    for p in world.providers.values():
        p.on_submit = steal
    done = processing.process(world.shell, "job-1")
    assert done is not None
    assert done.provider_job_id is None
    lease = world.shell.ports.jobs.lease("job-1")
    assert lease is not None
    assert lease.owner == "other"
    assert world.tasks.tasks == []


def test_a_status_check_failing_while_the_circuit_is_open_keeps_the_render(world: World) -> None:
    """A render out of sight on a provider whose circuit is open is not given up (it is paid
    for): it is looked at again, and nothing else is paid. Before: it was given up."""
    world.job()
    assert processing.process(world.shell, "job-1") is not None
    submitted = world.shell.ports.jobs.get("job-1")
    assert submitted is not None
    assert submitted.provider_id is not None
    pid = submitted.provider_id
    admin.set_circuit(world.shell, pid, br.ManualAction.OPEN, by="ops", reason="maintenance")
    world.providers[pid].fail_status = error(ErrorCategory.NETWORK_ERROR, pid)
    world.clock.now = submitted.next_action_at or NOW
    after = processing.process(world.shell, "job-1")
    assert after is not None
    assert after.history[0].outcome is None
    assert after.provider_job_id == submitted.provider_job_id  # polled again, not given up
    assert world.tasks.tasks[-1][2] == "status check failed"
    failures = [
        d for d in world.db.coll(stores.METRICS).values() if d["operationType"] == "generation"
    ]
    assert failures == []


def test_a_render_still_running_is_polled_again(world: World) -> None:
    world.job()
    first = processing.process(world.shell, "job-1")
    assert first is not None
    assert first.next_action_at is not None
    world.clock.now = first.next_action_at
    again = processing.process(world.shell, "job-1")
    assert again is not None
    pace = orch.poll_every(again.provider_id or "", world.shell.setup)
    assert again.next_action_at == world.clock.now + pace
    assert world.tasks.tasks[-1][2] == "status poll"


def test_webhooks_for_unknown_providers_jobs_and_bad_signatures(world: World) -> None:
    """Refused with the status to answer, or ignored; nothing changes."""
    request = WebhookRequest(body=b"{}", query={"job": "nope", **CALLBACK})
    with pytest.raises(WebhookError) as unknown:
        webhooks.on_webhook(world.shell, "acme", request)
    assert unknown.value.status == 404
    with pytest.raises(WebhookError) as forged:
        webhooks.on_webhook(world.shell, "did", request)
    assert forged.value.status == 401
    world.providers["did"].event = WebhookEvent(
        provider_id="did",
        provider_job_id="r",
        job_id=None,
        succeeded=True,
        event_id="e",
        video_url="https://cdn.example/v.mp4",
    )
    assert webhooks.on_webhook(world.shell, "did", request) == "ignored: unknown job"
    with pytest.raises(WebhookError) as nameless:
        webhooks.on_webhook(world.shell, "did", WebhookRequest(body=b"{}", query=CALLBACK))
    assert nameless.value.status == 400


def test_a_failed_render_by_webhook_fails_over_and_schedules_the_next_attempt(
    world: World,
) -> None:
    world.job()
    submitted = processing.process(world.shell, "job-1")
    assert submitted is not None
    assert submitted.provider_id is not None
    pid = submitted.provider_id
    world.providers[pid].event = WebhookEvent(
        provider_id=pid,
        provider_job_id=submitted.provider_job_id or "",
        job_id="job-1",
        succeeded=False,
        event_id="e1",
        failure_message="render crashed",
    )
    result = webhooks.on_webhook(world.shell, pid, WebhookRequest(body=b"{}", query=CALLBACK))
    assert result.startswith("render failed: ")
    after = world.shell.ports.jobs.get("job-1")
    assert after is not None
    assert after.provider_job_id is None
    assert world.tasks.tasks[-1][0] == "job-1"
    assert webhooks.on_webhook(world.shell, pid, WebhookRequest(body=b"{}", query=CALLBACK)) == (
        "ignored: stale or duplicate event"
    )


def test_the_health_check_probes_alerts_and_refreshes(world: World) -> None:
    world.providers["did"].fail_probe = error(ErrorCategory.AUTHENTICATION, "did")
    report = health.health_check(world.shell)
    assert report["did"] == "down: authentication"
    assert report["heygen"] == "up"
    state = world.shell.ports.breakers.state("did", now=world.clock(), fresh=True)
    assert state.state is br.CircuitState.OPEN
    assert world.shell.ports.docs.get(stores.STATS, "heygen") is not None
    board = admin.dashboard_answer(world.shell)
    assert board["circuitBreaker"]["openCircuits"] == 1  # type: ignore[index]
    assert board["overallHealth"]["healthyProviders"] == 2  # type: ignore[index]


def test_a_manual_circuit_change_needs_a_known_provider(world: World) -> None:
    with pytest.raises(NotFound, match="no provider 'acme'"):
        admin.set_circuit(world.shell, "acme", br.ManualAction.OPEN, by="ops", reason="why")
