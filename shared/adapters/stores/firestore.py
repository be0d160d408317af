"""Firestore stores, through google-cloud-firestore: the conditional writes
(`FirestoreDocuments`: versions are update times, conditional writes are preconditions, no
transactions) under the rules of `shared.adapters.stores.jobstore`, plain documents, and the
breaker's outcome counts as increments on sharded bucket documents.

`Usage` counts reads, writes and read-modify-write attempts as Firestore bills them (a query
reads at least one document; an aggregation one per 1000 index entries), for the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.stores import codec
from shared.adapters.stores.base import (
    BREAKERS,
    BUCKETS,
    TRANSITIONS,
    UNCONDITIONAL,
    SeenJob,
    SideWrite,
)
from shared.adapters.stores.codec import sum_shards
from shared.adapters.stores.conditional import ConflictTimeoutError, Snapshot, Usage
from shared.adapters.stores.jobstore import DocumentJobStore, lease_from_doc, transact_breaker
from shared.core.breaker import BreakerState, Bucket, Step, Transition

__all__ = [
    "ConflictTimeoutError",
    "FirestoreBreakerBackend",
    "FirestoreDocumentStore",
    "FirestoreDocuments",
    "FirestoreJobStore",
    "Usage",
    "seen_job",
]


def seen_job(doc: Mapping[str, Any], update_time: Any) -> SeenJob:
    """A job document as a Firestore trigger event delivered it."""
    return SeenJob(job=codec.job_from_doc(doc), lease=lease_from_doc(doc), version=update_time)


# A write that lost: its precondition failed (someone wrote since our read), a create found the
# document there, or the document was deleted since our read.
_CONFLICTS = (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound)


def _increments(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: firestore.Increment(v) for k, v in fields.items()}


class FirestoreDocuments:
    """`shared.adapters.stores.conditional.Documents` on Firestore: versions are update times,
    and a conditional write is a batch whose first write carries the precondition (update time, or
    create for a missing document), the side documents in the same batch."""

    def __init__(self, client: firestore.Client, usage: Usage) -> None:
        self.client = client
        self.usage = usage

    def read(self, collection: str, doc_id: str) -> Snapshot:
        snap = self.client.collection(collection).document(doc_id).get()
        self.usage.add(reads=1)
        return Snapshot(snap.to_dict() if snap.exists else None, snap.update_time)

    def write_if(
        self,
        collection: str,
        doc_id: str,
        data: Mapping[str, Any],
        *,
        version: Any,
        side: Sequence[SideWrite] = (),
    ) -> Any | None:
        ref = self.client.collection(collection).document(doc_id)
        batch = self.client.batch()
        if version is None:
            batch.create(ref, dict(data))
        else:
            option = self.client.write_option(last_update_time=version)
            batch.update(ref, dict(data), option=option)
        for w in side:
            coll = self.client.collection(w.collection)
            other = coll.document(w.doc_id) if w.doc_id else coll.document()
            if w.increment:
                batch.set(other, _increments(w.data), merge=True)
            elif w.expect is UNCONDITIONAL:
                batch.set(other, dict(w.data), merge=w.merge)
            elif w.expect is None:
                batch.create(other, dict(w.data))
            else:
                option = self.client.write_option(last_update_time=w.expect)
                batch.update(other, dict(w.data), option=option)
        try:
            written = batch.commit()
        except _CONFLICTS:
            return None
        self.usage.add(writes=1 + len(side))
        return written[0].update_time


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

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        try:
            self.client.collection(collection).document(doc_id).create(dict(data))
        except gexc.AlreadyExists:
            return False
        finally:
            self.usage.add(writes=1)
        return True

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

    def increment(self, collection: str, doc_id: str, fields: Mapping[str, float]) -> None:
        ref = self.client.collection(collection).document(doc_id)
        ref.set(_increments(fields), merge=True)
        self.usage.add(writes=1)

    def count(self, collection: str, *, where: Sequence[tuple[str, str, Any]]) -> int:
        result = self._filtered(collection, where).count().get()
        n = int(result[0][0].value)
        self.usage.add(reads=max(1, -(-n // 1000)))
        return n


class FirestoreJobStore(DocumentJobStore):
    """`JobStore` on ``enhanced_video_jobs`` (the rules:
    `shared.adapters.stores.jobstore.DocumentJobStore`)."""

    def __init__(self, client: firestore.Client, usage: Usage | None = None) -> None:
        self.client = client
        usage = usage or Usage()
        super().__init__(
            FirestoreDocuments(client, usage), FirestoreDocumentStore(client, usage), usage
        )


class FirestoreBreakerBackend:
    """`BreakerBackend` on ``circuit_breaker_states/{providerId}`` and its ``buckets``."""

    def __init__(self, client: firestore.Client, usage: Usage | None = None) -> None:
        self.client = client
        self.usage = usage or Usage()
        self.increments = 0  # outcome writes, apart from transition writes
        self._documents = FirestoreDocuments(client, self.usage)

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
        failed_at: float | None = None,
        succeeded_at: float | None = None,
    ) -> None:
        ref = (
            self._state_ref(provider_id)
            .collection(BUCKETS)
            .document(f"{round(start * 1000)}-{shard}")
        )
        data: dict[str, Any] = {
            "providerId": provider_id,
            "start": start,
            "shard": shard,
            "expireAt": datetime.fromtimestamp(expire_at, UTC),  # TTL policy field
            "calls": firestore.Increment(calls),
            "failures": firestore.Increment(failures),
            "slow": firestore.Increment(slow),
        }
        if failed_at is not None:
            data["lastFailureAt"] = firestore.Maximum(failed_at)
        if succeeded_at is not None:
            data["lastSuccessAt"] = firestore.Maximum(succeeded_at)
        ref.set(data, merge=True)
        self.increments += 1
        self.usage.add(writes=1)

    def summarize(self, provider_id: str, fields: Mapping[str, object]) -> None:
        self._state_ref(provider_id).set(dict(fields), merge=True)
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
        return transact_breaker(self._documents, provider_id, change, usage=self.usage)

    def transitions(self, *, since: float, limit: int) -> list[Transition]:
        docs = FirestoreDocumentStore(self.client, self.usage).query(
            TRANSITIONS, where=[("at", ">=", since)], order_by="at", descending=True, limit=limit
        )
        return [codec.transition_from_doc(d) for d in docs]
