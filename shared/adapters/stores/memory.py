"""In-memory stores for unit tests of logic: one `MemoryDatabase` plays the server (shared by
every "instance" built on it), with a version per document for the seam's conditional writes.
The rules are the same code as on Firestore (`shared.adapters.stores.jobstore`); so are
the documents."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.adapters.stores import codec
from shared.adapters.stores.base import BREAKERS, TRANSITIONS, UNCONDITIONAL, SideWrite
from shared.adapters.stores.codec import sum_shards
from shared.adapters.stores.conditional import Snapshot
from shared.adapters.stores.jobstore import DocumentJobStore, transact_breaker
from shared.core.breaker import BreakerState, Bucket, Step, Transition

Doc = dict[str, Any]


class MemoryDatabase:
    """Collections of documents behind one lock; also counts writes, as Firestore bills them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.collections: dict[str, dict[str, Doc]] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.writes = 0

    def coll(self, name: str) -> dict[str, Doc]:
        return self.collections.setdefault(name, {})

    def put(self, collection: str, doc_id: str | None, data: Mapping[str, Any]) -> str:
        with self.lock:
            key = doc_id or uuid.uuid4().hex
            self.coll(collection)[key] = copy.deepcopy(dict(data))
            self.versions[(collection, key)] = self.versions.get((collection, key), 0) + 1
            self.writes += 1
            return key

    def add_to(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Numbers added to the stored ones (the document created if missing): an increment."""
        with self.lock:
            doc = dict(self.coll(collection).get(doc_id) or {})
            for key, value in fields.items():
                doc[key] = (doc.get(key) or 0) + value
            self.put(collection, doc_id, doc)


def merged(old: Mapping[str, Any], new: Mapping[str, Any]) -> Doc:
    """Firestore's set with merge: maps merge field by field, anything else is replaced."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


class MemoryDocuments:
    """`shared.adapters.stores.conditional.Documents` in memory: a document's version counts
    its writes."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def read(self, collection: str, doc_id: str) -> Snapshot:
        with self.db.lock:
            doc = self.db.coll(collection).get(doc_id)
            if doc is None:
                return Snapshot(None, None)
            return Snapshot(copy.deepcopy(doc), self.db.versions[(collection, doc_id)])

    def write_if(
        self,
        collection: str,
        doc_id: str,
        data: Mapping[str, Any],
        *,
        version: Any,
        side: Sequence[SideWrite] = (),
    ) -> Any | None:
        with self.db.lock:
            stored = self.db.coll(collection).get(doc_id)
            current = None if stored is None else self.db.versions[(collection, doc_id)]
            if current != version or not all(self._at(w) for w in side):
                return None
            self.db.put(collection, doc_id, {**(stored or {}), **copy.deepcopy(dict(data))})
            for w in side:
                if w.increment:
                    self.db.add_to(w.collection, w.doc_id or "", w.data)
                elif w.expect is UNCONDITIONAL and w.merge:
                    kept = self.db.coll(w.collection).get(w.doc_id or "") or {}
                    self.db.put(w.collection, w.doc_id, merged(kept, copy.deepcopy(dict(w.data))))
                elif w.expect is UNCONDITIONAL:
                    self.db.put(w.collection, w.doc_id, w.data)
                else:
                    kept = self.db.coll(w.collection).get(w.doc_id or "") or {}
                    self.db.put(w.collection, w.doc_id, {**kept, **copy.deepcopy(dict(w.data))})
            return self.db.versions[(collection, doc_id)]

    def _at(self, w: SideWrite) -> bool:
        """A side write's condition holds (or it has none)."""
        if w.expect is UNCONDITIONAL:
            return True
        exists = (w.doc_id or "") in self.db.coll(w.collection)
        current = self.db.versions[(w.collection, w.doc_id or "")] if exists else None
        return bool(current == w.expect)


class MemoryDocumentStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def add(self, collection: str, data: Mapping[str, Any]) -> str:
        return self.db.put(collection, None, data)

    def put(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        self.db.put(collection, doc_id, data)

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        with self.db.lock:
            if doc_id in self.db.coll(collection):
                return False
            self.db.put(collection, doc_id, data)
            return True

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

    def increment(self, collection: str, doc_id: str, fields: Mapping[str, float]) -> None:
        self.db.add_to(collection, doc_id, fields)

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


class MemoryJobStore(DocumentJobStore):
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        super().__init__(MemoryDocuments(db), MemoryDocumentStore(db))


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
        failed_at: float | None = None,
        succeeded_at: float | None = None,
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
            if failed_at is not None:
                doc["lastFailureAt"] = failed_at
            if succeeded_at is not None:
                doc["lastSuccessAt"] = succeeded_at
            self.db.writes += 1

    def summarize(self, provider_id: str, fields: Mapping[str, object]) -> None:
        with self.db.lock:  # a merge, as in Firestore (a write: the version moves on)
            stored = self.db.coll(BREAKERS).get(provider_id) or {"providerId": provider_id}
            self.db.put(BREAKERS, provider_id, {**stored, **copy.deepcopy(dict(fields))})

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
        return transact_breaker(MemoryDocuments(self.db), provider_id, change)

    def transitions(self, *, since: float, limit: int) -> list[Transition]:
        docs = MemoryDocumentStore(self.db).query(
            TRANSITIONS, where=[("at", ">=", since)], order_by="at", descending=True, limit=limit
        )
        return [codec.transition_from_doc(d) for d in docs]
