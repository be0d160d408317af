"""The demo's pure parts: its requests are valid and fit their duration, and its tables say what
the job documents say."""

from __future__ import annotations

from shared.api.requests import WORD_BUDGET, parse_generate_video
from shared.core.model import Duration
from tools.demo import (
    charge_rows,
    demo_requests,
    history_text,
    paid_not_used,
    progress_line,
    recovery_rows,
    tally,
    unplayable,
)


def test_every_demo_request_is_valid_and_its_script_fits_the_duration() -> None:
    requests = demo_requests(20)
    assert len({r["requestId"] for r in requests}) == 20
    kinds = {"script" in r for r in requests}
    assert kinds == {True, False}  # both hand-written scripts and parsed CVs
    for data in requests:
        request = parse_generate_video(data)
        duration = Duration(data["options"]["duration"])
        words = len(request.effective_script().split())
        assert words <= WORD_BUDGET[duration], (duration, words)
        assert words >= WORD_BUDGET[duration] * 0.7, (duration, words)  # not a stub


def _job(status: str, provider: str | None, history: list[dict[str, object]]) -> dict[str, object]:
    return {"jobId": "j", "status": status, "providerId": provider, "providerHistory": history}


def test_tally_and_the_progress_line_count_jobs_by_status_and_provider() -> None:
    docs = [
        _job("queued", None, []),
        _job("processing", "heygen", [{"providerId": "heygen", "outcome": None}]),
        _job("completed", "did", [{"providerId": "did", "outcome": "completed"}]),
        _job("failed", "did", []),
    ]
    statuses, providers = tally(docs)
    assert statuses == {"queued": 1, "processing": 1, "completed": 1, "failed": 1}
    assert providers["heygen"]["processing"] == 1
    assert providers["did"]["completed"] == 1
    line = progress_line(3.0, docs, total=6)
    assert "queued  3" in line  # two asked for but not yet seen count as queued
    assert "HeyGen 1/0" in line
    assert "D-ID 0/1/1✗" in line


def test_history_text_shows_each_provider_tried_and_how_it_ended() -> None:
    doc = _job(
        "completed",
        "did",
        [
            {"providerId": "heygen", "outcome": "api_failure"},
            {"providerId": "did", "outcome": "completed"},
        ],
    )
    assert history_text(doc) == "heygen ✗ api_failure → did ✓"
    assert history_text(_job("queued", None, [])) == "-"


def test_recovery_rows_count_by_category_action_and_outcome() -> None:
    logs = [
        {"errorCategory": "api_failure", "recoveryAction": "switch_provider", "success": True},
        {"errorCategory": "api_failure", "recoveryAction": "switch_provider", "success": True},
        {"errorCategory": "timeout", "recoveryAction": "fail", "success": False},
    ]
    assert recovery_rows(logs) == [
        ["api_failure", "switch_provider", "recovered", 2],
        ["timeout", "fail", "not recovered", 1],
    ]


def test_charge_rows_put_the_simulators_bill_beside_the_renders_jobs_record() -> None:
    docs = [
        _job(
            "completed",
            "did",
            [
                {"providerId": "heygen", "outcome": "api_failure", "providerJobId": None},
                {"providerId": "did", "outcome": "completed", "providerJobId": "t1"},
            ],
        )
    ]
    stats = {"did": {"charges": 1, "charged_usd": 1.05}, "heygen": {"charges": 0}}
    rows = {row[0]: row for row in charge_rows(stats, docs)}
    assert rows["D-ID"] == ["D-ID", 1, "$1.05", 1, 1]
    assert rows["HeyGen"] == ["HeyGen", 0, "$0.00", 0, 0]


def test_unplayable_names_each_completed_job_without_a_playable_copy() -> None:
    """A completed job plays when it has a storagePath and its URL serves bytes."""
    served = {"http://s/ok": b"RIFF video", "http://s/empty": b""}
    docs = [
        {
            "jobId": "ok",
            "status": "completed",
            "videoUrl": "http://s/ok",
            "storagePath": "gs://b/1",
        },
        {"jobId": "provider-url", "status": "completed", "videoUrl": "http://s/ok"},
        {
            "jobId": "gone",
            "status": "completed",
            "videoUrl": "http://s/x",
            "storagePath": "gs://b/2",
        },
        {
            "jobId": "empty",
            "status": "completed",
            "videoUrl": "http://s/empty",
            "storagePath": "gs://b",
        },
        {"jobId": "failed", "status": "failed"},
    ]
    assert unplayable(docs, served.get) == ["provider-url", "gone", "empty"]


def test_renders_paid_and_not_used_are_charges_no_job_completed_with() -> None:
    """HeyGen charged 3 and completed 2 jobs, D-ID charged 1 and completed 1: one wasted."""
    stats = {"heygen": {"charges": 3}, "did": {"charges": 1}, "runwayml": {"charges": 0}}
    docs = [
        {"status": "completed", "providerId": "heygen"},
        {"status": "completed", "providerId": "heygen"},
        {"status": "completed", "providerId": "did"},
        {"status": "failed", "providerId": "heygen"},
    ]
    assert paid_not_used(stats, docs) == 1
