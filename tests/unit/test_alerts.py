"""Latency and job-failure alerts beside the others, stored as episodes that
start and clear, shown on the dashboard with both times."""

from __future__ import annotations

from shared.core import alerts
from shared.core.breaker import BreakerState, CircuitState
from shared.core.scoring import ProviderStats

TYPICAL = {"heygen": 90.0, "did": 60.0}


def _stats(pid: str, **figures: object) -> ProviderStats:
    return ProviderStats(provider_id=pid, **figures)  # type: ignore[arg-type]


def test_every_kind_of_condition_is_found() -> None:
    holding = alerts.conditions(
        {
            "heygen": _stats("heygen", calls_1h=40, successes_1h=30, latency_p95_s=200.0),
            "did": _stats("did", calls_1h=40, successes_1h=40, latency_p95_s=100.0),
        },
        {"did": BreakerState(provider_id="did", state=CircuitState.OPEN, last_reason="5 fails")},
        TYPICAL,
        {"finished": 20, "failed": 2},
    )
    assert [c.scope for c in holding] == [
        "low_success_rate:heygen",
        "high_latency:heygen",
        "circuit_open:did",
        "job_failures:all",
    ]
    assert "200 s, over 180 s" in holding[1].message


def test_thin_samples_raise_nothing() -> None:
    holding = alerts.conditions(
        {"heygen": _stats("heygen", calls_1h=4, successes_1h=0, latency_p95_s=900.0)},
        {},
        TYPICAL,
        {"finished": 9, "failed": 9},
    )
    assert holding == []


def test_an_episode_starts_once_and_clears_when_its_condition_goes() -> None:
    slow = alerts.Condition(kind="high_latency", provider_id="did", message="slow")
    first = alerts.reconcile([], [slow], now=100.0)
    assert [doc["startedAt"] for _, doc in first.started] == [100.0]
    assert first.new == (slow,)
    active = [doc for _, doc in first.started]
    again = alerts.reconcile(active, [slow], now=160.0)
    assert (again.started, again.cleared, again.new) == ((), (), ())
    gone = alerts.reconcile(active, [], now=220.0)
    ((doc_id, cleared),) = gone.cleared
    assert doc_id == first.started[0][0]
    assert (cleared["active"], cleared["startedAt"], cleared["clearedAt"]) == (False, 100.0, 220.0)
    shown = alerts.view(
        [cleared, *[d for _, d in alerts.reconcile([], [slow], now=300.0).started]], now=400.0
    )
    assert [a["startedAt"] for a in shown["active"]] == [300.0]
    assert [(a["startedAt"], a["clearedAt"]) for a in shown["recent"]] == [(100.0, 220.0)]
    assert alerts.view([cleared], now=220.0 + 86_400.0 + 1)["recent"] == []
