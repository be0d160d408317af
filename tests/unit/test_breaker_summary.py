"""The original summary fields of circuit_breaker_states/{provider}: kept
current off the hot path, written only when they changed."""

from __future__ import annotations

from shared.adapters.stores.base import BREAKERS
from shared.adapters.stores.breakers import SharedBreaker
from shared.adapters.stores.memory import MemoryBreakerBackend, MemoryDatabase
from shared.core.breaker import Outcome
from shared.core.errors import ErrorCategory


def _breaker(db: MemoryDatabase) -> SharedBreaker:
    ticks = iter(float(i) for i in range(10_000))
    return SharedBreaker(MemoryBreakerBackend(db), clock=lambda: next(ticks))


def test_after_failures_and_successes_the_state_document_shows_the_original_fields() -> None:
    db = MemoryDatabase()
    breakers = _breaker(db)
    now = 1_000.0
    for i in range(3):
        breakers.record("heygen", Outcome(success=True, duration_s=2.0), now=now + i)
    for i in range(3):
        failed = Outcome(success=False, category=ErrorCategory.TRANSIENT)
        breakers.record("heygen", failed, now=now + 10 + i)
    # The failures read the window (as the breaker does to judge them): the summary was
    # written then, so the health check's refresh finds nothing new to write.
    assert breakers.refresh("heygen", now=now + 20) is False
    doc = db.coll(BREAKERS)["heygen"]
    assert doc["failureCount"] == 3
    assert doc["successCount"] == 3
    assert doc["metrics"]["totalRequests"] == 6
    assert doc["metrics"]["failureRate"] == 0.5
    assert doc["lastFailureTime"] == now + 12
    assert doc["lastSuccessTime"] == now + 2
    assert doc["updatedAt"] == now + 12


def test_successes_alone_write_nothing_and_an_unchanged_summary_is_not_rewritten() -> None:
    db = MemoryDatabase()
    breakers = _breaker(db)
    for i in range(5):
        breakers.record("did", Outcome(success=True), now=100.0 + i)
    assert db.writes == 5  # the hot path: one bucket increment per outcome
    assert "did" not in db.coll(BREAKERS)
    assert breakers.refresh("did", now=110.0) is True
    assert breakers.refresh("did", now=111.0) is False
    assert db.writes == 6


def test_a_transition_keeps_the_summary_fields_and_refreshes_them() -> None:
    db = MemoryDatabase()
    breakers = _breaker(db)
    breakers.record("heygen", Outcome(success=True), now=10.0)
    breakers.refresh("heygen", now=11.0)
    auth = Outcome(success=False, category=ErrorCategory.AUTHENTICATION)
    transition = breakers.record("heygen", auth, now=12.0)
    assert transition is not None
    doc = db.coll(BREAKERS)["heygen"]
    assert doc["state"] == "open"
    assert doc["failureCount"] == 1
    assert doc["successCount"] == 1
    assert doc["lastFailureTime"] == 12.0
    assert doc["lastSuccessTime"] == 10.0
