"""The circuit breaker shared by every function instance: the pure state machine of
`shared.core.breaker`, a per-instance cache, and a backend that keeps the truth (Firestore, or
memory for tests).

Hot path, per outcome: one write — an increment of this instance's shard of the current time
bucket; never a read-modify-write of the state document. Transitions run in a transaction on the
state document, and only when an outcome can change the state: a counting failure while closed
(after reading the window's buckets), any probe outcome, a manual action, a probe permit.

The original's summary fields on the state document (failureCount, successCount, metrics,
updatedAt, lastFailureTime, lastSuccessTime) are refreshed off the hot path: whenever this
instance reads the window anyway, after a transition, and by the health check every minute —
and written only when they changed since this instance last wrote them.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from shared.adapters.stores import codec
from shared.adapters.stores.base import DEFAULT_CACHE_TTL_S
from shared.core import breaker as br
from shared.core.breaker import (
    Admission,
    BreakerPolicy,
    BreakerState,
    Bucket,
    CircuitState,
    Grant,
    ManualAction,
    Outcome,
    Step,
    Transition,
)

SHARDS = 8


class BreakerBackend(Protocol):
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
        """Add to one bucket shard, without reading it (one write); ``failed_at`` /
        ``succeeded_at`` stamp the shard's latest failure or success in the same write."""
        ...

    def summarize(self, provider_id: str, fields: Mapping[str, object]) -> None:
        """Merge the summary fields into the state document (one write, no precondition)."""
        ...

    def window(self, provider_id: str, *, since: float) -> tuple[Bucket, ...]:
        """The buckets that started after ``since``, shards summed, oldest first."""
        ...

    def read(self, provider_id: str) -> BreakerState: ...

    def transact(
        self, provider_id: str, change: Callable[[BreakerState], Step]
    ) -> tuple[Step, BreakerState]:
        """Atomically read the state, apply ``change`` and write it (with the transition, if
        any) when it changed. Returns the step and the state that was read."""
        ...

    def transitions(self, *, since: float, limit: int) -> list[Transition]: ...


@dataclass(slots=True)
class _Cached:
    state: BreakerState
    fetched_at: float


class SharedBreaker:
    """`BreakerStore` over any `BreakerBackend`. ``clock`` is monotonic seconds for the caches
    (state: ``cache_ttl_s``; outcome window: ``window_cache_s``); domain times (``now``) are
    passed in by the caller."""

    def __init__(
        self,
        backend: BreakerBackend,
        *,
        policies: Mapping[str, BreakerPolicy] | None = None,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        window_cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        instance_id: str | None = None,
    ) -> None:
        self.backend = backend
        self.policies = dict(policies or br.POLICIES)
        self.cache_ttl_s = cache_ttl_s
        self.window_cache_s = window_cache_s
        self.clock = clock
        self.instance_id = instance_id or uuid.uuid4().hex
        self.shard = zlib.crc32(self.instance_id.encode()) % SHARDS
        self._cache: dict[str, _Cached] = {}
        self._windows: dict[str, tuple[float, tuple[Bucket, ...]]] = {}
        self._summaries: dict[str, br.Summary] = {}
        self._lock = threading.Lock()

    def policy(self, provider_id: str) -> BreakerPolicy:
        return self.policies.get(provider_id) or br.BreakerPolicy()

    def state(self, provider_id: str, *, now: float, fresh: bool = False) -> BreakerState:
        tick = self.clock()
        with self._lock:
            hit = self._cache.get(provider_id)
        if hit is not None and not fresh and tick - hit.fetched_at < self.cache_ttl_s:
            return hit.state
        state = self.backend.read(provider_id)
        self._remember(state, tick)
        return state

    def admission(self, provider_id: str, *, now: float) -> Admission:
        return br.admission(self.state(provider_id, now=now), now, self.policy(provider_id))

    def acquire(self, provider_id: str, *, now: float) -> Grant:
        policy = self.policy(provider_id)
        cached = self.state(provider_id, now=now)
        verdict = br.admission(cached, now, policy)
        if verdict is not Admission.PROBE:  # no permit involved: the cached view decides
            return Grant(Step(cached), granted=verdict is Admission.ALLOW)
        grants: list[Grant] = []

        def change(current: BreakerState) -> Step:
            grants.clear()
            grants.append(br.acquire(current, now=now, policy=policy))
            return grants[0].step

        step, _ = self.backend.transact(provider_id, change)
        self._remember(step.state, self.clock())
        return grants[0]

    def record(self, provider_id: str, outcome: Outcome, *, now: float) -> Transition | None:
        policy = self.policy(provider_id)
        failed = not outcome.success and outcome.counts
        cached = self.state(provider_id, now=now)
        start = br.bucket_start(now, policy, cached.counts_since)
        self.backend.increment(
            provider_id,
            start=start,
            shard=self.shard,
            calls=1,
            failures=1 if failed else 0,
            slow=1 if outcome.duration_s >= policy.slow_call_s else 0,
            expire_at=start + policy.window_s + 3600.0,
            failed_at=now if failed else None,
            succeeded_at=now if outcome.success else None,
        )
        if cached.override is not None:
            return None
        slow = outcome.duration_s >= policy.slow_call_s
        if cached.state is CircuitState.HALF_OPEN and outcome.probe:
            return self._judge(provider_id, outcome, now=now, buckets=())
        if cached.state is not CircuitState.CLOSED or not (failed or slow):
            return None  # a success cannot open it: no window read on the happy path
        local = self._local_window(provider_id, outcome, cached, now=now, policy=policy)
        seen = br.window(local, now=now, policy=policy, since=cached.counts_since)
        if (
            br.judge(replace(cached, buckets=local), outcome, now=now, policy=policy).transition
            is None
            and seen.failures < policy.failure_threshold
            and seen.slow < policy.failure_threshold
        ):
            return None
        # This instance's view says open, or holds enough failures that the ratio decides, and
        # the ratio depends on every instance's calls: judge on the whole window.
        buckets = self._fetch_window(provider_id, now=now, policy=policy)
        if (
            br.judge(replace(cached, buckets=buckets), outcome, now=now, policy=policy).transition
            is None
        ):
            return None
        return self._judge(provider_id, outcome, now=now, buckets=buckets)

    def _local_window(
        self,
        provider_id: str,
        outcome: Outcome,
        cached: BreakerState,
        *,
        now: float,
        policy: BreakerPolicy,
    ) -> tuple[Bucket, ...]:
        """The window as last read (at most ``window_cache_s`` ago) plus this instance's own
        outcomes since: enough to notice trouble without a query per outcome."""
        with self._lock:
            hit = self._windows.get(provider_id)
        if hit is None or self.clock() - hit[0] >= self.window_cache_s:
            return self._fetch_window(provider_id, now=now, policy=policy)
        buckets = br.add_outcome(hit[1], outcome, now=now, policy=policy, since=cached.counts_since)
        with self._lock:
            self._windows[provider_id] = (hit[0], buckets)
        return buckets

    def _fetch_window(
        self, provider_id: str, *, now: float, policy: BreakerPolicy
    ) -> tuple[Bucket, ...]:
        tick = self.clock()
        buckets = self.backend.window(provider_id, since=now - policy.window_s)
        with self._lock:
            self._windows[provider_id] = (tick, buckets)
        self._summarize(provider_id, buckets, now=now)
        return buckets

    def refresh(self, provider_id: str, *, now: float) -> bool:
        """Bring the state document's summary fields up to date (the health check calls this
        every minute); True when they changed and were written."""
        policy = self.policy(provider_id)
        buckets = self.backend.window(provider_id, since=now - policy.window_s)
        return self._summarize(provider_id, buckets, now=now, fresh=True)

    def _summarize(
        self, provider_id: str, buckets: tuple[Bucket, ...], *, now: float, fresh: bool = False
    ) -> bool:
        policy = self.policy(provider_id)
        state = self.state(provider_id, now=now, fresh=fresh)
        summary = br.summarize(state, buckets, now=now, policy=policy)
        with self._lock:
            if self._summaries.get(provider_id) == summary:
                return False
            self._summaries[provider_id] = summary
        self.backend.summarize(
            provider_id, codec.summary_to_doc(summary, window_s=policy.window_s, now=now)
        )
        return True

    def _judge(
        self, provider_id: str, outcome: Outcome, *, now: float, buckets: tuple[Bucket, ...]
    ) -> Transition | None:
        policy = self.policy(provider_id)

        def change(current: BreakerState) -> Step:
            step = br.judge(replace(current, buckets=buckets), outcome, now=now, policy=policy)
            return Step(replace(step.state, buckets=()), step.transition)

        step, _ = self.backend.transact(provider_id, change)
        self._remember(step.state, self.clock())
        if step.transition is not None:
            self._summarize(provider_id, buckets or self._read_window(provider_id, now), now=now)
        return step.transition

    def _read_window(self, provider_id: str, now: float) -> tuple[Bucket, ...]:
        return self.backend.window(provider_id, since=now - self.policy(provider_id).window_s)

    def force(
        self,
        provider_id: str,
        action: ManualAction,
        *,
        by: str,
        reason: str,
        now: float,
        until: float | None = None,
    ) -> Transition | None:
        policy = self.policy(provider_id)
        step, _ = self.backend.transact(
            provider_id,
            lambda current: br.force(
                current, action, by=by, reason=reason, now=now, policy=policy, until=until
            ),
        )
        self._remember(step.state, self.clock())
        if step.transition is not None:
            self._summarize(provider_id, self._read_window(provider_id, now), now=now)
        return step.transition

    def transitions(self, *, since: float, limit: int = 50) -> list[Transition]:
        return self.backend.transitions(since=since, limit=limit)

    def window(self, provider_id: str, *, now: float) -> br.WindowCounts:
        policy = self.policy(provider_id)
        buckets = self.backend.window(provider_id, since=now - policy.window_s)
        self._summarize(provider_id, buckets, now=now)
        since = self.state(provider_id, now=now).counts_since
        return br.window(buckets, now=now, policy=policy, since=since)

    def _remember(self, state: BreakerState, tick: float) -> None:
        with self._lock:
            self._cache[state.provider_id] = _Cached(state, tick)
