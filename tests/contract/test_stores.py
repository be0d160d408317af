"""One contract for the stores, run against both implementations: in memory, and Firestore on
Google's Firestore emulator (which locks pessimistically, as Firestore does for server clients)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from shared.adapters.stores import base
from shared.adapters.stores.base import LeaseLostError, TerminalJobError
from shared.adapters.stores.breakers import SharedBreaker
from shared.adapters.stores.firestore import (
    FirestoreBreakerBackend,
    FirestoreJobStore,
    Usage,
    seen_job,
)
from shared.adapters.stores.memory import MemoryBreakerBackend, MemoryDatabase, MemoryJobStore
from shared.core import breaker as br
from shared.core import jobs, quota, spend, userview
from shared.core.breaker import Admission, CircuitState, ManualAction, Outcome
from shared.core.degradation import Degradation
from shared.core.errors import ErrorCategory
from shared.core.jobs import Job, JobError, VideoResult
from shared.core.model import AspectRatio, Background, Duration, VideoOptions
from shared.core.presentation import Unhonoured
from shared.core.records import RecoveryLog, derived
from tests.support.fakes import Clock
from tests.support.stacks import PROJECT
from tools.emulators import FirestoreEmulator

NOW = 1_800_000_000.0
POLICY = br.BreakerPolicy(failure_threshold=5, recovery_timeout_s=60.0)


@dataclass
class World:
    """Fresh store instances over one shared database, as function instances see it."""

    name: str
    new_jobs: Callable[[], base.JobStore]
    new_breaker: Callable[[Clock | None], SharedBreaker]
    writes: Callable[[], int]
    # The job as a trigger event would deliver it now; documents read (None: not counted).
    seen: Callable[[str], base.SeenJob]
    reads: Callable[[], int] | None = None


def _memory() -> World:
    db = MemoryDatabase()
    return World(
        name="memory",
        new_jobs=lambda: MemoryJobStore(db),
        new_breaker=lambda clock: SharedBreaker(
            MemoryBreakerBackend(db),
            policies=_policies(),
            clock=clock or Clock(0.0),
        ),
        writes=lambda: db.writes,
        seen=lambda job_id: _seen_in(MemoryJobStore(db), job_id),
    )


_PROVIDERS: list[str] = []


def _policies() -> dict[str, br.BreakerPolicy]:
    return dict.fromkeys(_PROVIDERS, POLICY)


def _firestore(server: FirestoreEmulator) -> World:
    usage = Usage()

    def client() -> firestore.Client:
        return firestore.Client(project=PROJECT, credentials=AnonymousCredentials())

    return World(
        name="firestore",
        new_jobs=lambda: FirestoreJobStore(client(), usage),
        new_breaker=lambda clock: SharedBreaker(
            FirestoreBreakerBackend(client(), usage),
            policies=_policies(),
            clock=clock or Clock(0.0),
        ),
        writes=lambda: usage.writes,
        seen=lambda job_id: _seen_on(client(), job_id),
        reads=lambda: usage.reads,
    )


def _seen_in(store: MemoryJobStore, job_id: str) -> base.SeenJob:
    seen = store.seen(job_id)
    assert seen is not None
    return seen


def _seen_on(client: firestore.Client, job_id: str) -> base.SeenJob:
    snapshot = client.collection(base.JOBS).document(job_id).get()
    return seen_job(snapshot.to_dict() or {}, snapshot.update_time)


@pytest.fixture(params=["memory", pytest.param("firestore", marks=pytest.mark.firestore)])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "memory":
        yield _memory()
        return
    server: FirestoreEmulator = request.getfixturevalue("firestore_emulator")
    request.getfixturevalue("firestore_client")  # sets FIRESTORE_EMULATOR_HOST for the session
    yield _firestore(server)


@pytest.fixture
def provider() -> str:
    """A provider id of its own per test, so bucket and state documents never collide."""
    pid = f"prov-{uuid.uuid4().hex[:8]}"
    _PROVIDERS.append(pid)
    return pid


def new_job(**changes: object) -> Job:
    job = Job(
        job_id=f"job-{uuid.uuid4().hex[:12]}",
        created_at=NOW,
        updated_at=NOW,
        deadline_at=NOW + 1800,
        user_id=f"user-{uuid.uuid4().hex[:6]}",
        request_id="req-12345678",
        script="Hello, I am a test script of more than twenty characters.",
        options=VideoOptions(duration=Duration.LONG),
    )
    return replace(job, **changes)  # type: ignore[arg-type]


# Jobs


def test_a_duplicate_create_returns_the_same_job(world: World) -> None:
    """Creating a job whose id exists returns the stored job, not a second one."""
    store = world.new_jobs()
    job = new_job()
    first, created = store.create(job)
    again, created_again = store.create(replace(job, script="a different script, same id"))
    assert (created, created_again) == (True, False)
    assert again == first == job


def test_a_job_roundtrips_through_the_store_unchanged(world: World) -> None:
    """Everything the state machine sets survives being stored and read back."""
    store = world.new_jobs()
    job = jobs.begin_attempt(
        new_job(),
        provider_id="heygen",
        options=VideoOptions(),
        degradations=(),
        reasoning=("r",),
        now=NOW,
    )
    job = jobs.submitted(job, provider_job_id="v-1", follow_up_at=NOW + 60, now=NOW)
    job = jobs.complete(
        job, result=VideoResult(video_url="https://x/v.mp4", duration_s=59.5), now=NOW
    )
    store.create(job, side=derived(None, job))
    assert store.get(job.job_id) == job


def test_a_jobs_presentation_and_what_its_provider_could_not_honour_roundtrip(
    world: World,
) -> None:
    """Background, subtitles, name card, a square frame, the unhonoured list and the captions'
    object survive the store; the notes the user reads are made from them."""
    store = world.new_jobs()
    asked = VideoOptions(
        aspect_ratio=AspectRatio.SQUARE,
        background=Background.GRADIENT,
        subtitles=True,
        name_card=True,
    )
    job = jobs.begin_attempt(
        replace(new_job(), options=asked),
        provider_id="did",
        options=replace(asked, aspect_ratio=AspectRatio.LANDSCAPE),
        degradations=(Degradation.SQUARE_TO_LANDSCAPE,),
        reasoning=(),
        now=NOW,
        unhonoured=(Unhonoured.BACKGROUND, Unhonoured.NAME_CARD),
    )
    job = jobs.submitted(job, provider_job_id="tlk_1", follow_up_at=NOW + 60, now=NOW)
    result = VideoResult(
        video_url="https://x/v.mp4",
        subtitles_url="https://x/v.vtt",
        subtitles_path="gs://b/videos/u/j.vtt",
    )
    job = jobs.complete(job, result=result, now=NOW)
    store.create(job, side=derived(None, job))
    stored = store.get(job.job_id)
    assert stored == job
    assert len(userview.degradation_notes(stored)) == 3


def test_exactly_one_of_eight_concurrent_claims_wins(world: World) -> None:
    """Eight workers claim one queued job at once: one gets it, seven get nothing."""
    job, _ = world.new_jobs().create(new_job())
    stores = [world.new_jobs() for _ in range(8)]
    barrier = threading.Barrier(8)

    def claim(i: int) -> Job | None:
        barrier.wait()
        return stores[i].claim(job.job_id, owner=f"w{i}", now=NOW, lease_s=60)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    winners = [i for i, r in enumerate(results) if r is not None]
    assert len(winners) == 1
    lease = stores[0].lease(job.job_id)
    assert lease is not None
    assert lease.owner == f"w{winners[0]}"


def _counter(user_id: str, limit: int) -> base.Counter:
    limits = [quota.per_hour(limit)]
    return base.Counter(
        base.QUOTAS, user_id, lambda doc: dict(quota.admit(doc, now=NOW, limits=limits))
    )


def test_a_burst_of_fifty_creates_from_one_user_makes_exactly_the_limit(world: World) -> None:
    """50 simultaneous new jobs of one user with a limit of 10: the counter is bumped in the
    same atomic write as each creation, so exactly 10 are created and 40 refused."""
    user = f"user-{uuid.uuid4().hex[:6]}"
    stores = [world.new_jobs() for _ in range(8)]
    barrier = threading.Barrier(50)

    def create(i: int) -> str:
        barrier.wait()
        try:
            stores[i % 8].create(new_job(user_id=user), counter=_counter(user, 10))
        except quota.QuotaExceededError:
            return "refused"
        return "created"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(create, range(50)))
    assert (outcomes.count("created"), outcomes.count("refused")) == (10, 40)
    mine = [j for j in stores[0].recent(limit=500) if j.user_id == user]
    assert len(mine) == 10


def test_fifty_users_bursting_at_the_spend_cap_reserve_no_more_than_it(world: World) -> None:
    """50 simultaneous new jobs of 50 users, each with its user's counter and the day's spend
    reservation (room for 10 estimates): exactly 10 are created, on Google's emulator too."""
    day = f"day-{uuid.uuid4().hex[:6]}"

    def reservation() -> base.Counter:
        return base.Counter(
            base.SPEND,
            day,
            lambda doc: spend.reserve(
                doc, estimate_usd=6.0, cap_usd=60.0, jobs_per_minute=None, now=NOW
            ),
        )

    stores = [world.new_jobs() for _ in range(8)]
    barrier = threading.Barrier(50)

    def create(i: int) -> str:
        user = f"user-{uuid.uuid4().hex[:6]}"
        barrier.wait()
        try:
            stores[i % 8].create(
                new_job(user_id=user), counter=_counter(user, 10), counters=(reservation(),)
            )
        except spend.SpendCapReachedError:
            return "refused"
        return "created"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(create, range(50)))
    assert (outcomes.count("created"), outcomes.count("refused")) == (10, 40)


def test_a_repeated_create_does_not_count_against_the_limit(world: World) -> None:
    """The job's create and the counter's bump land together or not at all."""
    store = world.new_jobs()
    job = new_job()
    counter = _counter(job.user_id, 2)
    assert store.create(job, counter=counter) == (job, True)
    assert store.create(job, counter=counter) == (job, False)
    other = new_job(user_id=job.user_id)
    assert store.create(other, counter=counter) == (other, True)
    with pytest.raises(quota.QuotaExceededError, match="2 videos"):
        store.create(new_job(user_id=job.user_id), counter=counter)


def test_a_live_lease_blocks_and_an_expired_one_can_be_reclaimed(world: World) -> None:
    """A crashed worker's lease runs out; then another worker may take the job."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    assert store.claim(job.job_id, owner="a", now=NOW, lease_s=60) is not None
    assert store.claim(job.job_id, owner="b", now=NOW + 59, lease_s=60) is None
    assert store.claim(job.job_id, owner="b", now=NOW + 61, lease_s=60) is not None


def test_a_job_whose_next_action_is_not_due_cannot_be_claimed(world: World) -> None:
    """A job waiting for a backoff stays put until its time."""
    store = world.new_jobs()
    job, _ = store.create(new_job(next_action_at=NOW + 30))
    assert store.claim(job.job_id, owner="a", now=NOW, lease_s=60) is None
    assert store.claim(job.job_id, owner="a", now=NOW + 30, lease_s=60) is not None


def test_a_worker_that_lost_its_lease_cannot_save(world: World) -> None:
    """After another worker took over, the first one's write is refused."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    store.claim(job.job_id, owner="a", now=NOW, lease_s=10)
    store.claim(job.job_id, owner="b", now=NOW + 11, lease_s=60)
    with pytest.raises(LeaseLostError):
        store.save(replace(job, attempt=1), owner="a", now=NOW + 12)


def test_a_terminal_job_refuses_every_change(world: World) -> None:
    """Completed or failed, a job never changes again — by save or by transaction."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    store.claim(job.job_id, owner="a", now=NOW, lease_s=60)
    error = JobError(code="authentication", message="bad key", retryable=False)
    failed = jobs.fail(job, error=error, now=NOW + 1)
    store.save(failed, owner="a", now=NOW + 1, side=derived(job, failed))
    assert store.claim(job.job_id, owner="a", now=NOW + 2, lease_s=60) is None
    with pytest.raises(TerminalJobError):
        store.transact(job.job_id, lambda j: (None, replace(j, script="changed"), ()), now=NOW + 3)
    assert store.get(job.job_id) == failed


def test_side_documents_land_with_the_job_update_or_not_at_all(world: World) -> None:
    """Side documents (a recovery log here) are written in the same transaction as the job; a
    refused save writes none."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    store.claim(job.job_id, owner="a", now=NOW, lease_s=60)
    tag = uuid.uuid4().hex
    log = RecoveryLog(f"m-{tag}", {"jobId": job.job_id, "tag": tag})
    store.save(replace(job, attempt=1), owner="a", now=NOW + 1, side=[log])
    docs = getattr(store, "docs")  # noqa: B009 - both implementations expose their documents
    assert docs.get(base.RECOVERY_LOGS, f"m-{tag}") == {"jobId": job.job_id, "tag": tag}
    refused = RecoveryLog(f"m-{tag}-refused", {"jobId": job.job_id})
    with pytest.raises(LeaseLostError):
        store.save(replace(job, attempt=2), owner="a", now=NOW + 2, side=[refused])
    assert docs.get(base.RECOVERY_LOGS, f"m-{tag}-refused") is None


def test_a_checkpoint_keeps_the_lease(world: World) -> None:
    """Saving before a provider call keeps the job leased; the final save releases it."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    store.claim(job.job_id, owner="a", now=NOW, lease_s=60)
    store.save(replace(job, attempt=1), owner="a", now=NOW + 1, release=False)
    assert store.claim(job.job_id, owner="b", now=NOW + 2, lease_s=60) is None
    store.save(replace(job, attempt=1), owner="a", now=NOW + 3)
    assert store.lease(job.job_id) is None


def _reads(world: World) -> int:
    return world.reads() if world.reads is not None else 0


def test_a_claim_on_the_version_an_event_delivered_reads_nothing(world: World) -> None:
    """The trigger's copy of the job is current: the lease is taken on it, unread; so are the
    holder's checkpoint and final save (each still refuses what the rules refuse)."""
    store = world.new_jobs()
    job, _ = store.create(new_job())
    seen = world.seen(job.job_id)
    before = _reads(world)
    assert store.claim(job.job_id, owner="a", now=NOW, lease_s=60, seen=seen) == job
    store.save(replace(job, attempt=1), owner="a", now=NOW + 1, release=False)
    store.save(replace(job, attempt=2), owner="a", now=NOW + 2)
    assert _reads(world) == before
    assert store.get(job.job_id) == replace(job, attempt=2)
    assert store.lease(job.job_id) is None


def test_a_claim_on_a_stale_event_decides_on_the_stored_job(world: World) -> None:
    """Events arrive late and twice: one delivered before another worker's claim must not take
    the lease from it, nor reopen a job finished since; a job changed but still runnable is
    still claimed."""
    store, rival = world.new_jobs(), world.new_jobs()
    job, _ = store.create(new_job())
    stale = world.seen(job.job_id)
    assert rival.claim(job.job_id, owner="rival", now=NOW, lease_s=60) is not None
    assert store.claim(job.job_id, owner="a", now=NOW + 1, lease_s=60, seen=stale) is None
    assert store.lease(job.job_id) == base.Lease(owner="rival", expires_at=NOW + 60)

    rival.save(replace(job, attempt=1), owner="rival", now=NOW + 2)  # released, still runnable
    claimed = store.claim(job.job_id, owner="a", now=NOW + 3, lease_s=60, seen=stale)
    assert claimed == replace(job, attempt=1)

    done = jobs.complete(
        jobs.submitted(
            jobs.begin_attempt(
                claimed,
                provider_id="heygen",
                options=claimed.options,
                degradations=(),
                reasoning=(),
                now=NOW + 4,
            ),
            provider_job_id="v1",
            follow_up_at=NOW + 60,
            now=NOW + 4,
        ),
        result=VideoResult(video_url="https://cdn.example/v1.mp4"),
        now=NOW + 5,
    )
    store.save(done, owner="a", now=NOW + 5)
    assert rival.claim(job.job_id, owner="rival", now=NOW + 6, lease_s=60, seen=stale) is None
    assert store.get(job.job_id) == done


def test_a_holder_saving_after_a_webhook_finished_the_job_is_refused(world: World) -> None:
    """The holder's save goes unread only while the job is as the holder last wrote it: after
    a webhook's transaction completed it, the save is refused and the completion stands."""
    worker, webhook = world.new_jobs(), world.new_jobs()
    job, _ = worker.create(new_job())
    worker.claim(job.job_id, owner="a", now=NOW, lease_s=60, seen=world.seen(job.job_id))
    attempt = jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW + 1
    )
    worker.save(attempt, owner="a", now=NOW + 1, release=False)  # checkpoint
    done = jobs.complete(
        attempt, result=VideoResult(video_url="https://cdn.example/v.mp4"), now=NOW + 2
    )
    webhook.transact(job.job_id, lambda _stored: (None, done, ()), now=NOW + 2)
    follow_up = jobs.submitted(attempt, provider_job_id="v1", follow_up_at=NOW + 60, now=NOW + 3)
    with pytest.raises(TerminalJobError):
        worker.save(follow_up, owner="a", now=NOW + 3)
    assert worker.get(job.job_id) == done


def test_a_holders_save_never_undoes_a_webhooks_failover(world: World) -> None:
    """A failure webhook that beats the holder's save of the render id moves the job on (a
    failover); the holder's save is then refused (JobChangedError) instead of overwriting the
    failover, which left the user waiting for the next poll."""
    worker, webhook = world.new_jobs(), world.new_jobs()
    job, _ = worker.create(new_job())
    worker.claim(job.job_id, owner="a", now=NOW, lease_s=60, seen=world.seen(job.job_id))
    attempt = jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW + 1
    )
    worker.save(attempt, owner="a", now=NOW + 1, release=False)  # checkpoint
    failed = jobs.record_failure(attempt, category="processing_error", message="m", now=NOW + 2)
    moved = jobs.retry_later(failed, at=NOW + 2, prefer=None, exclude="heygen", now=NOW + 2)
    webhook.transact(job.job_id, lambda _stored: (None, moved, ()), now=NOW + 2)
    follow_up = jobs.submitted(attempt, provider_job_id="v1", follow_up_at=NOW + 60, now=NOW + 3)
    with pytest.raises(base.JobChangedError):
        worker.save(follow_up, owner="a", now=NOW + 3)
    stored = worker.get(job.job_id)
    assert stored is not None
    assert "heygen" in stored.excluded
    assert stored.provider_job_id is None


def test_due_finds_jobs_whose_next_action_has_passed(world: World) -> None:
    """The health check's query: due and not terminal, nothing else."""
    store = world.new_jobs()
    due, _ = store.create(new_job(next_action_at=NOW - 5, status=jobs.JobStatus.PROCESSING))
    later, _ = store.create(new_job(next_action_at=NOW + 500))
    found = {j.job_id for j in store.due(now=NOW, limit=500)}
    assert due.job_id in found
    assert later.job_id not in found


def test_past_deadline_finds_unfinished_jobs_whatever_they_wait_for(world: World) -> None:
    """The health check's other query: past the deadline and not terminal, even with a next
    action far ahead; and such a job can be claimed (to be failed)."""
    store = world.new_jobs()
    waiting, _ = store.create(
        new_job(deadline_at=NOW - 1, next_action_at=NOW + 3600, status=jobs.JobStatus.PROCESSING)
    )
    in_time, _ = store.create(new_job(deadline_at=NOW + 60))
    finished, _ = store.create(new_job(deadline_at=NOW - 1, status=jobs.JobStatus.FAILED))
    found = {j.job_id for j in store.past_deadline(now=NOW, limit=500)}
    assert waiting.job_id in found
    assert not {in_time.job_id, finished.job_id} & found
    assert store.claim(waiting.job_id, owner="health", now=NOW, lease_s=60) is not None


# Breaker


def test_eight_threads_times_fifty_outcomes_give_exact_totals(world: World, provider: str) -> None:
    """Concurrent increments from many instances lose nothing."""
    instances = [world.new_breaker(None) for _ in range(8)]

    def run(i: int) -> None:
        for k in range(50):
            ok = (k % 10) != 0
            outcome = Outcome(success=ok, category=None if ok else ErrorCategory.TRANSIENT)
            instances[i].record(provider, outcome, now=NOW + k * 0.01)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, range(8)))
    counts = instances[0].window(provider, now=NOW + 1)
    assert (counts.calls, counts.failures) == (400, 40)


def test_one_outcome_costs_one_write(world: World, provider: str) -> None:
    """Recording a success on a closed breaker is a single increment."""
    breaker = world.new_breaker(None)
    before = world.writes()
    for k in range(10):
        breaker.record(provider, Outcome(success=True, duration_s=1.0), now=NOW + k)
    assert world.writes() - before == 10


def test_eight_instances_racing_for_half_open_permits_get_exactly_the_limit(
    world: World, provider: str
) -> None:
    """Across instances, half-open grants at most half_open_max_calls probes."""
    opener = world.new_breaker(None)
    opener.force(provider, ManualAction.RESET, by="test", reason="clean", now=NOW)
    for k in range(5):
        opener.record(
            provider, Outcome(success=False, category=ErrorCategory.TRANSIENT), now=NOW + k
        )
    assert opener.state(provider, now=NOW + 5, fresh=True).state is CircuitState.OPEN
    later = NOW + 5 + POLICY.recovery_timeout_s + 1
    racers = [world.new_breaker(None) for _ in range(8)]
    barrier = threading.Barrier(8)

    def race(i: int) -> bool:
        barrier.wait()
        return racers[i].acquire(provider, now=later).granted

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(race, range(8)))
    assert granted == POLICY.half_open_max_calls
    state = opener.state(provider, now=later, fresh=True)
    assert state.state is CircuitState.HALF_OPEN
    assert len(state.permits) == POLICY.half_open_max_calls


def test_a_transition_from_another_instance_is_seen_after_the_cache_ttl(
    world: World, provider: str
) -> None:
    """Instance B keeps its cached view for the TTL, then sees what A decided."""
    clock_b = Clock(0.0)
    a, b = world.new_breaker(None), world.new_breaker(clock_b)
    assert b.admission(provider, now=NOW) is Admission.ALLOW
    a.record(provider, Outcome(success=False, category=ErrorCategory.AUTHENTICATION), now=NOW)
    assert a.admission(provider, now=NOW) is Admission.REJECT
    clock_b.now = b.cache_ttl_s - 0.1
    assert b.admission(provider, now=NOW + 1) is Admission.ALLOW
    clock_b.now = b.cache_ttl_s + 0.1
    assert b.admission(provider, now=NOW + 1) is Admission.REJECT


def test_a_cold_start_does_not_reset_counts(world: World, provider: str) -> None:
    """A new instance continues the window the others filled."""
    first = world.new_breaker(None)
    for k in range(4):
        first.record(
            provider, Outcome(success=False, category=ErrorCategory.TRANSIENT), now=NOW + k
        )
    fresh = world.new_breaker(None)
    assert fresh.window(provider, now=NOW + 5).failures == 4
    transition = fresh.record(
        provider, Outcome(success=False, category=ErrorCategory.TRANSIENT), now=NOW + 5
    )
    assert transition is not None
    assert transition.to_state is CircuitState.OPEN


def test_failures_after_a_reset_in_the_same_bucket_open_the_breaker(
    world: World, provider: str
) -> None:
    """An operator resets a failing provider and it keeps failing: those failures count, even
    within the bucket the reset fell in (the e2e suite resets between tests)."""
    breaker = world.new_breaker(None)
    start = br.bucket_start(NOW, POLICY)
    for k in range(3):
        breaker.record(
            provider, Outcome(success=False, category=ErrorCategory.TRANSIENT), now=start + k * 0.1
        )
    breaker.force(provider, ManualAction.RESET, by="ops", reason="fixed", now=start + 1)
    transitions = [
        breaker.record(
            provider,
            Outcome(success=False, category=ErrorCategory.TRANSIENT),
            now=start + 1.5 + k * 0.1,
        )
        for k in range(POLICY.failure_threshold)
    ]
    assert start + 1.5 + POLICY.failure_threshold * 0.1 < start + POLICY.bucket_s
    assert transitions[-1] is not None
    assert transitions[-1].to_state is CircuitState.OPEN
    assert transitions[-1].reason.startswith(f"{POLICY.failure_threshold} failures")


def test_the_failure_ratio_is_judged_on_every_instances_calls(world: World, provider: str) -> None:
    """Instance A's view of the window is cached; B's failures are missing from it. Once A's own
    view holds enough failures to open, the ratio is taken on the whole window: 10 of 20 calls
    failed there (the 50 % that opens), though only 5 of 15 in A's view."""
    clock = Clock(0.0)  # the window cache never ages: views stay apart
    a, b = world.new_breaker(clock), world.new_breaker(clock)
    failure = Outcome(success=False, category=ErrorCategory.TRANSIENT)
    for k in range(10):
        a.record(provider, Outcome(success=True), now=NOW + k * 0.1)
    assert a.record(provider, failure, now=NOW + 1.0) is None
    for k in range(5):
        assert b.record(provider, failure, now=NOW + 1.1 + k * 0.1) is None  # 6 of 16 in B's view
    transitions = [a.record(provider, failure, now=NOW + 2.0 + k * 0.1) for k in range(4)]
    assert transitions[:3] == [None, None, None]
    assert transitions[3] is not None
    assert transitions[3].to_state is CircuitState.OPEN
    assert transitions[3].reason.startswith("10 failures of 20 calls")


def test_a_manual_override_says_who_why_and_when_and_wins(world: World, provider: str) -> None:
    """Forced open rejects whatever the counts say; the audit trail names the operator."""
    breaker = world.new_breaker(None)
    transition = breaker.force(
        provider, ManualAction.OPEN, by="ops@cvplus", reason="maintenance", now=NOW
    )
    assert transition is not None
    assert transition.by == "ops@cvplus"
    for k in range(20):
        breaker.record(provider, Outcome(success=True), now=NOW + k)
    state = breaker.state(provider, now=NOW + 30, fresh=True)
    assert state.override is not None
    assert (state.override.by, state.override.reason, state.override.at) == (
        "ops@cvplus",
        "maintenance",
        NOW,
    )
    assert breaker.admission(provider, now=NOW + 10_000) is Admission.REJECT
    log = [t for t in breaker.transitions(since=NOW - 1, limit=500) if t.provider_id == provider]
    assert log
    assert log[0].by == "ops@cvplus"
    assert "maintenance" in log[0].reason


def test_probe_successes_close_the_breaker_for_every_instance(world: World, provider: str) -> None:
    """Three probe successes, reported by different instances, close it."""
    opener = world.new_breaker(None)
    opener.record(provider, Outcome(success=False, category=ErrorCategory.QUOTA_EXCEEDED), now=NOW)
    later = NOW + POLICY.recovery_timeout_s + 1
    probes = [world.new_breaker(None) for _ in range(3)]
    grants = [p.acquire(provider, now=later) for p in probes]
    assert all(g.probe for g in grants)
    last = None
    for p, g in zip(probes, grants, strict=True):
        outcome = Outcome(success=True, probe=True, permit=g.permit)
        last = p.record(provider, outcome, now=later + 1)
    assert last is not None
    assert last.to_state is CircuitState.CLOSED
    assert world.new_breaker(None).admission(provider, now=later + 2) is Admission.ALLOW


def test_a_jobs_internals_live_in_their_own_document_and_read_back_whole(world: World) -> None:
    """What the owner may read (enhanced_video_jobs) holds no provider text, reasoning or
    fingerprint; they are merged into enhanced_video_jobs_internal in the same write (the
    documents `records.derived` names), and a
    job read back has them all. A job of the web app's callables merges its progress into the
    app's CV job, keeping the app's own fields."""
    store = world.new_jobs()
    job = new_job(
        request_fingerprint="sha256:f00d",
        cv_job_id=f"cv-{uuid.uuid4().hex[:8]}",
        app_call=jobs.AppCall.GENERATE,
    )
    documents = store.documents  # type: ignore[attr-defined]
    documents.write_if(
        base.CV_JOBS, job.cv_job_id, {"userId": job.user_id, "parsedData": {}}, version=None
    )
    store.create(job, side=derived(None, job))
    claimed = store.claim(job.job_id, owner="w1", now=NOW, lease_s=60)
    assert claimed is not None
    begun = jobs.begin_attempt(
        claimed,
        provider_id="heygen",
        options=claimed.options,
        degradations=(),
        reasoning=("heygen: 81.0 (price $1.20, load 3/10, manual open by ops@example.com)",),
        now=NOW,
    )
    failed = jobs.record_failure(
        begun, category="api_failure", message="HeyGen said: internal trace 0xdead", now=NOW
    )
    store.save(failed, owner="w1", now=NOW, side=derived(claimed, failed))

    public = documents.read(base.JOBS, job.job_id).doc
    internal = documents.read(base.JOBS_INTERNAL, job.job_id).doc
    assert "0xdead" not in repr(public)
    assert "ops@example.com" not in repr(public)
    assert "sha256:f00d" not in repr(public)
    assert "w1" not in repr({k: v for k, v in public.items() if k != "lease"})
    assert internal["attemptMessages"] == {"1": "HeyGen said: internal trace 0xdead"}
    assert internal["requestFingerprint"] == "sha256:f00d"
    assert "ops@example.com" in internal["selectionReasoning"][0]
    back = world.new_jobs().get(job.job_id)
    # (The claim did not read the internals: nothing had failed yet. Saving lost none.)
    assert back == replace(failed, request_fingerprint="sha256:f00d")
    cv = documents.read(base.CV_JOBS, job.cv_job_id).doc
    assert cv["parsedData"] == {}
    assert cv["userId"] == job.user_id
    assert cv["videoStatus"] == "generating"
    assert cv["enhancedFeatures"]["videoIntroduction"]["videoJobId"] == job.job_id


def _state_doc(breaker: SharedBreaker, provider: str) -> dict[str, Any]:
    backend = breaker.backend
    if isinstance(backend, MemoryBreakerBackend):
        return dict(backend.db.coll(base.BREAKERS).get(provider) or {})
    assert isinstance(backend, FirestoreBreakerBackend)
    snap = backend.client.collection(base.BREAKERS).document(provider).get()
    return snap.to_dict() or {}


def test_the_state_document_keeps_the_original_summary_fields(world: World, provider: str) -> None:
    """After failures and successes from two instances, the health check's
    refresh leaves failureCount, successCount, metrics, updatedAt and the latest times."""
    one, two = world.new_breaker(None), world.new_breaker(None)
    failed = Outcome(success=False, category=ErrorCategory.TRANSIENT)
    for k in range(3):
        one.record(provider, failed, now=NOW + k)
    two.record(provider, Outcome(success=True), now=NOW + 3)
    two.record(provider, Outcome(success=True), now=NOW + 4)
    world.new_breaker(None).refresh(provider, now=NOW + 5)
    doc = _state_doc(one, provider)
    assert (doc["failureCount"], doc["successCount"]) == (3, 2)
    assert doc["metrics"]["totalRequests"] == 5
    assert doc["lastFailureTime"] == NOW + 2
    assert doc["lastSuccessTime"] == NOW + 4
    assert doc["updatedAt"] == NOW + 5
    opened = one.record(
        provider, Outcome(success=False, category=ErrorCategory.AUTHENTICATION), now=NOW + 6
    )
    assert opened is not None
    doc = _state_doc(one, provider)
    assert doc["state"] == "open"
    assert doc["failureCount"] == 4
    assert doc["lastSuccessTime"] == NOW + 4


@pytest.mark.firestore
def test_a_document_is_created_once_on_firestore_as_in_memory(
    firestore_client: firestore.Client,
) -> None:
    """One rating per video, whoever asks twice at once."""
    from shared.adapters.stores.firestore import FirestoreDocumentStore
    from shared.adapters.stores.memory import MemoryDocumentStore

    doc_id = f"feedback-{uuid.uuid4().hex[:12]}"
    for store in (FirestoreDocumentStore(firestore_client), MemoryDocumentStore(MemoryDatabase())):
        with ThreadPoolExecutor(4) as pool:
            made = list(
                pool.map(
                    lambda r, s=store: s.create(base.METRICS, doc_id, {"userSatisfaction": r}),
                    range(1, 5),
                )
            )
        assert made.count(True) == 1
        stored = store.get(base.METRICS, doc_id)
        assert stored is not None
        assert stored["userSatisfaction"] == made.index(True) + 1
