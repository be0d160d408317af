"""Money and outages bounded by construction, attacked as someone after more video than they pay
for would: an over-long script, a burst of accounts at the daily cap, cancel/retry loops, a
downgraded tier on retry, scripts the providers refuse, and outages at low traffic. Each test
failed on the code before these bounds (issue 22); the dollar figures are at the providers'
list prices (HeyGen $0.10 a second of output, `shared/adapters/providers/heygen.py`)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.adapters.stores.base import JOBS, SPEND
from shared.core import jobs as jobmod
from shared.core import orchestration as orch
from shared.core import spend
from shared.core.breaker import CircuitState, ManualAction, Outcome, user_allowance
from shared.core.cv import WORD_LIMIT
from shared.core.errors import ErrorCategory
from shared.core.jobs import Job, JobStatus
from shared.core.model import Duration, Tier, VideoOptions
from shared.core.refusals import LimitReached
from shared.shell import admin, health, processing, users
from tests.support.harness import SCRIPT, Harness
from tests.support.memory import World

# 615 words: about 246 s spoken, $24.60 at HeyGen's list price (the free-tier attack).
LONG = " ".join(["word"] * 615)
USER = "user-1"


def words(n: int) -> str:
    return " ".join(["word"] * n)


def only_heygen(live: World) -> None:
    for provider in ("did", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="HeyGen only")


def spend_doc(world: World) -> dict[str, float]:
    return dict(world.db.coll(SPEND).get(spend.day_key(world.clock()), {}))


def run_all(live: World, job_ids: list[str], *, rounds: int = 400) -> list[Job]:
    """Process every job whenever it is due and run the health check every minute (as the
    deployment's providerHealthCheck does), jumping the clock to the next of them, until all
    jobs are terminal (the simulator renders in 0.2 s of wall time)."""
    next_check = live.clock()
    for _ in range(rounds):
        current = [live.shell.ports.jobs.get(j) for j in job_ids]
        pending = [j for j in current if j is not None and not j.terminal]
        if not pending:
            break
        due = min(min(j.next_action_at or live.clock() for j in pending), next_check)
        live.clock.offset += max(0.0, due - live.clock()) + 0.01
        time.sleep(0.05)
        if live.clock() >= next_check:
            health.health_check(live.shell)
            next_check = live.clock() + 60.0
        for job in pending:
            if (job.next_action_at or 0.0) <= live.clock():
                processing.process(live.shell, job.job_id)
    final = [live.shell.ports.jobs.get(j) for j in job_ids]
    assert all(j is not None for j in final)
    return [j for j in final if j is not None]


# 1. Length is bounded by the tier's duration


@pytest.mark.parametrize(
    ("tier", "duration"),
    [("free", "short"), ("free", "medium"), ("premium", "long"), ("enterprise", "long")],
)
def test_a_script_longer_than_its_duration_allows_is_refused_naming_the_budget(
    harness: Harness, tier: str, duration: str
) -> None:
    """615 words asked as any duration (before: accepted, a ~246 s video, $24.60 billed and
    $6 recorded) is refused with the word count and the budget; no job is made. A script at
    the budget (with its stated slack) is accepted."""
    limit = WORD_LIMIT[Duration(duration)]
    asked = {"script": LONG, "options": {"duration": duration}}
    refused = harness.call("generateVideo", asked, {"tier": tier})
    error = refused.error
    assert error["status"] == "INVALID_ARGUMENT", refused.body
    assert "615 words" in error["message"]
    assert f"allows {limit}" in error["message"]
    assert error["details"] == {"field": "script", "words": 615, "budget": limit}
    assert harness.db.coll(JOBS) == {}
    fits = {"script": words(limit), "options": {"duration": duration}}
    assert harness.call("generateVideo", fits, {"tier": tier}).status == 200


def test_the_web_apps_custom_script_and_a_retry_are_bounded_too(harness: Harness) -> None:
    """regenerateVideoIntroduction's ``customScript`` (the app sends it as the first argument
    of cvService.regenerateVideoIntroduction, FeatureDashboard.tsx L794-797) and the retry of
    a job stored with an over-long script are refused as generateVideo is."""
    harness.db.put("jobs", "cv-1", {"userId": USER, "parsedData": {"summary": "I build."}})
    custom = {"jobId": "cv-1", "customScript": LONG, "duration": "short"}
    # A premium user by the app's own entitlement (its userSubscriptions document).
    harness.db.put(
        "userSubscriptions",
        USER,
        {"lifetimeAccess": True, "features": {"videoIntroduction": True}},
    )
    refused = harness.call("regenerateVideoIntroduction", custom, {})
    assert refused.error["status"] == "INVALID_ARGUMENT", refused.body
    assert "615 words" in refused.error["message"]
    now = time.time()
    old = Job(
        job_id="vj_old",
        created_at=now,
        deadline_at=now + 1800,
        user_id=USER,
        script=LONG,
        options=VideoOptions(duration=Duration.SHORT),
        status=JobStatus.CANCELLED,
    )
    harness.shell.ports.jobs.create(old)
    retried = harness.call("retryVideoJob", {"jobId": "vj_old"}, {})
    assert retried.error["status"] == "INVALID_ARGUMENT", retried.body


# 2. The daily cap holds under a burst, and before every submit


def test_fifty_accounts_bursting_at_the_cap_reserve_no_more_than_the_cap(
    harness: Harness,
) -> None:
    """50 users call generateVideo at once with room under the cap for 10 jobs' estimates:
    exactly 10 are created and the reserved total never passes the cap (before: all 50, the
    cap was read before the creates, against renders already billed)."""
    probe = Job(job_id="p", created_at=0.0, deadline_at=1.0, script=SCRIPT)
    estimate = orch.reservation_usd(probe, harness.shell.setup)
    cap = round(10 * estimate, 6)
    harness.choose(daily_spend_cap_usd=cap)
    gate = threading.Barrier(50)
    for i in range(50):
        harness.tokens[f"t{i}"] = {"uid": f"account-{i}"}

    def one(i: int) -> int:
        body = json.dumps({"data": {"script": SCRIPT}}).encode()
        gate.wait()
        answer = harness.post("generateVideo", body, headers={"Authorization": f"Bearer t{i}"})
        return answer.status

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(one, range(50)))

    assert statuses.count(200) == 10
    assert statuses.count(429) == 40
    (today,) = harness.db.coll(SPEND).values()
    assert spend.reserved(today) <= cap + 1e-9
    assert len(harness.db.coll(JOBS)) == 10


def test_no_render_is_submitted_past_the_cap(live: World) -> None:
    """Jobs accepted under the cap do not submit once billed + reserved passes it (another
    instance billed meanwhile): the job fails ``daily_spend_cap`` without calling a provider
    and its reservation is released (before: it submitted, up to 4 times)."""
    live.choose(daily_spend_cap_usd=10.0)
    job, _ = processing.create_job(live.shell, user_id=USER, script=SCRIPT, options=VideoOptions())
    assert 0 < job.reserved_usd < 10.0
    live.db.add_to(SPEND, spend.day_key(live.clock()), {"billedUsd": 9.9, "renders": 1})
    done = live.run(job.job_id)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "daily_spend_cap"
    assert live.sim is not None
    stats = live.sim.stats()
    submits = [stats[p]["counters"].get("requests:submit", 0) for p in ("heygen", "did")]
    assert submits == [0, 0]
    assert spend.reserved(spend_doc(live)) == pytest.approx(0.0)


def test_reservations_are_taken_with_the_job_and_released_when_it_ends(live: World) -> None:
    """A job holds its estimate while it runs; its completion bills what was rendered and
    releases the reservation in the same write."""
    only_heygen(live)
    live.choose(daily_spend_cap_usd=100.0)
    job, _ = processing.create_job(live.shell, user_id=USER, script=SCRIPT, options=VideoOptions())
    assert job.reserved_usd > 0
    assert spend.reserved(spend_doc(live)) == pytest.approx(job.reserved_usd)
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    today = spend_doc(live)
    assert spend.reserved(today) == pytest.approx(0.0)
    assert live.sim is not None
    assert spend.spent(today) == pytest.approx(live.sim.stats()["heygen"]["charged_usd"])


# 3. Cancel then retry hides no render


def test_cancel_retry_loops_are_billed_as_the_provider_bills_and_run_out(live: World) -> None:
    """Submit to HeyGen (which cannot cancel), cancel, retry, again and again: every render is
    recorded at what HeyGen charged, and the retries stop when the job's render budget is used
    (before: spend $0 for every render and a fresh budget per retry, without end)."""
    only_heygen(live)
    job, _ = processing.create_job(
        live.shell, user_id=USER, script=words(150), options=VideoOptions()
    )
    loops = 0
    for _ in range(8):
        processing.process(live.shell, job.job_id)
        users.cancel(live.shell, job_id=job.job_id, user_id=USER)
        loops += 1
        try:
            job, _ = users.retry(live.shell, job_id=job.job_id, user_id=USER)
        except LimitReached:
            break
    assert live.sim is not None
    heygen = live.sim.stats()["heygen"]
    today = spend_doc(live)
    assert heygen["charges"] == loops == live.shell.setup.max_attempts
    assert today["renders"] == heygen["charges"]
    assert spend.spent(today) == pytest.approx(heygen["charged_usd"])  # 4 x 60 s = $24.00


def test_a_retry_is_checked_against_the_callers_tier_now(harness: Harness) -> None:
    """A premium user's long video, cancelled, then retried after a downgrade to free is
    refused for the options the free tier does not allow (before: the old job's tier)."""
    long = {"script": SCRIPT, "options": {"duration": "long", "qualityLevel": "premium"}}
    made = harness.call("generateVideo", long, {"tier": "premium"}).json["result"]
    harness.call("cancelVideoJob", {"jobId": made["jobId"]}, {"tier": "premium"})
    downgraded = harness.call("retryVideoJob", {"jobId": made["jobId"]}, {"tier": "free"})
    assert downgraded.error["status"] == "PERMISSION_DENIED", downgraded.body
    assert {d["field"] for d in downgraded.error["details"]} == {
        "options.duration",
        "options.qualityLevel",
    }
    still = harness.call("retryVideoJob", {"jobId": made["jobId"]}, {"tier": "premium"})
    assert still.status == 200
    retried = harness.shell.ports.jobs.get(still.json["result"]["jobId"])
    assert retried is not None
    assert retried.tier is Tier.PREMIUM


# 4. One user cannot open the shared breakers


@pytest.mark.parametrize("mode", ["validation", "resource"])
def test_five_refused_scripts_from_one_user_leave_the_breakers_closed(
    live: World, mode: str
) -> None:
    """Every provider refuses five scripts of one user (a 400 naming the script; for HeyGen
    also a 403 resource_access_denied): those jobs fail as refused, the breakers stay closed,
    and the next honest job is made on HeyGen (before: HeyGen then D-ID opened for all)."""
    assert live.sim is not None
    heygen_fault = {"mode": mode} if mode == "resource" else {}
    live.sim.add_fault("heygen", "invalid_request", count=5, op="submit", **heygen_fault)
    live.sim.add_fault("did", "invalid_request", count=5, op="submit")
    live.sim.add_fault("runwayml", "invalid_request", count=5, op="submit")
    since = live.clock()
    refused = run_all(live, [live.new_job().job_id for _ in range(5)])
    opened = [
        t.provider_id
        for t in live.shell.ports.breakers.transitions(since=since, limit=100)
        if t.to_state is CircuitState.OPEN
    ]
    assert opened == []
    now = live.clock()
    for provider in ("heygen", "did", "runwayml"):
        state = live.shell.ports.breakers.state(provider, now=now, fresh=True)
        assert state.state is CircuitState.CLOSED, provider
    assert {j.status for j in refused} == {JobStatus.FAILED}
    assert {j.error.code for j in refused if j.error} == {"api_failure"}
    honest = live.run(live.new_job().job_id)
    assert honest.status is JobStatus.COMPLETED
    assert honest.provider_id == "heygen"


def test_one_users_failing_jobs_cannot_open_a_breaker_for_everyone(live: World) -> None:
    """Whatever one user's jobs make a provider answer, they add at most one fewer failure
    than opening takes to its breaker's window (the rest are logged, not counted): mallory's
    twelve failed HeyGen calls leave it closed for everyone; another user's failure counts."""
    policy = live.shell.ports.breakers.policy("heygen")
    failure = Outcome(success=False, category=ErrorCategory.TRANSIENT)
    mallory = live.job(job_id="vj_mallory", user_id="mallory")
    for _ in range(12):
        live.shell.record("heygen", live.shell.within_user_share("heygen", failure, mallory))
    now = live.clock()
    assert live.shell.ports.breakers.state("heygen", now=now, fresh=True).state is (
        CircuitState.CLOSED
    )
    assert live.shell.ports.breakers.window("heygen", now=now).failures == user_allowance(policy)
    ada = live.job(job_id="vj_ada", user_id="ada")
    live.shell.record("heygen", live.shell.within_user_share("heygen", failure, ada))
    counted = live.shell.ports.breakers.window("heygen", now=live.clock()).failures
    assert counted == user_allowance(policy) + 1


# 5. Refused submits do not use up the render budget


def test_a_no_fallback_job_completes_on_its_third_submit(live: World) -> None:
    """HeyGen answers 500 to two submits, then is healthy: the job that may not switch
    completes there on its third submit, paying one render (before: failed api_failure after
    two submits)."""
    assert live.sim is not None
    live.sim.add_fault("heygen", "server_error", count=2, op="submit")
    job = live.new_job(allow_fallback=False)
    done = live.run(job.job_id, rounds=40)
    assert done.status is JobStatus.COMPLETED, done.error
    assert [(r.provider_id, r.outcome) for r in done.history] == [
        ("heygen", "api_failure"),
        ("heygen", "api_failure"),
        ("heygen", "completed"),
    ]
    assert live.sim.stats()["heygen"]["charges"] == 1
    assert jobmod.renders(done) == 1


def test_four_jobs_ride_out_an_outage_of_every_provider(live: World) -> None:
    """Every provider answers 503 to its next 12 calls (submits and health probes alike) while
    4 jobs arrive: all 4 complete within their deadline, each paying for one render (before:
    all 4 failed provider_overload after 4 submits each within 181 s)."""
    assert live.sim is not None
    for provider in ("heygen", "did", "runwayml"):
        live.sim.add_fault(provider, "overload", count=12)
    started = [live.new_job().job_id for _ in range(4)]
    done = run_all(live, started)
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 4, [j.error for j in done]
    assert all(j.updated_at is not None and j.updated_at <= j.deadline_at for j in done)
    stats = live.sim.stats()
    assert sum(stats[p]["charges"] for p in ("heygen", "did", "runwayml")) == 4
