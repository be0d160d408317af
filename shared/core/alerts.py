"""Alert episodes (DESIGN section 10): which conditions hold now, and how the stored ``alerts``
documents follow them — an episode starts when its condition first holds and is cleared when it
no longer does, so the dashboard shows when each started and cleared.

Pure: the health check passes in the provider stats, breaker states, the last hours' job
figures and the active episodes, and writes what comes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.core import breaker as br
from shared.core.scoring import ProviderStats

SUCCESS_TARGET = 0.95  # a provider's hourly success rate under this is an alert...
MIN_CALLS = 20  # ...over at least this many generations
LATENCY_FACTOR = 2.0  # p95 over this many typical render times is an alert...
MIN_LATENCY_CALLS = 5  # ...over at least this many generations in the last hour
JOB_FAILURE_RATE = 0.05  # more than this share of finished jobs failing is an alert...
MIN_JOBS = 10  # ...over at least this many finished jobs


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    kind: str  # low_success_rate | high_latency | circuit_open | job_failures
    provider_id: str | None
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.provider_id or 'all'}"


def low_success(s: ProviderStats) -> Condition | None:
    """A provider's success rate in the last hour under the target, over enough calls to mean
    something."""
    if s.calls_1h < MIN_CALLS or s.successes_1h / s.calls_1h >= SUCCESS_TARGET:
        return None
    rate = s.successes_1h / s.calls_1h
    return Condition(
        kind="low_success_rate",
        provider_id=s.provider_id,
        message=f"{s.provider_id}: success rate {rate:.1%} in the last hour, "
        f"under the {SUCCESS_TARGET:.1%} target",
        fields={"successRate1h": rate},
    )


def conditions(
    stats: Mapping[str, ProviderStats],
    states: Mapping[str, br.BreakerState],
    typical_render_s: Mapping[str, float],
    jobs: Mapping[str, Any],
) -> list[Condition]:
    """Every alert condition that holds now. ``jobs``: job counts of the last hours (an
    `analytics` rollup's ``jobs``)."""
    out: list[Condition] = []
    for pid in sorted(stats):
        s = stats[pid]
        low = low_success(s)
        if low is not None:
            out.append(low)
        limit = LATENCY_FACTOR * typical_render_s.get(pid, 120.0)
        p95 = s.latency_p95_s
        if p95 is not None and s.calls_1h >= MIN_LATENCY_CALLS and p95 > limit:
            out.append(
                Condition(
                    kind="high_latency",
                    provider_id=pid,
                    message=f"{pid}: p95 render time {p95:.0f} s, over {limit:.0f} s",
                    fields={"latencyP95": p95, "limit": limit},
                )
            )
    for pid in sorted(states):
        state = states[pid]
        if state.state is br.CircuitState.OPEN:
            manual = state.override is not None
            out.append(
                Condition(
                    kind="circuit_open",
                    provider_id=pid,
                    message=f"circuit open for {pid}"
                    + (" (manual)" if manual else "")
                    + f": {state.last_reason}",
                    fields={"manual": manual},
                )
            )
    finished = int(jobs.get("finished") or 0)
    failed = int(jobs.get("failed") or 0)
    if finished >= MIN_JOBS and failed / finished > JOB_FAILURE_RATE:
        out.append(
            Condition(
                kind="job_failures",
                provider_id=None,
                message=f"{failed} of {finished} jobs failed in the last hours "
                f"(over {JOB_FAILURE_RATE:.0%})",
                fields={"failed": failed, "finished": finished},
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    started: tuple[tuple[str, dict[str, Any]], ...]  # (document id, document)
    cleared: tuple[tuple[str, dict[str, Any]], ...]
    new: tuple[Condition, ...]  # the conditions whose episode starts now (to log as alerts)


def reconcile(
    active: Sequence[Mapping[str, Any]], holding: Sequence[Condition], *, now: float
) -> Changes:
    """Start an episode for each condition without an active one; clear each active episode
    whose condition no longer holds. ``active``: the active episodes' documents."""
    by_scope = {str(d.get("scope")): (str(d.get("alertId")), d) for d in active}
    started: list[tuple[str, dict[str, Any]]] = []
    new: list[Condition] = []
    for c in holding:
        if c.scope in by_scope:
            continue
        doc_id = f"{c.scope}:{int(now)}"
        doc = {
            "alertId": doc_id,
            "scope": c.scope,
            "kind": c.kind,
            "providerId": c.provider_id,
            "message": c.message,
            "fields": dict(c.fields),
            "active": True,
            "startedAt": now,
            "clearedAt": None,
        }
        started.append((doc_id, doc))
        new.append(c)
    holding_scopes = {c.scope for c in holding}
    cleared = [
        (doc_id, {**d, "active": False, "clearedAt": now})
        for scope, (doc_id, d) in sorted(by_scope.items())
        if scope not in holding_scopes
    ]
    return Changes(started=tuple(started), cleared=tuple(cleared), new=tuple(new))


def view(docs: Sequence[Mapping[str, Any]], *, now: float, day: float = 86_400.0) -> dict[str, Any]:
    """Active episodes (newest first), then those cleared in the last day."""

    def public(d: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("kind", "providerId", "message", "active", "startedAt", "clearedAt")
        return {k: d.get(k) for k in keys}

    ordered = sorted(docs, key=lambda d: float(d.get("startedAt") or 0.0), reverse=True)
    return {
        "active": [public(d) for d in ordered if d.get("active")],
        "recent": [
            public(d)
            for d in ordered
            if not d.get("active") and float(d.get("clearedAt") or 0.0) > now - day
        ],
    }
