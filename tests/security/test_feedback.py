"""RateVideo — the owner of a finished video rates it 1-5, once, with a precise
HttpsError for everything else; the rating lands on the metrics and in the provider's stats."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.stores import base as stores
from shared.core.jobs import Job, JobStatus, VideoResult
from shared.core.records import derived
from shared.shell.health import refresh_stats
from tests.support.harness import Harness

ADA = {"uid": "ada"}


def _job(harness: Harness, job_id: str, status: JobStatus, user: str = "ada") -> None:
    now = harness.shell.ports.clock()
    job = Job(
        job_id=job_id,
        created_at=now - 300,
        updated_at=now - 10,
        deadline_at=now + 1500,
        user_id=user,
        status=status,
        provider_id="did",
        attempt=1,
        result=VideoResult(video_url="https://cdn.test/v.mp4")
        if status is JobStatus.COMPLETED
        else None,
    )
    harness.shell.ports.jobs.create(job, side=derived(None, job))


def test_the_owner_rates_a_finished_video_once(harness: Harness) -> None:
    _job(harness, "vj_done", JobStatus.COMPLETED)
    answer = harness.call("rateVideo", {"jobId": "vj_done", "rating": 4}, ADA)
    assert answer.status == 200, answer.body
    assert answer.json["result"]["rating"] == 4
    stored = harness.db.coll(stores.METRICS)["feedback-vj_done"]
    assert (stored["operationType"], stored["providerId"], stored["userSatisfaction"]) == (
        "feedback",
        "did",
        4.0,
    )
    again = harness.call("rateVideo", {"jobId": "vj_done", "rating": 1}, ADA)
    assert again.status == 409, again.body
    assert again.error["status"] == "ALREADY_EXISTS"
    assert harness.db.coll(stores.METRICS)["feedback-vj_done"]["userSatisfaction"] == 4.0
    shell = harness.shell
    refresh_stats(
        shell, "did", shell.ports.providers["did"], shell.ports.clock()
    )  # the health check's part
    stats = harness.shell.ports.docs.get(stores.STATS, "did")
    assert stats is not None
    assert (stats["userSatisfaction"], stats["satisfactionSamples"]) == (4.0, 1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"jobId": "vj_done", "rating": 0}, "rating"),
        ({"jobId": "vj_done", "rating": 6}, "rating"),
        ({"jobId": "vj_done", "rating": "5"}, "rating"),
        ({"jobId": "vj_done", "rating": 4.5}, "rating"),
        ({"rating": 3}, "jobId"),
        ({"jobId": "vj_done", "rating": 3, "comment": "x"}, "comment"),
    ],
)
def test_a_bad_rating_is_invalid_argument_naming_the_field(
    harness: Harness, data: dict[str, Any], field: str
) -> None:
    _job(harness, "vj_done", JobStatus.COMPLETED)
    answer = harness.call("rateVideo", data, ADA)
    assert answer.status == 400, answer.body
    assert answer.error["status"] == "INVALID_ARGUMENT"
    assert [d["field"] for d in answer.error["details"]] == [field]


def test_only_the_owner_of_a_finished_video_may_rate(harness: Harness) -> None:
    _job(harness, "vj_bob", JobStatus.COMPLETED, user="bob")
    _job(harness, "vj_running", JobStatus.PROCESSING)
    cases = [
        ({"jobId": "vj_bob", "rating": 5}, ADA, 404, "NOT_FOUND"),
        ({"jobId": "vj_missing", "rating": 5}, ADA, 404, "NOT_FOUND"),
        ({"jobId": "vj_running", "rating": 5}, ADA, 400, "FAILED_PRECONDITION"),
        ({"jobId": "vj_bob", "rating": 5}, None, 401, "UNAUTHENTICATED"),
    ]
    for data, claims, status, code in cases:
        answer = harness.call("rateVideo", data, claims)
        assert answer.status == status, answer.body
        assert answer.error["status"] == code
    assert not any(k.startswith("feedback-") for k in harness.db.coll(stores.METRICS))
