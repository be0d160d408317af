"""What every trigger family shares: the `Shell`, i.e. the `Ports` (stores, adapters, scheduler,
videos, clock) and the deployment's `Setup`, built once per instance; the candidates a decision
ranks; and `Shell.apply`, the one place `Effects` are written."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from shared.adapters.providers.base import VideoProvider
from shared.adapters.storage import VideoBucket
from shared.adapters.stores import base as stores
from shared.adapters.stores import codec
from shared.adapters.stores.base import BreakerStore, DocumentStore, JobStore
from shared.adapters.stores.codec import stats_from_doc
from shared.core import breaker as br
from shared.core import orchestration as orch
from shared.core import spend
from shared.core.errors import ProviderError
from shared.core.jobs import Job, JobStatus
from shared.core.model import Capabilities
from shared.core.scoring import Candidate, ProviderStats

log = logging.getLogger("cvplus")

STATS_TTL_S = 30.0  # how long an instance ranks on the provider_stats it read
SPEND_TTL_S = 10.0  # how old the day's spend may be when a new job is checked against the cap


class TaskScheduler(Protocol):
    """Delayed work for a job (Cloud Tasks in production)."""

    def schedule(self, job_id: str, *, at: float, reason: str) -> None: ...


@dataclass
class RecordingScheduler:
    """A scheduler that only remembers what was asked (tests and benchmarks)."""

    tasks: list[tuple[str, float, str]] = field(default_factory=list)

    def schedule(self, job_id: str, *, at: float, reason: str) -> None:
        self.tasks.append((job_id, at, reason))


def alert(message: str, **fields: object) -> None:
    """An ERROR-severity structured entry marked as an alert, for a Cloud Logging alert policy."""
    log.error(message, extra={"json_fields": {"alert": True, **fields}})


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    """What the shell reads and writes through: the stores, the provider adapters, the task
    scheduler, the video videos, the clock and the random source."""

    jobs: JobStore
    breakers: BreakerStore
    docs: DocumentStore
    providers: Mapping[str, VideoProvider]
    scheduler: TaskScheduler
    # Where finished videos are copied (Cloud Storage in the deployment). None keeps the
    # provider's expiring URL: only tests and benchmarks that do not follow videos run so.
    videos: VideoBucket | None = None
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


def capabilities_of(providers: Mapping[str, VideoProvider]) -> dict[str, Capabilities]:
    """What `orch.Setup` holds of the providers: their capabilities, by provider id."""
    return {pid: provider.capabilities for pid, provider in providers.items()}


@dataclass
class Shell:
    """One instance's ports and the deployment's choices, with what the instance caches."""

    ports: Ports
    setup: orch.Setup
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _stats: dict[str, ProviderStats] = field(default_factory=dict)
    _stats_at: float = -1e18
    _in_flight: dict[str, int] = field(default_factory=dict)
    _spend: tuple[float, dict[str, object] | None] | None = None  # (read at, today's document)

    def spend_today(self, now: float) -> dict[str, object] | None:
        """Today's spend document, read at most every SPEND_TTL_S per instance: the cap is
        checked against a figure up to that old, not a read per call."""
        cached = self._spend
        if (
            cached is None
            or now - cached[0] >= SPEND_TTL_S
            or spend.day_key(cached[0]) != (spend.day_key(now))
        ):
            cached = (now, self.ports.docs.get(stores.SPEND, spend.day_key(now)))
            self._spend = cached
        return cached[1]

    def candidates(self, now: float) -> list[Candidate]:
        """Every provider as the scorer sees it: capabilities, stats (cached for STATS_TTL_S),
        the breaker as this instance sees it, and the renders it has in flight."""
        if now - self._stats_at > STATS_TTL_S:
            for pid in self.ports.providers:
                doc = self.ports.docs.get(stores.STATS, pid)
                if doc is not None:
                    self._stats[pid] = stats_from_doc(pid, doc)
                    self._in_flight[pid] = int(doc.get("inFlight") or 0)
            self._stats_at = now
        return [
            Candidate(
                capabilities=provider.capabilities,
                stats=self._stats.get(pid) or ProviderStats(provider_id=pid),
                breaker=(
                    self.ports.breakers.state(pid, now=now)
                    if self.setup.breaker_enabled
                    else br.BreakerState(provider_id=pid)
                ),
                breaker_policy=self.ports.breakers.policy(pid),
                in_flight=self._in_flight.get(pid, 0),
            )
            for pid, provider in self.ports.providers.items()
        ]

    def apply(self, effects: orch.Effects, *, now: float, saved: bool = False) -> Job | None:
        """Write what a decision wants: breaker outcomes, alerts, then the job with its side
        documents (keeping the lease while there is more to do now), then its next run.
        ``saved``: the job was already written (in a webhook's transaction). A job the store
        refuses (a webhook finished it meanwhile, or a slow call outlived the lease) is read
        back: the stored job is the truth; our side documents are dropped with our version."""
        for pid, outcome in effects.breaker:
            self.record(pid, self.within_user_share(pid, outcome, effects.job))
        for entry in effects.alerts:
            alert(entry.message, **entry.fields)
        job = effects.job
        if job is None:
            for write in codec.encode_all(effects.side):
                if write.increment and write.doc_id is not None:
                    self.ports.docs.increment(write.collection, write.doc_id, write.data)
                elif write.doc_id is None:
                    self.ports.docs.add(write.collection, write.data)
                else:
                    self.ports.docs.put(write.collection, write.doc_id, write.data)
            return None
        if not saved:
            try:
                self.ports.jobs.save(
                    job,
                    owner=self.instance_id,
                    now=now,
                    side=(*effects.side, *effects.documents),
                    release=orch.settled(job, now),
                )
            except (stores.TerminalJobError, stores.LeaseLostError, stores.JobChangedError) as exc:
                log.warning("job %s: not saved (%s); keeping the stored job", job.job_id, exc)
                stored = self.ports.jobs.get(job.job_id)
                if (
                    stored is not None
                    and stored.status is JobStatus.CANCELLED
                    and job.provider_job_id
                    and job.provider_job_id != stored.provider_job_id
                ):
                    self.abandon_render(job)  # submitted while its owner cancelled it
                return stored if stored is not None else job
        due = effects.schedule
        # The process loop runs what is due now itself; only later work becomes a task.
        if due is not None and (saved or due.at > now):
            self.ports.scheduler.schedule(job.job_id, at=due.at, reason=due.reason)
        return job

    def within_user_share(
        self, provider_id: str, outcome: br.Outcome, job: Job | None
    ) -> br.Outcome:
        """``outcome`` as the breaker counts it: a failure of ``job``'s counts only within its
        user's share of the window (`breaker.user_allowance`), so no one user's jobs open a
        provider's circuit for everyone. Successes, probes and failures that do not count
        anyway cost no read; each counted failure costs an increment and two reads."""
        if outcome.success or not outcome.counts or outcome.probe or job is None:
            return outcome
        policy = self.ports.breakers.policy(provider_id)
        window = br.share_window(policy, self.ports.clock())
        share = f"{job.user_id}~{provider_id}~"
        self.ports.docs.increment(stores.BREAKER_SHARES, f"{share}{window}", {"failures": 1})
        counted = sum(
            int(
                (self.ports.docs.get(stores.BREAKER_SHARES, f"{share}{w}") or {}).get("failures", 0)
            )
            for w in (window - 1, window)
        )
        if br.within_share(counted, policy):
            return outcome
        log.warning(
            "job %s: failure on %s beyond its user's share of the breaker; not counted",
            job.job_id,
            provider_id,
        )
        return replace(outcome, counts=False)

    def record(self, provider_id: str, outcome: br.Outcome) -> None:
        transition = self.ports.breakers.record(provider_id, outcome, now=self.ports.clock())
        if transition is None:
            return
        opened = orch.transition_alert(provider_id, transition)
        if opened is not None:
            alert(opened.message, **opened.fields)
        else:
            log.warning(
                "circuit %s: %s -> %s (%s)",
                provider_id,
                transition.from_state.value,
                transition.to_state.value,
                transition.reason,
            )

    def stop_render(self, job: Job) -> bool:
        """Ask the provider of ``job``'s render to stop it (best effort: the job is cancelled
        whatever the provider answers). True when the provider stopped it."""
        provider = self.ports.providers.get(job.provider_id or "")
        if provider is None or not job.provider_job_id:
            return False
        try:
            stopped = provider.cancel(job.provider_job_id)
        except ProviderError as error:
            log.warning(
                "job %s: cancelling its render at %s failed (%s)",
                job.job_id,
                job.provider_id,
                error.category.value,
            )
            return False
        log.info(
            "job %s: render at %s %s",
            job.job_id,
            job.provider_id,
            "cancelled" if stopped else "left to run (the provider cannot cancel)",
        )
        return stopped

    def abandon_render(self, job: Job) -> bool:
        """Stop the render of ``job``, cancelled by its owner; a render its provider cannot stop
        runs to its end and is billed, so it is recorded as billed now (spend and metrics), at
        its length's price. True when the provider stopped it."""
        stopped = self.stop_render(job)
        if not stopped and job.provider_job_id:
            now = self.ports.clock()
            self.apply(orch.abandoned(job, now=now, setup=self.setup), now=now)
        return stopped

    def release(self, job: Job) -> None:
        """Let go of the lease of a job left due (the process loop's bound was reached)."""
        try:
            self.ports.jobs.save(job, owner=self.instance_id, now=self.ports.clock())
        except stores.StoreError as exc:  # the lease ran out and another worker took over
            log.warning("job %s: could not release the lease: %s", job.job_id, exc)
