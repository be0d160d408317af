"""Firestore stores, through google-cloud-firestore. Every read-modify-write is a read followed by
a write with a precondition on what was read (`_Cas`: no transaction, so no lock held); the
breaker's outcome counts are increments on sharded bucket documents.

`Usage` counts reads, writes and read-modify-write attempts as Firestore bills them (a query
reads at least one document; an aggregation one per 1000 index entries), for the benchmarks.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.breaker import BreakerState, Bucket, Step, Transition
from shared.jobs import Job
from shared.stores import codec
from shared.stores.base import (
    BREAKERS,
    BUCKETS,
    JOBS,
    TRANSITIONS,
    JobNotFoundError,
    Lease,
    SeenJob,
    SideWrite,
)
from shared.stores.memory import sum_shards
from shared.stores.rules import check_change, claimable, lease_from_doc, lease_to_doc

# Jobs an instance remembers holding (see FirestoreJobStore._held); beyond this the oldest are
# forgotten, and their next save reads first.
MAX_HELD = 1024


@dataclass(frozen=True, slots=True)
class _Held:
    job: Job
    lease: Lease
    version: Any  # the update time of our last write


def seen_job(doc: Mapping[str, Any], update_time: Any) -> SeenJob:
    """A job document as a Firestore trigger event delivered it."""
    return SeenJob(job=codec.job_from_doc(doc), lease=lease_from_doc(doc), version=update_time)


@dataclass
class Usage:
    """Operations as Firestore bills them, and the read-modify-writes (``transactions``) with
    their attempts: ``retries`` is how many attempts lost to a concurrent write."""

    reads: int = 0
    writes: int = 0
    transactions: int = 0
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self, *, reads: int = 0, writes: int = 0, transactions: int = 0, attempts: int = 0
    ) -> None:
        with self._lock:
            self.reads += reads
            self.writes += writes
            self.transactions += transactions
            self.attempts += attempts

    @property
    def retries(self) -> int:
        return self.attempts - self.transactions


# What one attempt of a read-modify-write decides: its result, the fields to write (None: write
# nothing) and the side documents to write with them.
Decision = tuple[Any, Mapping[str, Any] | None, Sequence[SideWrite]]
# Conflicts: a write whose precondition failed (someone wrote since our read), a create that lost
# the race, a document deleted since our read.
_CONFLICTS = (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound)


class ConflictTimeoutError(RuntimeError):
    """A read-modify-write kept losing to concurrent writes until its deadline."""


class _Cas:
    """Read-modify-write of one document without a transaction: read it, let ``body`` decide,
    then write with a precondition on what was read (its update time, or its absence), side
    documents in the same batch. A conflict means another writer got there first: read again
    after a jittered, doubling pause.

    Why not transactions: Firestore locks what a transaction reads (pessimistically, for server
    clients; Google's emulator does the same), and the Python client retries an aborted
    transaction at once. Eight instances on one document - a breaker state in an outage, a job
    whose webhook and poll meet - then abort each other for minutes: measured on the emulator,
    "Failed to commit transaction in 200 attempts" after 400 s. Writes with preconditions hold
    no lock; the loser of a race just reads again.
    """

    BASE_PAUSE_S = 0.005
    MAX_PAUSE_S = 0.5

    def __init__(
        self,
        client: firestore.Client,
        usage: Usage,
        *,
        deadline_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.usage = usage
        self.deadline_s = deadline_s
        self._sleep = sleep
        self._draw = draw

    def run(self, ref: Any, body: Callable[[dict[str, Any] | None], Decision]) -> tuple[Any, Any]:
        """(the result of the attempt that counted, the update time it wrote or None)."""
        began = time.monotonic()
        pause = self.BASE_PAUSE_S
        while True:
            snap = ref.get()
            self.usage.add(reads=1, attempts=1)
            stored = snap.to_dict() if snap.exists else None
            result, data, side = body(stored)
            if data is None:
                self.usage.add(transactions=1)
                return result, None
            batch = self.client.batch()
            if stored is None:
                batch.create(ref, dict(data))
            else:
                option = self.client.write_option(last_update_time=snap.update_time)
                batch.update(ref, dict(data), option=option)
            _add_side(self.client, batch, side)
            try:
                written = batch.commit()
            except _CONFLICTS:
                if time.monotonic() - began > self.deadline_s:
                    raise ConflictTimeoutError(
                        f"{ref.path}: still conflicting after {self.deadline_s:.0f} s"
                    ) from None
                self._sleep(pause * (0.5 + self._draw()))
                pause = min(pause * 2, self.MAX_PAUSE_S)
                continue
            self.usage.add(transactions=1, writes=1 + len(side))
            return result, written[0].update_time


def _add_side(client: firestore.Client, batch: Any, side: Sequence[SideWrite]) -> None:
    for w in side:
        coll = client.collection(w.collection)
        batch.set(coll.document(w.doc_id) if w.doc_id else coll.document(), dict(w.data))


class FirestoreDocumentStore:
    def __init__(self, client: firestore.Client, usage: Usage | None = None) -> None:
        self.client = client
        self.usage = usage or Usage()

    def _filtered(self, collection: str, where: Sequence[tuple[str, str, Any]]) -> Any:
        q: Any = self.client.collection(collection)
        for path, op, value in where:
            q = q.where(filter=FieldFilter(path, op, value))
        return q

    def add(self, collection: str, data: Mapping[str, Any]) -> str:
        ref = self.client.collection(collection).document()
        ref.set(dict(data))
        self.usage.add(writes=1)
        return str(ref.id)

    def put(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self.client.collection(collection).document(doc_id).set(dict(data))
        self.usage.add(writes=1)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        snap = self.client.collection(collection).document(doc_id).get()
        self.usage.add(reads=1)
        return snap.to_dict() if snap.exists else None

    def query(
        self,
        collection: str,
        *,
        where: Sequence[tuple[str, str, Any]] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        q = self._filtered(collection, where)
        if order_by is not None:
            direction = firestore.Query.DESCENDING if descending else firestore.Query.ASCENDING
            q = q.order_by(order_by, direction=direction)
        if limit is not None:
            q = q.limit(limit)
        docs = [s.to_dict() for s in q.stream()]
        self.usage.add(reads=max(1, len(docs)))
        if order_by is not None:  # the npm server keeps documents that lack the field
            docs = [d for d in docs if d.get(order_by) is not None]
        return docs

    def count(self, collection: str, *, where: Sequence[tuple[str, str, Any]]) -> int:
        result = self._filtered(collection, where).count().get()
        n = int(result[0][0].value)
        self.usage.add(reads=max(1, -(-n // 1000)))
        return n


class FirestoreJobStore:
    def __init__(self, client: firestore.Client, usage: Usage | None = None) -> None:
        self.client = client
        self.usage = usage or Usage()
        self.docs = FirestoreDocumentStore(client, self.usage)
        self._cas = _Cas(client, self.usage)
        # The jobs this instance holds the lease of, as it last wrote them, with their update
        # times. Its next save of one is a write with an update-time precondition instead of a
        # transaction that reads the document first: a change by anyone else fails the
        # precondition, and the save falls back to the transaction.
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._held_lock = threading.Lock()

    def _ref(self, job_id: str) -> Any:
        return self.client.collection(JOBS).document(job_id)

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

    def _write_unread(
        self, job_id: str, version: Any, data: Mapping[str, Any], side: Sequence[SideWrite]
    ) -> Any:
        """Write ``data`` to the job (and ``side``) if it is still at ``version``: the update
        time of the job's write, or None when someone else changed it."""
        batch = self.client.batch()
        batch.update(
            self._ref(job_id), dict(data), option=self.client.write_option(last_update_time=version)
        )
        _add_side(self.client, batch, side)
        try:
            results = batch.commit()
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        self.usage.add(writes=1 + len(side))
        return results[0].update_time

    def create(self, job: Job) -> tuple[Job, bool]:
        ref = self._ref(job.job_id)
        try:
            ref.create({**codec.job_to_doc(job), "lease": None})
        except gexc.AlreadyExists:
            snap = ref.get()
            self.usage.add(reads=1)
            return codec.job_from_doc(snap.to_dict()), False
        self.usage.add(writes=1)
        return job, True

    def get(self, job_id: str) -> Job | None:
        snap = self._ref(job_id).get()
        self.usage.add(reads=1)
        return codec.job_from_doc(snap.to_dict()) if snap.exists else None

    def lease(self, job_id: str) -> Lease | None:
        snap = self._ref(job_id).get()
        self.usage.add(reads=1)
        return lease_from_doc(snap.to_dict()) if snap.exists else None

    def claim(
        self, job_id: str, *, owner: str, now: float, lease_s: float, seen: SeenJob | None = None
    ) -> Job | None:
        ref = self._ref(job_id)
        lease = Lease(owner=owner, expires_at=now + lease_s)
        if seen is not None and claimable(seen.job, seen.lease, owner=owner, now=now):
            version = self._write_unread(job_id, seen.version, {"lease": lease_to_doc(lease)}, ())
            if version is not None:
                self._hold(seen.job, lease, version)
                return seen.job
            # Changed since the event was sent: decide on the stored job.

        def decide(doc: dict[str, Any] | None) -> Decision:
            if doc is None:
                return None, None, ()
            job = codec.job_from_doc(doc)
            if not claimable(job, lease_from_doc(doc), owner=owner, now=now):
                return None, None, ()
            return job, {"lease": lease_to_doc(lease)}, ()

        result, version = self._cas.run(ref, decide)
        if result is not None:
            self._hold(result, lease, version)
        return result  # type: ignore[no-any-return]

    def save(
        self,
        job: Job,
        *,
        owner: str,
        now: float,
        side: Sequence[SideWrite] = (),
        release: bool = True,
    ) -> None:
        ref = self._ref(job.job_id)
        held = self._unhold(job.job_id)
        if held is not None and held.lease.owner == owner:
            # Unchanged since our last write (the precondition), so that write is the stored job.
            check_change(held.job, job, held.lease, owner=owner, now=now)
            keep = None if release else held.lease
            data = {**codec.job_to_doc(job), "lease": lease_to_doc(keep) if keep else None}
            version = self._write_unread(job.job_id, held.version, data, side)
            if version is not None:
                self._hold(job, keep, version)
                return

        def decide(doc: dict[str, Any] | None) -> Decision:
            if doc is None:
                raise JobNotFoundError(job.job_id)
            check_change(codec.job_from_doc(doc), job, lease_from_doc(doc), owner=owner, now=now)
            kept = None if release else lease_from_doc(doc)
            data = {**codec.job_to_doc(job), "lease": lease_to_doc(kept) if kept else None}
            return kept, data, side

        kept, version = self._cas.run(ref, decide)
        self._hold(job, kept, version)

    def transact(
        self,
        job_id: str,
        change: Callable[[Job], tuple[Job, Sequence[SideWrite]] | None],
        *,
        now: float,
    ) -> Job | None:
        ref = self._ref(job_id)

        def decide(doc: dict[str, Any] | None) -> Decision:
            if doc is None:
                return None, None, ()
            stored = codec.job_from_doc(doc)
            result = change(stored)
            if result is None:
                return stored, None, ()
            job, side = result
            check_change(stored, job, None, owner=None, now=now)
            return job, codec.job_to_doc(job), side  # the lease is left as it is

        stored: Job | None = self._cas.run(ref, decide)[0]
        return stored

    def due(self, *, now: float, limit: int = 100) -> list[Job]:
        docs = self.docs.query(
            JOBS,
            where=[("status", "in", ["queued", "processing"]), ("nextActionAt", "<=", now)],
            order_by="nextActionAt",
            limit=limit,
        )
        return [codec.job_from_doc(d) for d in docs]

    def count_created_since(self, user_id: str, since: float) -> int:
        return self.docs.count(JOBS, where=[("userId", "==", user_id), ("createdAt", ">=", since)])

    def recent(self, *, limit: int = 20, status: str | None = None) -> list[Job]:
        where = [("status", "==", status)] if status else []
        docs = self.docs.query(
            JOBS, where=where, order_by="updatedAt", descending=True, limit=limit
        )
        return [codec.job_from_doc(d) for d in docs]


class FirestoreBreakerBackend:
    """`BreakerBackend` on ``circuit_breaker_states/{providerId}`` and its ``buckets``."""

    def __init__(self, client: firestore.Client, usage: Usage | None = None) -> None:
        self.client = client
        self.usage = usage or Usage()
        self.increments = 0  # outcome writes, apart from transition writes
        self._cas = _Cas(client, self.usage)

    def _state_ref(self, provider_id: str) -> Any:
        return self.client.collection(BREAKERS).document(provider_id)

    def increment(
        self,
        provider_id: str,
        *,
        start: float,
        shard: int,
        calls: int,
        failures: int,
        slow: int,
        expire_at: float,
    ) -> None:
        ref = (
            self._state_ref(provider_id)
            .collection(BUCKETS)
            .document(f"{round(start * 1000)}-{shard}")
        )
        ref.set(
            {
                "providerId": provider_id,
                "start": start,
                "shard": shard,
                "expireAt": datetime.fromtimestamp(expire_at, UTC),  # TTL policy field
                "calls": firestore.Increment(calls),
                "failures": firestore.Increment(failures),
                "slow": firestore.Increment(slow),
            },
            merge=True,
        )
        self.increments += 1
        self.usage.add(writes=1)

    def window(self, provider_id: str, *, since: float) -> tuple[Bucket, ...]:
        q = (
            self._state_ref(provider_id)
            .collection(BUCKETS)
            .where(filter=FieldFilter("start", ">", since))
        )
        docs = [s.to_dict() for s in q.stream()]
        self.usage.add(reads=max(1, len(docs)))
        return sum_shards(docs)

    def read(self, provider_id: str) -> BreakerState:
        snap = self._state_ref(provider_id).get()
        self.usage.add(reads=1)
        return codec.breaker_from_doc(provider_id, snap.to_dict() if snap.exists else None)

    def transact(
        self, provider_id: str, change: Callable[[BreakerState], Step]
    ) -> tuple[Step, BreakerState]:
        def decide(doc: dict[str, Any] | None) -> Decision:
            current = codec.breaker_from_doc(provider_id, doc)
            step = change(current)
            if step.state == current and step.transition is None:
                return (step, current), None, ()
            side: tuple[SideWrite, ...] = ()
            if step.transition is not None:
                side = (SideWrite(TRANSITIONS, codec.transition_to_doc(step.transition)),)
            return (step, current), codec.breaker_to_doc(step.state), side

        result: tuple[Step, BreakerState] = self._cas.run(self._state_ref(provider_id), decide)[0]
        return result

    def transitions(self, *, since: float, limit: int) -> list[Transition]:
        docs = FirestoreDocumentStore(self.client, self.usage).query(
            TRANSITIONS, where=[("at", ">=", since)], order_by="at", descending=True, limit=limit
        )
        return [codec.transition_from_doc(d) for d in docs]
