"""Firestore stores, through google-cloud-firestore. Every read-modify-write is a transaction;
the breaker's outcome counts are increments on sharded bucket documents, never a transaction.

`Usage` counts reads, writes and transaction attempts as Firestore bills them (a query reads at
least one document; an aggregation one per 1000 index entries), so benchmarks can report them.
"""

from __future__ import annotations

import threading
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


# Contention on one document (a breaker's state, a popular job) aborts transactions; the client
# retries them at once. Generous, so that no Aborted ever reaches a caller.
MAX_ATTEMPTS = 200


@dataclass
class Usage:
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


class _Txn:
    """Runs ``body(transaction)`` in a Firestore transaction, counting attempts and writes."""

    def __init__(self, client: firestore.Client, usage: Usage) -> None:
        self.client = client
        self.usage = usage

    def run(self, body: Callable[[Any], tuple[Any, int, int]]) -> Any:
        """``body`` returns (result, reads, writes) of its last, committed attempt."""
        return self.run_versioned(body)[0]

    def run_versioned(self, body: Callable[[Any], tuple[Any, int, int]]) -> tuple[Any, Any]:
        """Also the update time of the transaction's first write (None: it wrote nothing)."""
        last: list[tuple[Any, int, int]] = []

        @firestore.transactional
        def attempt(transaction: Any) -> None:
            self.usage.add(attempts=1)
            last.clear()
            last.append(body(transaction))

        transaction = self.client.transaction(max_attempts=MAX_ATTEMPTS)
        attempt(transaction)
        result, reads, writes = last[0]
        self.usage.add(transactions=1, reads=reads, writes=writes)
        written = getattr(transaction, "write_results", None)
        return result, (written[0].update_time if written else None)


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
        self._txn = _Txn(client, self.usage)
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
        self._side(batch, side)
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

        def body(txn: Any) -> tuple[Job | None, int, int]:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                return None, 1, 0
            doc = snap.to_dict()
            job = codec.job_from_doc(doc)
            if not claimable(job, lease_from_doc(doc), owner=owner, now=now):
                return None, 1, 0
            txn.update(ref, {"lease": lease_to_doc(lease)})
            return job, 1, 1

        result, version = self._txn.run_versioned(body)
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

        kept: list[Lease | None] = [None]

        def body(txn: Any) -> tuple[None, int, int]:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise JobNotFoundError(job.job_id)
            doc = snap.to_dict()
            check_change(codec.job_from_doc(doc), job, lease_from_doc(doc), owner=owner, now=now)
            kept[0] = None if release else lease_from_doc(doc)
            txn.set(ref, {**codec.job_to_doc(job), "lease": None if release else doc.get("lease")})
            return None, 1, 1 + self._side(txn, side)

        _, version = self._txn.run_versioned(body)
        self._hold(job, kept[0], version)

    def transact(
        self,
        job_id: str,
        change: Callable[[Job], tuple[Job, Sequence[SideWrite]] | None],
        *,
        now: float,
    ) -> Job | None:
        ref = self._ref(job_id)

        def body(txn: Any) -> tuple[Job | None, int, int]:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                return None, 1, 0
            doc = snap.to_dict()
            stored = codec.job_from_doc(doc)
            result = change(stored)
            if result is None:
                return stored, 1, 0
            job, side = result
            check_change(stored, job, None, owner=None, now=now)
            txn.set(ref, {**codec.job_to_doc(job), "lease": doc.get("lease")})
            return job, 1, 1 + self._side(txn, side)

        stored: Job | None = self._txn.run(body)
        return stored

    def _side(self, txn: Any, side: Sequence[SideWrite]) -> int:
        for w in side:
            coll = self.client.collection(w.collection)
            ref = coll.document(w.doc_id) if w.doc_id else coll.document()
            txn.set(ref, dict(w.data))
        return len(side)

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
        self._txn = _Txn(client, self.usage)

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
        ref = self._state_ref(provider_id)

        def body(txn: Any) -> tuple[tuple[Step, BreakerState], int, int]:
            snap = ref.get(transaction=txn)
            current = codec.breaker_from_doc(provider_id, snap.to_dict() if snap.exists else None)
            step = change(current)
            writes = 0
            if step.state != current or step.transition is not None:
                txn.set(ref, codec.breaker_to_doc(step.state))
                writes += 1
            if step.transition is not None:
                log = self.client.collection(TRANSITIONS).document()
                txn.set(log, codec.transition_to_doc(step.transition))
                writes += 1
            return (step, current), 1, writes

        result: tuple[Step, BreakerState] = self._txn.run(body)
        return result

    def transitions(self, *, since: float, limit: int) -> list[Transition]:
        docs = FirestoreDocumentStore(self.client, self.usage).query(
            TRANSITIONS, where=[("at", ">=", since)], order_by="at", descending=True, limit=limit
        )
        return [codec.transition_from_doc(d) for d in docs]
