"""The Firestore stores' read-modify-write (`_Cas`): conflicts are retried after jittered,
doubling pauses, and a write that keeps losing ends with a clear error, not a hang."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.stores.firestore import ConflictTimeoutError, Usage, _Cas


class _Snap:
    def __init__(self, doc: dict[str, Any] | None, version: int) -> None:
        self.exists = doc is not None
        self._doc = doc
        self.update_time = version

    def to_dict(self) -> dict[str, Any] | None:
        return dict(self._doc) if self._doc is not None else None


class _Ref:
    path = "things/one"

    def __init__(self) -> None:
        self.doc: dict[str, Any] | None = {"n": 0}
        self.version = 1

    def get(self) -> _Snap:
        return _Snap(self.doc, self.version)


class _Client:
    """Loses the first ``conflicts`` commits to another writer (who bumps the document)."""

    def __init__(self, ref: _Ref, conflicts: int) -> None:
        self.ref = ref
        self.conflicts = conflicts
        self.commits = 0

    def write_option(self, *, last_update_time: int) -> int:
        return last_update_time

    def batch(self) -> Any:
        client = self

        class Batch:
            def update(self, ref: _Ref, data: dict[str, Any], option: int) -> None:
                self.write = (data, option)

            def commit(self) -> list[Any]:
                client.commits += 1
                data, expected = self.write
                if client.conflicts > 0:
                    client.conflicts -= 1
                    client.ref.version += 1  # someone else wrote in between
                if expected != client.ref.version:
                    raise gexc.FailedPrecondition("stale")
                client.ref.doc = {**(client.ref.doc or {}), **data}
                client.ref.version += 1

                class Result:
                    update_time = client.ref.version

                return [Result()]

        return Batch()


def _increment(doc: dict[str, Any] | None) -> tuple[int, dict[str, Any], tuple[()]]:
    assert doc is not None
    return doc["n"] + 1, {"n": doc["n"] + 1}, ()


def test_a_conflict_is_read_again_after_a_doubling_jittered_pause() -> None:
    ref, pauses, usage = _Ref(), [], Usage()
    client = _Client(ref, conflicts=3)
    cas = _Cas(client, usage, sleep=pauses.append, draw=lambda: 0.5)  # type: ignore[arg-type]

    result, version = cas.run(ref, _increment)

    assert (result, ref.doc, version) == (1, {"n": 1}, ref.version)
    assert pauses == [0.005, 0.01, 0.02]  # pause * (0.5 + draw), doubling
    assert (usage.attempts, usage.transactions, usage.retries) == (4, 1, 3)


def test_pauses_are_capped() -> None:
    ref, pauses = _Ref(), []
    cas = _Cas(_Client(ref, conflicts=10), Usage(), sleep=pauses.append, draw=lambda: 0.5)  # type: ignore[arg-type]
    cas.run(ref, _increment)
    assert max(pauses) == _Cas.MAX_PAUSE_S


def test_a_write_that_keeps_losing_ends_with_a_clear_error() -> None:
    ref = _Ref()
    cas = _Cas(_Client(ref, conflicts=10**6), Usage(), deadline_s=0.0, sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(ConflictTimeoutError, match="things/one"):
        cas.run(ref, _increment)


def test_a_decision_to_write_nothing_writes_nothing() -> None:
    ref, usage = _Ref(), Usage()
    client = _Client(ref, conflicts=0)
    result, version = _Cas(client, usage).run(ref, lambda doc: ("kept", None, ()))  # type: ignore[arg-type]
    assert (result, version, client.commits, usage.writes) == ("kept", None, 0, 0)
