"""The load benchmark's arithmetic: percentiles, server count deltas, and the charge check that
decides "paid twice"."""

from __future__ import annotations

import math

import pytest

from bench.load import (
    Phase,
    charge_checks,
    counts_delta,
    first_time_successes,
    goal_lines,
    percentile,
    total,
)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_counts_delta_keeps_only_what_changed_between_snapshots() -> None:
    before = {"reads": {"functions": 3, "health checks": 1}, "writes": {"functions": 2}}
    after = {
        "reads": {"functions": 10, "health checks": 1, "other": 4},
        "writes": {"functions": 8},
        "attempts": {"functions": 3},
    }
    delta = counts_delta(before, after)
    assert delta == {
        "reads": {"other": 4, "functions": 7},
        "writes": {"functions": 6},
        "transactions": {},
        "attempts": {"functions": 3},
    }
    assert total(delta, "reads") == 11


def _attempt(provider: str, outcome: str | None, render: str | None) -> dict[str, object]:
    return {"providerId": provider, "outcome": outcome, "providerJobId": render}


def test_a_charge_with_no_render_in_any_job_is_reported_as_paid_twice() -> None:
    docs = [
        {"status": "completed", "providerHistory": [_attempt("heygen", "completed", "h1")]},
        {
            "status": "completed",
            "providerHistory": [
                _attempt("heygen", "render_failed", "h2"),  # billed, then failed: accounted
                _attempt("did", "completed", "d1"),
            ],
        },
        {"status": "completed", "providerHistory": [_attempt("did", "api_failure", None)]},
    ]
    checks = {c.provider: c for c in charge_checks({"heygen": 2, "did": 2}, docs)}
    assert checks["heygen"].unaccounted == 0
    assert (checks["heygen"].completed, checks["heygen"].failed_renders) == (1, 1)
    assert checks["did"].accepted == 1
    assert checks["did"].unaccounted == 1  # two charges, one render: paid twice
    assert checks["runwayml"].charges == 0
    assert checks["runwayml"].unaccounted == 0


def test_first_time_successes_are_completed_jobs_with_one_attempt_and_no_degradation() -> None:
    docs: list[dict[str, object]] = [
        {"status": "completed", "providerHistory": [_attempt("did", "completed", "d")]},
        {"status": "completed", "degraded": True, "providerHistory": [_attempt("did", "c", "d")]},
        {"status": "failed", "providerHistory": [_attempt("did", "api_failure", None)]},
        {
            "status": "completed",
            "providerHistory": [_attempt("heygen", "timeout", None), _attempt("did", "c", "d")],
        },
    ]
    assert first_time_successes(docs) == 1


def _phase(
    name: str, jobs: int, ttc: float, reads: int, writes: int, rate: float | None = None
) -> Phase:
    docs = [
        {
            "status": "completed",
            "createdAt": 100.0,
            "updatedAt": 100.0 + ttc,
            "providerHistory": [_attempt("did", "completed", f"d{i}")],
        }
        for i in range(jobs)
    ]
    return Phase(
        name,
        jobs,
        rate=rate,
        answered=jobs,
        docs=docs,
        counts={"reads": {"x": reads * jobs}, "writes": {"x": writes * jobs}},
        charges={"did": jobs},
    )


def test_goal_lines_say_met_or_not_met_with_the_figures() -> None:
    serial = _phase("serial", 2, ttc=2.0, reads=5, writes=7)
    load = _phase("concurrent", 4, ttc=9.0, reads=6, writes=9)
    paced = _phase("paced", 3, ttc=3.5, reads=4, writes=6, rate=2.0)
    lines = goal_lines([serial, load, paced], latency=1.0)
    assert lines[0].startswith("met: 0 lost and 0 double-charged at 4 concurrent")
    assert lines[1].startswith("met: overhead")
    assert "1.00 s" in lines[1]
    assert lines[2].startswith("NOT met: overhead")
    assert "8.00 s" in lines[2]
    assert lines[3].startswith("met: overhead p95 under 3 s (10 % of a 30 s render), 3 at 2 per")
    assert "2.50 s" in lines[3]
    assert lines[4].startswith("met: at most 8 writes")
    assert "7.00 writes, 5.00 reads" in lines[4]
    assert lines[5].startswith("NOT met: at most 8 writes")
    assert lines[6].startswith("met: at most 8 writes")


def test_time_to_completion_runs_from_sending_the_call() -> None:
    """A call that waited 4 s for its answer counts those 4 s; an untimed job its creation."""
    phase = _phase("concurrent", 2, ttc=1.0, reads=1, writes=1)
    phase.docs[0]["jobId"], phase.docs[1]["jobId"] = "a", "b"
    phase.sent["a"] = 96.0  # the job was created at 100.0, done at 101.0
    assert phase.ttc() == [5.0, 1.0]
