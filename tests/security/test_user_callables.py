"""The user callables and the web app's aliases through the real handlers: every refusal is a
precise HttpsError (unauthenticated, invalid-argument, not-found, permission-denied,
failed-precondition, resource-exhausted), and the app's own call shape works as it calls."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.stores import base as stores
from shared.api.webapi import GenerateVideoResponse, IntroductionResponse, VideoStatusResponse
from tests.security.conftest import SCRIPT, Harness

APP_CV: dict[str, Any] = {
    "personalInfo": {"name": "Amara Okafor", "email": "amara@example.org", "age": 34},
    "summary": "I build payment systems that stay up when traffic doubles overnight.",
    "experience": [
        {
            "company": "Ledgerly",
            "position": "Backend Engineer",
            "duration": "3y",
            "startDate": "2021",
            "futureField": True,
        }
    ],
    "skills": {"technical": ["Python", "Go"], "soft": ["Mentoring"], "cloud": ["GCP"]},
    "someFieldTheAppAddsLater": {"x": 1},
}
APP_CALL = {
    "jobId": "cv-1",
    "duration": "short",
    "style": "friendly",
    "avatarStyle": "realistic",
    "background": "office",
    "includeSubtitles": True,
    "includeNameCard": True,
}


@pytest.fixture
def cv_job(harness: Harness) -> str:
    harness.db.put(stores.CV_JOBS, "cv-1", {"userId": "user-1", "parsedData": APP_CV})
    return "cv-1"


def test_the_app_call_shape_reads_the_cv_job_and_mirrors_the_video_job(
    harness: Harness, cv_job: str
) -> None:
    answer = harness.call("generateVideoIntroduction", APP_CALL, {})
    assert answer.status == 200, answer.body
    result = answer.json["result"]
    assert result["success"] is True
    assert result["jobId"] == "cv-1"
    job = harness.service.jobs.get(result["videoJobId"])
    assert job is not None
    assert job.cv_job_id == "cv-1"
    assert job.script.startswith("Hi there, I'm Amara Okafor")
    assert "amara@example.org" not in job.script
    cv = harness.db.coll(stores.CV_JOBS)["cv-1"]
    assert cv["videoStatus"] == "generating"
    assert cv["enhancedFeatures"]["videoIntroduction"]["status"] == "processing"
    status = harness.call("getVideoStatus", {"jobId": "cv-1"}, {})
    assert status.json["result"]["status"] == "generating"
    # The answers are the types the TypeScript client is generated from.
    IntroductionResponse.model_validate(result)
    VideoStatusResponse.model_validate(status.json["result"])


def test_regenerate_with_a_custom_script(harness: Harness, cv_job: str) -> None:
    data = {"jobId": "cv-1", "customScript": SCRIPT}
    answer = harness.call("regenerateVideoIntroduction", data, {})
    assert answer.status == 200, answer.body
    job = harness.service.jobs.get(answer.json["result"]["videoJobId"])
    assert job is not None
    assert job.script == SCRIPT
    assert harness.db.coll(stores.CV_JOBS)["cv-1"]["videoStatus"] == "regenerating"


@pytest.mark.parametrize(
    ("name", "data", "claims", "status"),
    [
        ("generateVideoIntroduction", APP_CALL, None, "UNAUTHENTICATED"),
        ("generateVideoIntroduction", {**APP_CALL, "jobId": "nope"}, {}, "NOT_FOUND"),
        ("generateVideoIntroduction", APP_CALL, {"uid": "mallory"}, "NOT_FOUND"),
        ("generateVideoIntroduction", {**APP_CALL, "duration": 90}, {}, "INVALID_ARGUMENT"),
        ("generateVideoIntroduction", {"duration": "short"}, {}, "INVALID_ARGUMENT"),
        ("getVideoStatus", {"jobId": "cv-1"}, {"uid": "mallory"}, "NOT_FOUND"),
        ("cancelVideoJob", {"jobId": "nope"}, {}, "NOT_FOUND"),
        ("cancelVideoJob", {"jobId": "x", "extra": 1}, {}, "INVALID_ARGUMENT"),
        ("cancelVideoJob", {}, {}, "INVALID_ARGUMENT"),
        ("retryVideoJob", {"jobId": "nope"}, {}, "NOT_FOUND"),
        ("retryVideoJob", {"jobId": "a/b"}, {}, "INVALID_ARGUMENT"),
        ("getVideoQuota", {"x": 1}, {}, "INVALID_ARGUMENT"),
        ("getVideoQuota", None, None, "UNAUTHENTICATED"),
    ],
)
def test_every_refusal_is_precise(
    harness: Harness, cv_job: str, name: str, data: Any, claims: Any, status: str
) -> None:
    answer = harness.call(name, data, claims)
    assert answer.json["error"]["status"] == status, answer.body


def test_a_cv_job_without_parsed_data_is_a_failed_precondition(harness: Harness) -> None:
    harness.db.put(stores.CV_JOBS, "cv-2", {"userId": "user-1", "status": "pending"})
    answer = harness.call("generateVideoIntroduction", {"jobId": "cv-2"}, {})
    assert answer.json["error"]["status"] == "FAILED_PRECONDITION"
    assert "CV data not found" in answer.json["error"]["message"]
    harness.db.put(stores.CV_JOBS, "cv-3", {"userId": "user-1", "parsedData": {"summary": 7}})
    bad = harness.call("generateVideoIntroduction", {"jobId": "cv-3"}, {})
    assert bad.json["error"]["status"] == "FAILED_PRECONDITION"
    assert bad.json["error"]["details"][0]["field"] == "parsedData.summary"


def test_cancel_then_retry_through_the_handlers(harness: Harness) -> None:
    made = harness.call("generateVideo", {"script": SCRIPT}, {}).json["result"]
    GenerateVideoResponse.model_validate(made)
    other = harness.call("cancelVideoJob", {"jobId": made["jobId"]}, {"uid": "mallory"})
    assert other.json["error"]["status"] == "NOT_FOUND"
    early = harness.call("retryVideoJob", {"jobId": made["jobId"]}, {})
    assert early.json["error"]["status"] == "FAILED_PRECONDITION"
    cancelled = harness.call("cancelVideoJob", {"jobId": made["jobId"]}, {}).json["result"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["providerCancelled"] is False
    again = harness.call("cancelVideoJob", {"jobId": made["jobId"]}, {}).json["result"]
    assert again["status"] == "cancelled"
    retried = harness.call("retryVideoJob", {"jobId": made["jobId"]}, {}).json["result"]
    assert retried["retryOf"] == made["jobId"]
    assert retried["status"] == "queued"
    twice = harness.call("retryVideoJob", {"jobId": made["jobId"]}, {}).json["result"]
    assert twice["jobId"] == retried["jobId"]
    assert twice["deduplicated"] is True


def test_the_tier_names_the_limit_and_the_quota_says_what_is_left(harness: Harness) -> None:
    long = {"script": SCRIPT, "options": {"duration": "long", "qualityLevel": "premium"}}
    refused = harness.call("generateVideo", long, {})
    error = refused.json["error"]
    assert error["status"] == "PERMISSION_DENIED"
    fields = {d["field"] for d in error["details"]}
    assert fields == {"options.duration", "options.qualityLevel"}
    assert "free tier" in error["message"]
    assert harness.call("generateVideo", long, {"tier": "premium"}).status == 200
    quota = harness.call("getVideoQuota", {}, {"tier": "premium"}).json["result"]
    assert quota["tier"] == "premium"
    assert quota["usedThisHour"] == 1
    assert "long" in quota["limits"]["durations"]
    assert quota["remaining"] >= 1
    free = harness.call("getVideoQuota", None, {}).json["result"]
    assert free["limits"]["durations"] == ["short", "medium"]
