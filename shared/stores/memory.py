"""In-memory stores for unit tests of logic: one `MemoryDatabase` plays the server (shared by
every "instance" built on it), a lock plays the transactions. Same documents as Firestore."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.breaker import BreakerState, Bucket, Step, Transition
from shared.jobs import Job
from shared.stores import codec
from shared.stores.base import (
    BREAKERS,
    JOBS,
    TRANSITIONS,
    JobNotFoundError,
    Lease,
    SeenJob,
    SideWrite,
)
from shared.stores.rules import check_change, claimable, lease_from_doc, lease_to_doc

Doc = dict[str, Any]


class MemoryDatabase:
    """Collections of documents behind one lock; also counts writes, as Firestore bills them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.collections: dict[str, dict[str, Doc]] = {}
        self.writes = 0

    def coll(self, name: str) -> dict[str, Doc]:
        return self.collections.setdefault(name, {})

    def put(self, collection: str, doc_id: str | None, data: Mapping[str, Any]) -> str:
        with self.lock:
            key = doc_id or uuid.uuid4().hex
            self.coll(collection)[key] = copy.deepcopy(dict(data))
            self.writes += 1
            return key


class MemoryDocumentStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, collection: str, data: Mapping[str, Any]) -> str:
        return self.db.put(collection, None, data)

    def put(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self.db.put(collection, doc_id, data)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        with self.db.lock:
            doc = self.db.coll(collection).get(doc_id)
            return copy.deepcopy(doc) if doc is not None else None

    def query(
        self,
        collection: str,
        *,
        where: Sequence[tuple[str, str, Any]] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        with self.db.lock:
            docs = [copy.deepcopy(d) for d in self.db.coll(collection).values()]
        docs = [d for d in docs if all(_matches(d, f, op, v) for f, op, v in where)]
        if order_by is not None:
            docs = [d for d in docs if d.get(order_by) is not None]
            docs.sort(key=lambda d: d[order_by], reverse=descending)
        return docs[:limit] if limit is not None else docs

    def count(self, collection: str, *, where: Sequence[tuple[str, str, Any]]) -> int:
        return len(self.query(collection, where=where))


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a is not None and a < b,
    "<=": lambda a, b: a is not None and a <= b,
    ">": lambda a, b: a is not None and a > b,
    ">=": lambda a, b: a is not None and a >= b,
    "in": lambda a, b: a in b,
}


def _matches(doc: Doc, field: str, op: str, value: Any) -> bool:
    return _OPS[op](doc.get(field), value)


class MemoryJobStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.docs = MemoryDocumentStore(db)

    def _jobs(self) -> dict[str, Doc]:
        return self.db.coll(JOBS)

    def create(self, job: Job) -> tuple[Job, bool]:
        with self.db.lock:
            existing = self._jobs().get(job.job_id)
            if existing is not None:
                return codec.job_from_doc(existing), False
            self.db.put(JOBS, job.job_id, {**codec.job_to_doc(job), "lease": None})
            return job, True

    def get(self, job_id: str) -> Job | None:
        with self.db.lock:
            doc = self._jobs().get(job_id)
            return codec.job_from_doc(doc) if doc is not None else None

    def lease(self, job_id: str) -> Lease | None:
        with self.db.lock:
            doc = self._jobs().get(job_id)
            return lease_from_doc(doc) if doc is not None else None

    def claim(
        self, job_id: str, *, owner: str, now: float, lease_s: float, seen: SeenJob | None = None
    ) -> Job | None:
        del seen  # reading here costs nothing: always decide on the stored job
        with self.db.lock:
            doc = self._jobs().get(job_id)
            if doc is None:
                return None
            job = codec.job_from_doc(doc)
            if not claimable(job, lease_from_doc(doc), owner=owner, now=now):
                return None
            lease = Lease(owner=owner, expires_at=now + lease_s)
            self.db.put(JOBS, job_id, {**doc, "lease": lease_to_doc(lease)})
            return job

    def save(
        self,
        job: Job,
        *,
        owner: str,
        now: float,
        side: Sequence[SideWrite] = (),
        release: bool = True,
    ) -> None:
        with self.db.lock:
            doc = self._jobs().get(job.job_id)
            if doc is None:
                raise JobNotFoundError(job.job_id)
            check_change(codec.job_from_doc(doc), job, lease_from_doc(doc), owner=owner, now=now)
            lease = None if release else doc.get("lease")
            self.db.put(JOBS, job.job_id, {**codec.job_to_doc(job), "lease": lease})
            for w in side:
                self.db.put(w.collection, w.doc_id, w.data)

    def transact(
        self,
        job_id: str,
        change: Callable[[Job], tuple[Job, Sequence[SideWrite]] | None],
        *,
        now: float,
    ) -> Job | None:
        with self.db.lock:
            doc = self._jobs().get(job_id)
            if doc is None:
                return None
            stored = codec.job_from_doc(doc)
            result = change(stored)
            if result is None:
                return stored
            job, side = result
            check_change(stored, job, None, owner=None, now=now)
            self.db.put(JOBS, job_id, {**codec.job_to_doc(job), "lease": doc.get("lease")})
            for w in side:
                self.db.put(w.collection, w.doc_id, w.data)
            return job

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


class MemoryBreakerBackend:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

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
        with self.db.lock:
            key = f"{provider_id}/{round(start * 1000)}-{shard}"
            coll = self.db.coll(f"{BREAKERS}/buckets")
            doc = coll.setdefault(
                key,
                {"providerId": provider_id, "start": start, "calls": 0, "failures": 0, "slow": 0},
            )
            doc["calls"] += calls
            doc["failures"] += failures
            doc["slow"] += slow
            self.db.writes += 1

    def window(self, provider_id: str, *, since: float) -> tuple[Bucket, ...]:
        with self.db.lock:
            docs = [
                dict(d)
                for d in self.db.coll(f"{BREAKERS}/buckets").values()
                if d["providerId"] == provider_id and d["start"] > since
            ]
        return sum_shards(docs)

    def read(self, provider_id: str) -> BreakerState:
        with self.db.lock:
            return codec.breaker_from_doc(provider_id, self.db.coll(BREAKERS).get(provider_id))

    def transact(
        self, provider_id: str, change: Callable[[BreakerState], Step]
    ) -> tuple[Step, BreakerState]:
        with self.db.lock:
            current = self.read(provider_id)
            step = change(current)
            if step.state != current or step.transition is not None:
                self.db.put(BREAKERS, provider_id, codec.breaker_to_doc(step.state))
            if step.transition is not None:
                self.db.put(TRANSITIONS, None, codec.transition_to_doc(step.transition))
            return step, current

    def transitions(self, *, since: float, limit: int) -> list[Transition]:
        docs = MemoryDocumentStore(self.db).query(
            TRANSITIONS, where=[("at", ">=", since)], order_by="at", descending=True, limit=limit
        )
        return [codec.transition_from_doc(d) for d in docs]


def sum_shards(docs: Sequence[Mapping[str, Any]]) -> tuple[Bucket, ...]:
    """Bucket shard documents summed per bucket start, oldest first."""
    sums: dict[float, list[int]] = {}
    for d in docs:
        acc = sums.setdefault(float(d["start"]), [0, 0, 0])
        acc[0] += int(d.get("calls") or 0)
        acc[1] += int(d.get("failures") or 0)
        acc[2] += int(d.get("slow") or 0)
    return tuple(Bucket(start, *acc) for start, acc in sorted(sums.items()))
