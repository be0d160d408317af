"""The stores' conditional writes (`shared.adapters.stores.conditional`): conflicts are tried again
after jittered, doubling pauses, and a write that keeps losing ends with a clear error, not a
hang: a read-modify-write and a job's creation alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from shared.adapters.stores.base import SideWrite
from shared.adapters.stores.conditional import ConflictTimeoutError, Pacing, Snapshot, Usage, update


class Contended:
    """One document; another writer gets in first on the next ``conflicts`` writes."""

    def __init__(self, conflicts: int) -> None:
        self.doc: dict[str, Any] = {"n": 0}
        self.version = 1
        self.conflicts = conflicts
        self.writes = 0

    def read(self, collection: str, doc_id: str) -> Snapshot:
        return Snapshot(dict(self.doc), self.version)

    def write_if(
        self,
        collection: str,
        doc_id: str,
        data: Mapping[str, Any],
        *,
        version: Any,
        side: Sequence[SideWrite] = (),
    ) -> Any | None:
        if self.conflicts > 0:
            self.conflicts -= 1
            self.version += 1  # someone else wrote in between
        if version != self.version:
            return None
        self.doc.update(data)
        self.version += 1
        self.writes += 1
        return self.version


def _increment(doc: dict[str, Any] | None) -> tuple[int, dict[str, Any], tuple[()]]:
    assert doc is not None
    return doc["n"] + 1, {"n": doc["n"] + 1}, ()


def _pacing(pauses: list[float], **kw: Any) -> Pacing:
    return Pacing(sleep=pauses.append, draw=lambda: 0.5, **kw)


def test_a_conflict_is_read_again_after_a_doubling_jittered_pause() -> None:
    docs, pauses, usage = Contended(conflicts=3), [], Usage()
    result, version = update(docs, "c", "one", _increment, usage=usage, pacing=_pacing(pauses))
    assert (result, docs.doc, version, docs.writes) == (1, {"n": 1}, docs.version, 1)
    assert pauses == [0.005, 0.01, 0.02]  # first_s * (0.5 + draw), doubling
    assert (usage.attempts, usage.transactions, usage.retries) == (4, 1, 3)


def test_pauses_are_capped() -> None:
    pauses: list[float] = []
    update(Contended(conflicts=10), "c", "one", _increment, pacing=_pacing(pauses))
    assert max(pauses) == Pacing().cap_s


def test_a_write_that_keeps_losing_ends_with_a_clear_error() -> None:
    pauses: list[float] = []
    with pytest.raises(ConflictTimeoutError, match="c/one"):
        update(Contended(10**6), "c", "one", _increment, pacing=_pacing(pauses, deadline_s=0.0))


def test_a_decision_to_write_nothing_writes_nothing() -> None:
    docs, usage = Contended(conflicts=0), Usage()
    result, version = update(docs, "c", "one", lambda doc: ("kept", None, ()), usage=usage)
    assert (result, version, docs.writes, usage.transactions) == ("kept", None, 0, 1)


def test_a_refusal_writes_nothing() -> None:
    docs = Contended(conflicts=0)

    def refuse(doc: dict[str, Any] | None) -> tuple[int, dict[str, Any], tuple[()]]:
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        update(docs, "c", "one", refuse)
    assert docs.writes == 0


class Refusing:
    """Every conditional write loses: another writer always got there first."""

    def read(self, collection: str, doc_id: str) -> Snapshot:
        return Snapshot(None, None)

    def write_if(self, collection: str, doc_id: str, data: Any, **kw: Any) -> Any | None:
        return None


def test_a_job_creation_that_keeps_losing_ends_with_a_clear_error() -> None:
    """A counter that moves under every attempt: the create gives up at its deadline."""
    from shared.adapters.stores.base import Counter
    from shared.adapters.stores.jobstore import DocumentJobStore
    from shared.adapters.stores.memory import MemoryDatabase, MemoryDocumentStore
    from shared.core.jobs import Job

    pauses: list[float] = []
    store = DocumentJobStore(
        Refusing(), MemoryDocumentStore(MemoryDatabase()), pacing=_pacing(pauses, deadline_s=0.0)
    )
    counter = Counter("user_quotas", "u", lambda doc: {"n": 1})
    with pytest.raises(ConflictTimeoutError, match="enhanced_video_jobs/j-1"):
        store.create(Job(job_id="j-1", created_at=0.0, deadline_at=60.0), counter=counter)
