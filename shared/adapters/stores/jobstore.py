"""The job-store rules, written once over the seam (`shared.adapters.stores.conditional`) for every
backend: who may claim a job, which writes are refused, and the job store and breaker-state
transaction built from them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.adapters.stores import codec
from shared.adapters.stores.base import (
    BREAKERS,
    JOBS,
    JOBS_INTERNAL,
    TRANSITIONS,
    Counter,
    DocumentStore,
    JobChangedError,
    JobNotFoundError,
    Lease,
    LeaseLostError,
    SeenJob,
    SideWrite,
    TerminalJobError,
)
from shared.adapters.stores.conditional import Decision, Documents, Pacing, Usage, attempts, update
from shared.core.breaker import BreakerState, Step
from shared.core.jobs import Job
from shared.core.records import Record

T = TypeVar("T")


def claimable(job: Job, lease: Lease | None, *, owner: str, now: float) -> bool:
    """Not terminal, its next action due (a job past its deadline always is: it is to be
    failed), and no one else holds a live lease."""
    if job.terminal:
        return False
    if lease is not None and lease.owner != owner and lease.expires_at > now:
        return False
    return job.next_action_at is None or job.next_action_at <= now or now > job.deadline_at


def check_change(
    stored: Job, new: Job, lease: Lease | None, *, owner: str | None, now: float
) -> None:
    """Refuse any change to a terminal job, and a leased write by a worker that lost the lease
    (``owner`` None: an unleased write, e.g. a webhook, which only the terminal rule binds)."""
    if stored.terminal and new != stored:
        raise TerminalJobError(f"job {stored.job_id} is {stored.status.value}; it never changes")
    if owner is not None and (lease is None or lease.owner != owner):
        holder = lease.owner if lease else "nobody"
        raise LeaseLostError(f"job {stored.job_id} is leased to {holder}, not {owner}")


def lease_to_doc(lease: Lease) -> dict[str, Any]:
    return {"owner": lease.owner, "expiresAt": lease.expires_at}


def lease_from_doc(doc: Mapping[str, Any]) -> Lease | None:
    raw = doc.get("lease")
    if not raw:
        return None
    return Lease(owner=str(raw["owner"]), expires_at=float(raw["expiresAt"]))


# ---------------------------------------------------------------------------------------------
# The job store, written once over the seam (Firestore and memory differ only in `Documents`).

# Jobs an instance remembers holding (see DocumentJobStore._held); beyond this the oldest are
# forgotten, and their next save reads first.
MAX_HELD = 1024


@dataclass(frozen=True, slots=True)
class _Held:
    job: Job
    lease: Lease
    version: Any  # the version our last write left


class DocumentJobStore:
    """`JobStore` over a `Documents` seam, with queries through a `DocumentStore`.

    A claimed job's later saves skip the read: the instance remembers the version its own last
    write left, and writes on condition that nobody changed the job since. Anyone else's change
    fails that condition, and the save falls back to a read-modify-write."""

    def __init__(
        self,
        docs: Documents,
        queries: DocumentStore,
        usage: Usage | None = None,
        *,
        pacing: Pacing = Pacing(),
    ) -> None:
        self.documents = docs
        self.docs = queries
        self.usage = usage
        self.pacing = pacing
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._held_lock = threading.Lock()

    def _update(
        self, job_id: str, decide: Callable[[dict[str, Any] | None], Decision[T]]
    ) -> tuple[T, Any]:
        return update(self.documents, JOBS, job_id, decide, usage=self.usage, pacing=self.pacing)

    def _hold(self, job: Job, lease: Lease | None, version: Any) -> None:
        with self._held_lock:
            self._held.pop(job.job_id, None)
            if lease is not None and version is not None:
                self._held[job.job_id] = _Held(job, lease, version)
                while len(self._held) > MAX_HELD:
                    self._held.popitem(last=False)

    def _unhold(self, job_id: str) -> _Held | None:
        with self._held_lock:
            return self._held.pop(job_id, None)

    def _internal(self, job_id: str) -> dict[str, Any] | None:
        return self.documents.read(JOBS_INTERNAL, job_id).doc

    def _with_internal(self, job: Job) -> Job:
        """``job`` with its internal document, read only when a decision may need it (a job
        that met failures writes their messages into its recovery log)."""
        if not codec.needs_internal(job):
            return job
        return codec.with_internal(job, self._internal(job.job_id))

    def create(
        self,
        job: Job,
        *,
        counter: Counter | None = None,
        side: Sequence[Record] = (),
        counters: Sequence[Counter] = (),
    ) -> tuple[Job, bool]:
        data = {**codec.job_to_doc(job), "lease": None}
        encoded = codec.encode_all(side)
        every = (*((counter,) if counter is not None else ()), *counters)
        for _ in attempts(self.pacing, f"{JOBS}/{job.job_id}"):
            writes = encoded
            for each in every:
                count = self.documents.read(each.collection, each.doc_id)
                bumped = each.bump(count.doc)  # may refuse: nothing is written
                bump = SideWrite(each.collection, bumped, each.doc_id, count.version)
                writes = (*writes, bump)
            if (
                self.documents.write_if(JOBS, job.job_id, data, version=None, side=writes)
                is not None
            ):
                return job, True
            # The job exists (a repeated request), or the counter moved under us.
            stored = self.documents.read(JOBS, job.job_id).doc
            if stored is not None:
                return codec.job_from_doc(stored, self._internal(job.job_id)), False
        raise AssertionError("unreachable: attempts() ends only by raising")

    def get(self, job_id: str) -> Job | None:
        doc = self.documents.read(JOBS, job_id).doc
        return codec.job_from_doc(doc, self._internal(job_id)) if doc is not None else None

    def lease(self, job_id: str) -> Lease | None:
        doc = self.documents.read(JOBS, job_id).doc
        return lease_from_doc(doc) if doc is not None else None

    def seen(self, job_id: str) -> SeenJob | None:
        """The job as a trigger event would deliver it now (tests, tools)."""
        snap = self.documents.read(JOBS, job_id)
        if snap.doc is None:
            return None
        doc = snap.doc
        return SeenJob(job=codec.job_from_doc(doc), lease=lease_from_doc(doc), version=snap.version)

    def claim(
        self, job_id: str, *, owner: str, now: float, lease_s: float, seen: SeenJob | None = None
    ) -> Job | None:
        lease = Lease(owner=owner, expires_at=now + lease_s)
        if seen is not None and claimable(seen.job, seen.lease, owner=owner, now=now):
            version = self.documents.write_if(
                JOBS, job_id, {"lease": lease_to_doc(lease)}, version=seen.version
            )
            if version is not None:
                job = self._with_internal(seen.job)
                self._hold(job, lease, version)
                return job
            # Changed since the event was sent: decide on the stored job.

        def decide(doc: dict[str, Any] | None) -> Decision[Job | None]:
            if doc is None:
                return None, None, ()
            job = codec.job_from_doc(doc)
            if not claimable(job, lease_from_doc(doc), owner=owner, now=now):
                return None, None, ()
            return job, {"lease": lease_to_doc(lease)}, ()

        claimed, version = self._update(job_id, decide)
        if claimed is not None:
            claimed = self._with_internal(claimed)
            self._hold(claimed, lease, version)
        return claimed

    def save(
        self,
        job: Job,
        *,
        owner: str,
        now: float,
        side: Sequence[Record] = (),
        release: bool = True,
    ) -> None:
        derived = codec.encode_all(side)
        held = self._unhold(job.job_id)
        if held is not None and held.lease.owner == owner:
            # Unchanged since our last write (the condition), so that write is the stored job.
            check_change(held.job, job, held.lease, owner=owner, now=now)
            keep = None if release else held.lease
            data = {**codec.job_to_doc(job), "lease": lease_to_doc(keep) if keep else None}
            version = self.documents.write_if(
                JOBS, job.job_id, data, version=held.version, side=derived
            )
            if version is not None:
                self._hold(job, keep, version)
                return

        def decide(doc: dict[str, Any] | None) -> Decision[Lease | None]:
            if doc is None:
                raise JobNotFoundError(job.job_id)
            stored = codec.job_from_doc(doc)
            check_change(stored, job, lease_from_doc(doc), owner=owner, now=now)
            if held is not None and codec.job_to_doc(stored) != codec.job_to_doc(held.job):
                raise JobChangedError(f"job {job.job_id} changed since {owner} last wrote it")
            kept = None if release else lease_from_doc(doc)
            data = {**codec.job_to_doc(job), "lease": lease_to_doc(kept) if kept else None}
            return kept, data, derived

        kept, version = self._update(job.job_id, decide)
        self._hold(job, kept, version)

    def transact(
        self,
        job_id: str,
        decide: Callable[[Job], tuple[T, Job | None, Sequence[Record]]],
        *,
        now: float,
    ) -> tuple[T | None, Job | None]:
        internal = self._internal(job_id)

        def attempt(doc: dict[str, Any] | None) -> Decision[tuple[T | None, Job | None]]:
            if doc is None:
                return (None, None), None, ()
            stored = codec.job_from_doc(doc, internal)
            result, job, side = decide(stored)
            if job is None:
                return (result, stored), None, ()
            check_change(stored, job, None, owner=None, now=now)
            derived = codec.encode_all(side)
            return (result, job), codec.job_to_doc(job), derived  # the lease is left as it is

        return self._update(job_id, attempt)[0]

    def due(self, *, now: float, limit: int = 100) -> list[Job]:
        docs = self.docs.query(
            JOBS,
            where=[("status", "in", ["queued", "processing"]), ("nextActionAt", "<=", now)],
            order_by="nextActionAt",
            limit=limit,
        )
        return [codec.job_from_doc(d) for d in docs]

    def past_deadline(self, *, now: float, limit: int = 100) -> list[Job]:
        docs = self.docs.query(
            JOBS,
            where=[("status", "in", ["queued", "processing"]), ("deadlineAt", "<", now)],
            order_by="deadlineAt",
            limit=limit,
        )
        return [codec.job_from_doc(d) for d in docs]

    def recent(self, *, limit: int = 20, status: str | None = None) -> list[Job]:
        where = [("status", "==", status)] if status else []
        docs = self.docs.query(
            JOBS, where=where, order_by="updatedAt", descending=True, limit=limit
        )
        return [codec.job_from_doc(d, self._internal(d["jobId"])) for d in docs]


def transact_breaker(
    docs: Documents,
    provider_id: str,
    change: Callable[[BreakerState], Step],
    *,
    usage: Usage | None = None,
    pacing: Pacing = Pacing(),
) -> tuple[Step, BreakerState]:
    """`BreakerBackend.transact` over the seam: read the state, apply ``change``, write it (with
    the transition's log entry) when it changed."""

    def decide(doc: dict[str, Any] | None) -> Decision[tuple[Step, BreakerState]]:
        current = codec.breaker_from_doc(provider_id, doc)
        step = change(current)
        if step.state == current and step.transition is None:
            return (step, current), None, ()
        side: tuple[SideWrite, ...] = ()
        if step.transition is not None:
            side = (SideWrite(TRANSITIONS, codec.transition_to_doc(step.transition)),)
        return (step, current), codec.breaker_to_doc(step.state), side

    return update(docs, BREAKERS, provider_id, decide, usage=usage, pacing=pacing)[0]
