"""The dashboard object as a pure view over loaded documents."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from shared.adapters.providers import did, heygen, runwayml
from shared.core import breaker as br
from shared.core import dashboard
from shared.core.jobs import Job, JobError, JobStatus

NOW = 50_000.0
CAPS = (heygen.CAPABILITIES, did.CAPABILITIES, runwayml.CAPABILITIES)


def loaded(
    states: tuple[br.CircuitState, ...] = (br.CircuitState.CLOSED,) * 3,
    stats: tuple[dict[str, object], ...] = ({}, {}, {}),
    logs: tuple[dict[str, object], ...] = (),
    failed: tuple[Job, ...] = (),
) -> dashboard.Loaded:
    return dashboard.Loaded(
        now=NOW,
        providers=[
            dashboard.ProviderDocs(
                capabilities=caps,
                stats={"providerId": caps.provider_id, **doc},
                state=br.BreakerState(provider_id=caps.provider_id, state=state),
                window=br.WindowCounts(calls=4, failures=1, slow=0) if i == 0 else None,
            )
            for i, (caps, state, doc) in enumerate(zip(CAPS, states, stats, strict=True))
        ],
        recovery_logs=logs,
        failed_jobs=failed,
        transitions=(
            br.Transition(
                provider_id="did",
                from_state=br.CircuitState.CLOSED,
                to_state=br.CircuitState.OPEN,
                reason="auth",
                at=NOW - 5,
            ),
        ),
    )


def test_an_empty_system_shows_no_made_up_figures() -> None:
    """Before any traffic every rate is None, never a constant."""
    view = dashboard.view(loaded())
    assert view["overallHealth"] == {
        "systemReliability": None,
        "averageResponseTime": None,
        "totalProviders": 3,
        "healthyProviders": 3,
    }
    recovery = view["errorRecovery"]
    assert isinstance(recovery, dict)
    assert recovery["successRate"] is None
    assert recovery["totalRecoveries"] == 0


def test_figures_come_from_the_stats_logs_and_jobs() -> None:
    """Reliability is successes over calls of the last day; recoveries are counted by kind."""
    failed = Job(
        job_id="j1",
        created_at=NOW,
        deadline_at=NOW,
        status=JobStatus.FAILED,
        error=JobError(code="deadline_exceeded", message="late", retryable=True),
    )
    view = dashboard.view(
        loaded(
            stats=(
                {"calls24h": 10, "successes24h": 9, "latencyP50": 100.0},
                {"calls24h": 10, "successes24h": 7, "latencyP50": 50.0},
                {},
            ),
            logs=(
                {
                    "errorCategory": "timeout",
                    "recoveryAction": "retry_same_provider",
                    "success": True,
                    "totalRecoveryTime": 30.0,
                },
                {"errorCategory": "timeout", "recoveryAction": "fail", "success": False},
            ),
            failed=(failed,),
        )
    )
    health = view["overallHealth"]
    assert isinstance(health, dict)
    assert health["systemReliability"] == 0.8
    assert health["averageResponseTime"] == 75.0
    recovery = view["errorRecovery"]
    assert isinstance(recovery, dict)
    assert recovery["byCategory"] == {"timeout": 2}
    assert recovery["byAction"] == {"retry_same_provider": 1, "fail": 1}
    assert recovery["successRate"] == 0.5
    assert recovery["averageRecoveryTime"] == 30.0
    assert view["failedJobs"] == [
        {
            "jobId": "j1",
            "userId": "",
            "error": {"code": "deadline_exceeded", "message": "late"},
            "providers": [],
            "attempts": 0,
            "updatedAt": None,
        }
    ]
    performance = view["performance"]
    assert isinstance(performance, dict)
    first = performance["providers"][0]
    assert first["window"] == {"calls": 4, "failures": 1, "slow": 0}
    assert first["calls24h"] == 10
    assert "providerId" in first


@given(st.tuples(*(st.sampled_from(list(br.CircuitState)) for _ in CAPS)))
def test_every_circuit_is_counted_once(states: tuple[br.CircuitState, ...]) -> None:
    circuits = dashboard.view(loaded(states=states))["circuitBreaker"]
    assert isinstance(circuits, dict)
    counted = circuits["openCircuits"] + circuits["halfOpenCircuits"] + circuits["closedCircuits"]
    assert counted == circuits["totalProviders"] == len(CAPS)


def test_todays_spend_and_the_cap_are_shown_as_stored() -> None:
    """Billed, reserved by unfinished jobs, the cap (reached on billed + reserved), and the
    per-minute brake with the jobs counted against it this minute."""
    assert dashboard.view(loaded())["spend"] == {
        "todayUsd": 0.0,
        "renders": 0,
        "reservedUsd": 0.0,
        "committedUsd": 0.0,
        "capUsd": None,
        "capReached": False,
        "jobsPerMinute": None,
        "jobsThisMinute": 0,
    }
    today = {
        "billedUsd": 41.0,
        "renders": 30,
        "reservedUsd": 9.0,
        "minute": int(NOW // 60),
        "minuteJobs": 7,
    }
    over = replace(loaded(), spend_today=today, spend_cap_usd=50.0, jobs_per_minute=60)
    assert dashboard.view(over)["spend"] == {
        "todayUsd": 41.0,
        "renders": 30,
        "reservedUsd": 9.0,
        "committedUsd": 50.0,
        "capUsd": 50.0,
        "capReached": True,
        "jobsPerMinute": 60,
        "jobsThisMinute": 7,
    }
