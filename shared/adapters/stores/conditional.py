"""Conditional writes, the stores' one way to a database: read a document with its version, and
write it only if it is still at that version. Every read-modify-write of the stores (claims,
saves, webhook changes, breaker transitions) is `update()` over them, written once
(`shared.adapters.stores.jobstore`) for Firestore and memory alike; a backend implements
`Documents` and nothing of the rules.

Why not transactions: Firestore locks what a transaction reads (pessimistically, for server
clients; Google's emulator does the same), and the Python client retries an aborted transaction
at once. Eight instances on one document - a breaker state in an outage, a job whose webhook and
poll meet - then abort each other for minutes: measured on the emulator, "Failed to commit
transaction in 200 attempts" after 400 s. A write with a precondition holds no lock; the loser
of a race reads again after a jittered, doubling pause.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from shared.adapters.stores.base import SideWrite, StoreError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document as read, and its version (opaque: Firestore's update time, a counter in
    memory; None for a document that does not exist)."""

    doc: dict[str, Any] | None
    version: Any


class Documents(Protocol):
    def read(self, collection: str, doc_id: str) -> Snapshot: ...

    def write_if(
        self,
        collection: str,
        doc_id: str,
        data: Mapping[str, Any],
        *,
        version: Any,
        side: Sequence[SideWrite] = (),
    ) -> Any | None:
        """Write the fields of ``data`` (other fields are kept) and the ``side`` documents in
        one atomic write, if the document is still at ``version`` (None: if it does not exist;
        it is then created) and every side document with an ``expect`` is still at that.
        Returns the new version, or None when another writer got there first (nothing was
        written)."""
        ...


@dataclass
class Usage:
    """Operations as Firestore bills them (a query reads at least one document; an aggregation
    one per 1000 index entries), and the read-modify-writes (``transactions``) with their
    attempts: ``retries`` is how many attempts lost to a concurrent write."""

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


class ConflictTimeoutError(StoreError):
    """A read-modify-write kept losing to concurrent writes until its deadline."""


# What one attempt decides from the stored document: its result, the fields to write (None:
# write nothing) and the side documents to write with them.
Decision = tuple[T, Mapping[str, Any] | None, Sequence[SideWrite]]


@dataclass(frozen=True, slots=True)
class Pacing:
    """Pauses between attempts: ``first_s`` doubling to ``cap_s``, each times 0.5..1.5 drawn;
    past ``deadline_s`` a conflict raises ConflictTimeoutError."""

    first_s: float = 0.005
    cap_s: float = 0.5
    deadline_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic


def update(
    docs: Documents,
    collection: str,
    doc_id: str,
    decide: Callable[[dict[str, Any] | None], Decision[T]],
    *,
    usage: Usage | None = None,
    pacing: Pacing = Pacing(),
) -> tuple[T, Any]:
    """Read the document, let ``decide`` say what to write, write it if nobody wrote since;
    otherwise read again after a pause. ``decide`` may raise to refuse (nothing is written).
    Returns the result of the attempt that counted and the version it wrote (None: it wrote
    nothing)."""
    for _ in attempts(pacing, f"{collection}/{doc_id}"):
        snap = docs.read(collection, doc_id)
        if usage is not None:
            usage.add(attempts=1)
        result, data, side = decide(snap.doc)
        if data is None:
            if usage is not None:
                usage.add(transactions=1)
            return result, None
        version = docs.write_if(collection, doc_id, data, version=snap.version, side=side)
        if version is not None:
            if usage is not None:
                usage.add(transactions=1)
            return result, version
    raise AssertionError("unreachable: attempts() ends only by raising")


def attempts(pacing: Pacing, what: str) -> Iterator[None]:
    """One turn per attempt at a conditional write: between turns a pause (``first_s`` doubling
    to ``cap_s``, jittered), and past ``deadline_s`` ConflictTimeoutError naming ``what``."""
    began = pacing.clock()
    pause = pacing.first_s
    while True:
        yield
        if pacing.clock() - began > pacing.deadline_s:
            raise ConflictTimeoutError(f"{what}: still conflicting after {pacing.deadline_s:.0f} s")
        pacing.sleep(pause * (0.5 + pacing.draw()))
        pause = min(pause * 2, pacing.cap_s)
