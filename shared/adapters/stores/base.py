"""The store seams: what the functions need from persistence, as Protocols. Two implementations
each — `memory` (unit tests of logic) and `firestore` (the real thing) — held to one contract
suite in tests/contract.

Collections (DESIGN section 5): enhanced_video_jobs, circuit_breaker_states (+ a ``buckets``
subcollection of outcome counts), circuit_breaker_transitions, provider_metrics,
error_recovery_logs, provider_stats, user_quotas, daily_spend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from shared.core.breaker import (
    Admission,
    BreakerPolicy,
    BreakerState,
    Grant,
    ManualAction,
    Outcome,
    Transition,
    WindowCounts,
)
from shared.core.jobs import Job
from shared.core.records import Record

T = TypeVar("T")

JOBS = "enhanced_video_jobs"
JOBS_INTERNAL = "enhanced_video_jobs_internal"  # admins only: what a user must not read
CV_JOBS = "jobs"  # the web app's CV jobs, which mirror the video jobs of its callables
BREAKERS = "circuit_breaker_states"
BUCKETS = "buckets"
TRANSITIONS = "circuit_breaker_transitions"
METRICS = "provider_metrics"
RECOVERY_LOGS = "error_recovery_logs"
STATS = "provider_stats"
QUOTAS = "user_quotas"
SPEND = "daily_spend"
BREAKER_SHARES = "breaker_user_shares"  # one per user, provider and window: failures counted
ANALYTICS_HOURLY = "analytics_hourly"  # one per hour: shared.core.analytics.rollup
ANALYTICS_DAILY = "analytics_daily"  # one per day: the day's hours merged
ALERTS = "alerts"  # one per alert episode: started, cleared

DEFAULT_CACHE_TTL_S = 2.0


class StoreError(Exception):
    """Base of the errors a store raises on purpose (never a raw database error)."""


class JobNotFoundError(StoreError):
    pass


class TerminalJobError(StoreError):
    """A completed or failed job never changes again."""


class LeaseLostError(StoreError):
    """Another worker holds (or took over) the job's lease."""


class JobChangedError(StoreError):
    """The job changed since the lease holder last wrote it (a webhook decided meanwhile): the
    holder's write would undo that decision, so it is refused; read the job and decide again."""


# SideWrite.expect's default: written whatever version the document is at.
UNCONDITIONAL: Any = type("Unconditional", (), {"__repr__": lambda self: "UNCONDITIONAL"})()


@dataclass(frozen=True, slots=True)
class SideWrite:
    """A document written in the same atomic write as a job update (metrics, recovery logs).
    With ``expect`` (a version as read; None: the document must not exist) the whole write
    happens only if the document is still at that version, and its fields are merged into it."""

    collection: str
    data: Mapping[str, Any]
    doc_id: str | None = None  # None: an auto id
    expect: Any = UNCONDITIONAL
    increment: bool = False  # add ``data``'s numbers to the stored ones (created if missing)
    merge: bool = False  # merged into the document (nested maps too) rather than replacing it


@dataclass(frozen=True, slots=True)
class Counter:
    """A counter document updated in the same atomic write as a new job: ``bump`` gets the
    stored document (None: none yet) and returns the fields to write, or raises to refuse."""

    collection: str
    doc_id: str
    bump: Callable[[Mapping[str, Any] | None], Mapping[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    owner: str
    expires_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SeenJob:
    """A job document as a trigger event delivered it, with the store's version of it (for
    Firestore, its update time): enough to claim the job without reading it again."""

    job: Job
    lease: Lease | None
    version: Any


class JobStore(Protocol):
    def create(
        self,
        job: Job,
        *,
        counter: Counter | None = None,
        side: Sequence[Record] = (),
        counters: Sequence[Counter] = (),
    ) -> tuple[Job, bool]:
        """Store a new job, with ``side`` documents, in one atomic write; if its id exists,
        return the stored one and False (idempotent). ``counter`` and ``counters``: updated in
        the same atomic write, each only if unchanged since read (what a ``bump`` raises is
        raised here, and nothing is written)."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def claim(
        self, job_id: str, *, owner: str, now: float, lease_s: float, seen: SeenJob | None = None
    ) -> Job | None:
        """Take the lease of a runnable job (not terminal, due, lease free or expired). Exactly
        one of many concurrent claimants wins; the others get None. ``seen``: the document as
        an event delivered it; a store may claim on it unread if it is still that version."""
        ...

    def save(
        self,
        job: Job,
        *,
        owner: str,
        now: float,
        side: Sequence[Record] = (),
        release: bool = True,
    ) -> None:
        """Write the job and ``side`` documents in one transaction, releasing ``owner``'s lease
        unless ``release`` is False (a checkpoint before a provider call). Raises LeaseLostError
        if ``owner`` no longer holds the lease, TerminalJobError if the stored job is terminal."""
        ...

    def transact(
        self,
        job_id: str,
        decide: Callable[[Job], tuple[T, Job | None, Sequence[Record]]],
        *,
        now: float,
    ) -> tuple[T | None, Job | None]:
        """Read-modify-write one job (webhooks): ``decide`` gets the stored job and returns a
        result, the new job (None: no change) and side writes. A terminal job is passed to
        ``decide`` but any change to it raises TerminalJobError. Returns the result of the run
        that counted (``decide`` runs again when the job changed under it; None: no such job)
        and the stored job after the call."""
        ...

    def due(self, *, now: float, limit: int = 100) -> list[Job]:
        """Non-terminal jobs whose next action is due (the health check re-drives them)."""
        ...

    def past_deadline(self, *, now: float, limit: int = 100) -> list[Job]:
        """Non-terminal jobs past their deadline (the health check has them failed), whatever
        they wait for."""
        ...

    def recent(self, *, limit: int = 20, status: str | None = None) -> list[Job]: ...

    def lease(self, job_id: str) -> Lease | None: ...


class BreakerStore(Protocol):
    def policy(self, provider_id: str) -> BreakerPolicy: ...

    def state(self, provider_id: str, *, now: float, fresh: bool = False) -> BreakerState:
        """The breaker as this instance sees it: cached for the TTL unless ``fresh``."""
        ...

    def admission(self, provider_id: str, *, now: float) -> Admission: ...

    def acquire(self, provider_id: str, *, now: float) -> Grant:
        """Ask to call: transactional when a probe permit is involved."""
        ...

    def record(self, provider_id: str, outcome: Outcome, *, now: float) -> Transition | None:
        """Count one outcome (one write) and apply any transition it implies."""
        ...

    def force(
        self,
        provider_id: str,
        action: ManualAction,
        *,
        by: str,
        reason: str,
        now: float,
        until: float | None = None,
    ) -> Transition | None:
        """A manual action; ``until`` ends a forced open (a maintenance window)."""
        ...

    def transitions(self, *, since: float, limit: int = 50) -> list[Transition]: ...

    def window(self, provider_id: str, *, now: float) -> WindowCounts:
        """The outcome counts of the provider's current window (for the dashboard)."""
        ...

    def refresh(self, provider_id: str, *, now: float) -> bool:
        """Write the state document's summary fields if they changed (the health check)."""
        ...


class DocumentStore(Protocol):
    """Plain documents: metrics, recovery logs, provider stats."""

    def add(self, collection: str, data: Mapping[str, Any]) -> str: ...

    def put(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None: ...

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...

    def query(
        self,
        collection: str,
        *,
        where: Sequence[tuple[str, str, Any]] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]: ...

    def count(self, collection: str, *, where: Sequence[tuple[str, str, Any]]) -> int: ...

    def increment(self, collection: str, doc_id: str, fields: Mapping[str, float]) -> None:
        """Add to numeric fields without reading them (created if missing): one write."""
        ...

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """Write a new document; False (nothing written) when ``doc_id`` already exists."""
        ...
