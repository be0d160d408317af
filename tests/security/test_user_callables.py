"""The user callables and the web app's aliases through the real handlers: every refusal is a
precise HttpsError (unauthenticated, invalid-argument, not-found, permission-denied,
failed-precondition, resource-exhausted), and the app's own call shape works as it calls."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.stores import base as stores
from shared.api.webapi import (
    GenerateVideoResponse,
    GenerationStatusResponse,
    MediaStatusResponse,
    VideoStatusResponse,
)
from tests.support.harness import SCRIPT, Harness

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


PREMIUM = {"tier": "premium"}
LIFETIME = {"lifetimeAccess": True, "features": {"videoIntroduction": True}}


@pytest.fixture
def cv_job(harness: Harness) -> str:
    harness.db.put(stores.CV_JOBS, "cv-1", {"userId": "user-1", "parsedData": APP_CV})
    harness.db.put("userSubscriptions", "user-1", LIFETIME)
    return "cv-1"


def test_the_app_call_shape_reads_the_cv_job_and_mirrors_the_video_job(
    harness: Harness, cv_job: str
) -> None:
    """Not ready within the wait (0 s here): deadline-exceeded in words, the job goes on."""
    answer = harness.call("generateVideoIntroduction", APP_CALL, {})
    assert answer.error["status"] == "DEADLINE_EXCEEDED", answer.body
    assert answer.error["message"].startswith("Your video is still being made (0% done)")
    details = answer.error["details"]
    assert details["jobId"] == "cv-1"
    assert details["status"] == "queued"
    job = harness.shell.ports.jobs.get(details["videoJobId"])
    assert job is not None
    assert job.cv_job_id == "cv-1"
    assert job.script.startswith("Hi there, I'm Amara Okafor")
    assert "amara@example.org" not in job.script
    cv = harness.db.coll(stores.CV_JOBS)["cv-1"]
    assert cv["videoStatus"] == "generating"
    assert cv["enhancedFeatures"]["videoIntroduction"]["status"] == "processing"
    assert job.tier.value == "premium"  # from the app's own subscription document
    status = harness.call("getVideoStatus", {"jobId": "cv-1"}, {})
    assert status.json["result"]["status"] == "generating"
    media = harness.call("getMediaStatus", {"jobId": "cv-1"}, {}).json["result"]
    assert (media["status"], media["progress"], media["videoJobId"]) == ("queued", 0, job.job_id)
    # The answers are the types the TypeScript client is generated from.
    VideoStatusResponse.model_validate(status.json["result"])
    MediaStatusResponse.model_validate(media)


def test_a_user_the_app_does_not_entitle_is_refused_as_its_guard_refused(
    harness: Harness, cv_job: str
) -> None:
    harness.db.put("userSubscriptions", "user-1", {"lifetimeAccess": False})
    answer = harness.call("generateVideoIntroduction", APP_CALL, {})
    assert answer.error["status"] == "PERMISSION_DENIED"
    assert answer.error["message"] == (
        "This feature requires lifetime premium access. Please upgrade to access "
        "'videoIntroduction'."
    )
    harness.db.put("userSubscriptions", "user-1", {"lifetimeAccess": True, "features": {}})
    answer = harness.call("regenerateVideoIntroduction", APP_CALL, {})
    assert answer.error["message"].startswith("Your premium subscription does not include")
    premium = harness.call("generateVideoIntroduction", APP_CALL, {"tier": "premium"})
    assert premium.error["status"] == "DEADLINE_EXCEEDED"  # the claim stays an override


def test_the_multimedia_services_shape_answers_a_job_at_once_and_cancels_it(
    harness: Harness, cv_job: str
) -> None:
    data = {
        "cvData": {"personalInfo": {"name": "Ada"}, "experience": [{"title": "CTO"}]},
        "options": {"style": "casual", "duration": "short", "quality": "medium"},
    }
    answer = harness.call("generateVideoIntroduction", data, {})
    assert answer.status == 200, answer.body
    job_id = answer.json["result"]["jobId"]
    job = harness.shell.ports.jobs.get(job_id)
    assert job is not None
    assert job.options.resolution.value == "720p"
    assert job.script.startswith("Hi there, I'm Ada")
    status = harness.call("getGenerationStatus", {"jobId": job_id}, {}).json["result"]
    assert (status["status"], status["stage"], status["result"]) == ("queued", "queued", None)
    other = harness.call("getGenerationStatus", {"jobId": job_id}, {"uid": "mallory"})
    assert other.error["status"] == "NOT_FOUND"
    cancelled = harness.call("cancelGeneration", {"jobId": job_id}, {}).json["result"]
    assert cancelled["status"] == "cancelled"
    GenerationStatusResponse.model_validate(status)


def test_regenerate_with_a_custom_script(harness: Harness, cv_job: str) -> None:
    data = {"jobId": "cv-1", "customScript": SCRIPT}
    answer = harness.call("regenerateVideoIntroduction", data, {})
    assert answer.error["status"] == "DEADLINE_EXCEEDED", answer.body
    job = harness.shell.ports.jobs.get(answer.error["details"]["videoJobId"])
    assert job is not None
    assert job.script == SCRIPT
    assert harness.db.coll(stores.CV_JOBS)["cv-1"]["videoStatus"] == "regenerating"


@pytest.mark.parametrize(
    ("name", "data", "claims", "status"),
    [
        ("generateVideoIntroduction", APP_CALL, None, "UNAUTHENTICATED"),
        ("generateVideoIntroduction", {**APP_CALL, "jobId": "nope"}, PREMIUM, "NOT_FOUND"),
        # Another user's CV job is not found, as a missing one is (no existence oracle).
        ("generateVideoIntroduction", APP_CALL, {**PREMIUM, "uid": "mallory"}, "NOT_FOUND"),
        ("generateVideoIntroduction", APP_CALL, {"uid": "mallory"}, "PERMISSION_DENIED"),
        ("getMediaStatus", {"jobId": "cv-1"}, {"uid": "mallory"}, "NOT_FOUND"),
        ("getGenerationStatus", {"jobId": "nope"}, {}, "NOT_FOUND"),
        ("cancelGeneration", {"jobId": "nope"}, {}, "NOT_FOUND"),
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
    """And a CV with nothing to say is refused naming what it lacks."""
    harness.db.put("userSubscriptions", "user-1", LIFETIME)
    harness.db.put(stores.CV_JOBS, "cv-2", {"userId": "user-1", "status": "pending"})
    answer = harness.call("generateVideoIntroduction", {"jobId": "cv-2"}, {})
    assert answer.json["error"]["status"] == "FAILED_PRECONDITION"
    assert "CV data not found" in answer.json["error"]["message"]
    thin = {"personalInfo": {"name": None}, "summary": None, "experience": None, "skills": []}
    harness.db.put(stores.CV_JOBS, "cv-3", {"userId": "user-1", "parsedData": thin})
    bad = harness.call("generateVideoIntroduction", {"jobId": "cv-3"}, {})
    assert bad.json["error"]["status"] == "FAILED_PRECONDITION"
    assert bad.json["error"]["message"].startswith(
        "The CV has nothing to introduce you with: it holds no name, summary, experience"
    )
    fields = [d["field"] for d in bad.json["error"]["details"]]
    assert fields[:2] == ["parsedData.personalInfo.name", "parsedData.summary"]


def test_cancel_then_retry_through_the_handlers(harness: Harness) -> None:
    made = harness.call("generateVideo", {"script": SCRIPT}, {}).json["result"]
    GenerateVideoResponse.model_validate(made)
    other = harness.call("cancelVideoJob", {"jobId": made["jobId"]}, {"uid": "mallory"})
    missing = harness.call("cancelVideoJob", {"jobId": "vj_missing"}, {"uid": "mallory"})
    assert other.json["error"]["status"] == "NOT_FOUND"
    # Word for word what a missing job answers, but for the id asked about.
    assert other.json["error"]["message"].replace(made["jobId"], "?") == missing.json["error"][
        "message"
    ].replace("vj_missing", "?")
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
