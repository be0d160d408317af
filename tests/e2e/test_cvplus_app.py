"""The CVPlus web app's own call sites, each with its exact request, against the deployed
functions on the emulator stack; each test asserts every field its call site reads.

App sources (public): gilco1973/cvplus-frontend at 4f33b9e (FE), gilco1973/CVPLUS at a049d87
(ROOT, the last single-repo version; its frontend files are byte-identical to FE's)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.cvplus import LIFETIME, PARSER_CV
from tests.support.e2e import E2E, SCRIPT, request_id
from tools.stack.client import sign_up

pytestmark = pytest.mark.e2e

# FE src/services/features/MediaService.ts L19-27: what generateVideoIntroduction(jobId,
# duration, style) sends, with the dashboard's defaults.
GENERATE = {
    "duration": "medium",
    "style": "professional",
    "avatarStyle": "realistic",
    "background": "office",
    "includeSubtitles": True,
    "includeNameCard": True,
}
# FE src/components/features/VideoIntroduction.tsx L102-113 (its default settings), spread by
# MediaService.ts L38-42 after jobId and customScript (undefined arrives as null).
REGENERATE_OPTIONS = {
    "duration": "short",
    "style": "professional",
    "avatarStyle": "realistic",
    "background": "office",
    "qualityLevel": "standard",
    "urgency": "normal",
    "useAdvancedPrompts": True,
    "includeSubtitles": True,
    "includeNameCard": True,
    "provider": "heygen",
}


def _premium_cv_job(world: E2E, parsed: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """A user the app's guard entitles (userSubscriptions/{uid}), and a CV job of theirs."""
    uid, token = sign_up(world.http, world.stack.config, None)
    world.db.collection("userSubscriptions").document(uid).set({"userId": uid, **LIFETIME})
    cv_job = f"cv-{request_id()}"
    world.db.collection("jobs").document(cv_job).set(
        {"userId": uid, "status": "analyzed", "parsedData": parsed or PARSER_CV}
    )
    return uid, token, cv_job


def _result(world: E2E, name: str, data: Any, token: str) -> dict[str, Any]:
    answer = world.call(name, data, token)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def _cv_doc(world: E2E, cv_job: str, until: str = "completed") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        doc = world.db.collection("jobs").document(cv_job).get().to_dict() or {}
        if doc.get("videoStatus") == until or time.monotonic() > deadline:
            return doc
        time.sleep(0.25)


def _plays(world: E2E, url: str) -> None:
    assert url.startswith(world.stack.config.cloud_storage.url)
    assert world.http.get(url).status_code == 200


def test_the_dashboards_generate_gets_the_video_object_it_checks(world: E2E) -> None:
    """FE src/components/features/FeatureDashboard.tsx L773-792: isVideoResult(result) &&
    result.video (L153-155), then video.videoUrl, thumbnailUrl, duration, script (L783-788)."""
    _, token, cv_job = _premium_cv_job(world)
    result = _result(world, "generateVideoIntroduction", {"jobId": cv_job, **GENERATE}, token)
    video = result["video"]
    assert isinstance(video, dict)
    _plays(world, video["videoUrl"])
    assert isinstance(video["thumbnailUrl"], str)
    assert video["duration"] > 0
    assert video["script"].startswith("Hello, I'm Amara Okafor")


def test_the_dashboards_regenerate_gets_the_video_object_it_checks(world: E2E) -> None:
    """FeatureDashboard.tsx L795-814: result.video, then video.videoUrl, thumbnailUrl,
    duration (L808-812); the request is MediaService.ts L38-42 with customScript undefined."""
    _, token, cv_job = _premium_cv_job(world)
    data = {"jobId": cv_job, "customScript": None, **REGENERATE_OPTIONS}
    result = _result(world, "regenerateVideoIntroduction", data, token)
    video = result["video"]
    _plays(world, video["videoUrl"])
    assert isinstance(video["thumbnailUrl"], str)
    assert video["duration"] > 0
    assert _cv_doc(world, cv_job)["video"]["regeneratedAt"]


def test_the_component_renderers_generate_reads_the_top_level_fields(world: E2E) -> None:
    """FE src/utils/componentRenderer.ts L202-215: top-level videoUrl, thumbnailUrl, duration,
    script, subtitles, provider, qualityScore (shown with toFixed(1), VideoIntroduction.tsx
    L556/L694: a number)."""
    _, token, cv_job = _premium_cv_job(world)
    data = {"jobId": cv_job, **GENERATE, "duration": "medium", "style": "professional"}
    result = _result(world, "generateVideoIntroduction", data, token)
    _plays(world, result["videoUrl"])
    assert isinstance(result["thumbnailUrl"], str)
    assert result["duration"] > 0
    assert result["script"] == result["video"]["script"]
    assert isinstance(result["subtitles"], str)
    assert result["provider"] in ("heygen", "did", "runwayml")
    assert 0 < result["qualityScore"] <= 10


def test_the_component_renderers_regenerate_with_a_custom_script(world: E2E) -> None:
    """componentRenderer.ts L223-232: top-level videoUrl, thumbnailUrl, duration of
    regenerateVideoIntroduction(jobId, customScript, options)."""
    _, token, cv_job = _premium_cv_job(world)
    data = {"jobId": cv_job, "customScript": SCRIPT, **REGENERATE_OPTIONS, "duration": "medium"}
    result = _result(world, "regenerateVideoIntroduction", data, token)
    _plays(world, result["videoUrl"])
    assert isinstance(result["thumbnailUrl"], str)
    assert result["duration"] > 0
    assert result["script"] == SCRIPT


def test_the_two_second_status_poll_reads_a_string_status_until_completed(world: E2E) -> None:
    """componentRenderer.ts L240-249 (onGetStatus), polled every 2000 ms by VideoIntroduction.tsx
    L149-173 until 'completed' or 'failed': provider, status, progress, currentStep,
    estimatedTime (seconds), qualityScore, error; the original's per-medium overview
    (cvplus-multimedia src/backend/functions/mediaGeneration.ts L229-243) under media."""
    _, token, cv_job = _premium_cv_job(world)
    before = _result(world, "getMediaStatus", {"jobId": cv_job}, token)
    assert before["status"] == "queued"
    _result(world, "generateVideoIntroduction", {"jobId": cv_job, **GENERATE}, token)
    status = _result(world, "getMediaStatus", {"jobId": cv_job}, token)
    assert status["status"] == "completed"
    assert status["progress"] == 100
    assert status["currentStep"] == "Your video is ready"
    assert status["provider"] in ("heygen", "did", "runwayml")
    assert status["estimatedTime"] is None
    assert 0 < status["qualityScore"] <= 10
    assert status["error"] is None
    assert status["media"]["video"] == {"status": "completed", "hasAudio": True, "error": None}
    assert status["media"]["podcast"]["status"] == "pending"


def test_the_multimedia_services_generate_gets_a_job_id_at_once(world: E2E) -> None:
    """FE src/microservices/multimedia-ui/services/MultimediaService.ts L308-325: {cvData,
    options} answered with result.data.jobId, then getGenerationStatus (L350-366: status,
    progress, stage, estimatedTimeRemaining, result.url/duration/size/format, error)."""
    _, token, _ = _premium_cv_job(world)
    data = {
        "cvData": {
            "id": "cv-1",
            "userId": "ignored",
            "personalInfo": {"name": "Ada Lovelace", "email": "ada@example.org"},
            "experience": [{"title": "CTO", "company": "Engines", "duration": "3y"}],
            "education": [{"degree": "BSc", "institution": "UCL", "year": "2015"}],
            "skills": ["Python", "Go"],
        },
        "options": {
            "style": "professional",
            "duration": "short",
            "avatarStyle": "professional",
            "background": "office",
            "includeSubtitles": True,
            "includeNameCard": True,
            "quality": "high",
            "orientation": "landscape",
        },
    }
    started = time.monotonic()
    job_id = _result(world, "generateVideoIntroduction", data, token)["jobId"]
    assert time.monotonic() - started < 10  # at once, not after the render
    world.wait(job_id)
    status = _result(world, "getGenerationStatus", {"jobId": job_id}, token)
    assert status["status"] == "completed"
    assert status["progress"] == 100
    assert status["stage"] == "completed"
    assert status["estimatedTimeRemaining"] is None
    _plays(world, status["result"]["url"])
    assert status["result"]["duration"] > 0
    assert status["result"]["format"] == "mp4"
    assert "size" in status["result"]
    assert status["error"] is None


def test_the_multimedia_services_cancel_stops_the_job(world: E2E) -> None:
    """MultimediaService.ts L391-392: cancelGeneration({jobId}); its answer is not read, the
    job's status afterwards is (getGenerationStatus)."""
    _, token, _ = _premium_cv_job(world)
    for provider in ("heygen", "did", "runwayml"):  # renders that take a minute
        answer = world.http.post(
            f"{world.sim}/_control/config", json={"provider": provider, "latency_s": 60}
        )
        answer.raise_for_status()
    data = {"cvData": {"personalInfo": {"name": "Ada"}, "skills": ["Go"]}, "options": {}}
    job_id = _result(world, "generateVideoIntroduction", data, token)["jobId"]
    _result(world, "cancelGeneration", {"jobId": job_id}, token)
    status = _result(world, "getGenerationStatus", {"jobId": job_id}, token)
    assert status["status"] == "cancelled"
    assert status["error"]["code"] == "cancelled"
    assert status["error"]["recoverable"] is True


def test_a_cv_as_the_parser_writes_it_becomes_a_video_mirrored_into_its_cv_job(
    world: E2E,
) -> None:
    """ROOT functions/src/services/cvParser.ts L177-250 (nulls, numbers, long text stored as
    is): read, made into a video, and mirrored into jobs/{id} as the original wrote it
    (ROOT functions/src/functions/generateVideoIntroduction.ts L98-133), the dashboard's media
    tab data included (FeatureDashboard.tsx L753-756)."""
    _, token, cv_job = _premium_cv_job(world, PARSER_CV)
    result = _result(world, "generateVideoIntroduction", {"jobId": cv_job, **GENERATE}, token)
    doc = _cv_doc(world, cv_job)
    assert doc["videoStatus"] == "completed"
    intro = doc["enhancedFeatures"]["videoIntroduction"]
    assert intro["status"] == "completed"
    assert intro["provider"] == result["provider"]
    assert intro["estimatedCost"] > 0
    assert doc["video"]["url"] == result["videoUrl"]
    assert doc["video"]["script"].startswith("Hello, I'm Amara Okafor, a Principal Engineer")
    assert doc["enhancedFeatures"]["media"]["data"]["video"]["videoUrl"] == result["videoUrl"]
    assert doc["parsedData"]["experience"][0]["endDate"] is None  # merged, not replaced


def test_a_user_the_apps_guard_does_not_entitle_is_refused_in_its_words(world: E2E) -> None:
    """ROOT functions/src/middleware/premiumGuard.ts L30-49: permission-denied, "This feature
    requires lifetime premium access. Please upgrade to access 'videoIntroduction'."."""
    uid, token = sign_up(world.http, world.stack.config, None)
    cv_job = f"cv-{request_id()}"
    world.db.collection("jobs").document(cv_job).set({"userId": uid, "parsedData": PARSER_CV})
    answer = world.call("generateVideoIntroduction", {"jobId": cv_job, **GENERATE}, token)
    error = answer.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"] == (
        "This feature requires lifetime premium access. Please upgrade to access "
        "'videoIntroduction'."
    )


def test_options_the_provider_that_made_the_video_cannot_honour_are_in_the_jobs_notes(
    world: E2E,
) -> None:
    """MultimediaService.ts L69-78 options ``orientation: 'square'``, ``background: 'studio'``,
    ``includeNameCard``, ``includeSubtitles``: with HeyGen out, D-ID makes the video in 16:9 and
    the job says so, with the background and the name card, in words; the WebVTT captions are
    in our bucket beside the video and cover the script."""
    _, token, _ = _premium_cv_job(world)
    world.circuit("heygen", "open", "the square video goes elsewhere")
    data = {
        "cvData": {"personalInfo": {"name": "Ada Lovelace"}, "skills": ["Python", "Go"]},
        "options": {
            "duration": "short",
            "background": "studio",
            "includeSubtitles": True,
            "includeNameCard": True,
            "orientation": "square",
        },
    }
    job_id = _result(world, "generateVideoIntroduction", data, token)["jobId"]
    doc = world.wait(job_id)
    assert doc["status"] == "completed"
    assert doc["providerId"] in ("did", "runwayml")
    assert doc["options"]["aspectRatio"] == "16:9"
    assert "Made in landscape (16:9) instead of square." in doc["degradationNotes"]
    assert (
        "Made with the presenter's usual backdrop: a studio background is not available from "
        "the studio that made it." in doc["degradationNotes"]
    )
    assert (
        "Made without a name card: none of our video studios can show one."
        in (doc["degradationNotes"])
    )
    assert doc["subtitlesStoragePath"].endswith(f"/{job_id}.vtt")
    captions = world.http.get(doc["subtitlesUrl"])
    assert captions.status_code == 200
    blocks = captions.text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    words = " ".join(b.split("\n", 2)[2] for b in blocks[1:]).split()
    assert words == doc["script"].replace("&", "&amp;").split()
