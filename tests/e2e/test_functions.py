"""The deployed functions end to end, over HTTP, on the local emulator stack: Google's Firestore,
Functions and Auth emulators (Firestore triggers from the emulator), the Cloud Tasks emulator
and the provider simulator."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time

import pytest

from shared.adapters import media
from tests.support.cvplus import LIFETIME
from tests.support.e2e import E2E, SCRIPT, USER_LIMIT, WEBHOOK_WAIT_S, request_id
from tools.provider_sim.common import spoken_seconds
from tools.stack.client import sign_up

pytestmark = pytest.mark.e2e


def test_a_video_is_generated_end_to_end(world: E2E) -> None:
    """generateVideo -> trigger -> provider -> signed webhook -> completed, with its reasons."""
    queued = world.generate(world.user(), requestId=request_id())
    assert queued["status"] == "queued"
    assert queued["deduplicated"] is False
    job = world.wait(queued["jobId"])
    assert job["status"] == "completed"
    bucket = world.stack.config.video_bucket
    assert job["storagePath"] == f"gs://{bucket}/videos/{job['userId']}/{job['jobId']}.mp4"
    played = world.http.get(job["videoUrl"])  # our copy, from the Cloud Storage emulator
    assert job["videoUrl"].startswith(world.stack.config.cloud_storage.url)
    assert played.status_code == 200
    render = f"{job['providerJobId']}.mp4"
    assert played.content == world.provider_file(job["providerId"], render)  # its video, an MP4
    container = media.read(io.BytesIO(played.content))
    assert (container.width, container.height, container.audio) == (1920, 1080, True)
    assert job["providerId"] in ("heygen", "did")
    # The reasons are internals: in the admin-only document, not in the one its owner reads.
    assert "selectionReasoning" not in job
    internal = world.db.collection("enhanced_video_jobs_internal").document(job["jobId"]).get()
    assert (internal.to_dict() or {})["selectionReasoning"]
    assert job["stage"] == "completed"
    assert job["progress"] == 100
    assert job["degraded"] is False
    assert job["attempt"] == 1


def test_a_video_whose_provider_url_expired_before_the_copy_fails_clearly(world: E2E) -> None:
    """Every URL the providers hand out has already expired: a fresh one is asked for, then
    the job fails with video_expired, and no dead link is stored."""
    for provider in ("heygen", "did"):
        answer = world.http.post(
            f"{world.sim}/_control/config", json={"provider": provider, "url_ttl_s": -1.0}
        )
        answer.raise_for_status()
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "video_expired"
    assert "link to it expired" in job["error"]["message"]  # plain words for the user
    internal = world.db.collection("enhanced_video_jobs_internal").document(job["jobId"]).get()
    assert "403" in (internal.to_dict() or {})["error"]["message"]  # the cause, for admins
    assert job["videoUrl"] is None
    assert job["storagePath"] is None


def test_jobs_complete_elsewhere_when_heygen_fails_and_its_breaker_opens(world: E2E) -> None:
    """HeyGen answers 500: every job completes on D-ID, HeyGen's circuit opens, logs written."""
    world.fault("heygen", "server_error", count=1000)
    tokens = [world.user() for _ in range(4)]
    ids: list[str] = []
    state: dict[str, object] = {}
    for batch in range(4):  # selection spreads jobs: send until HeyGen has failed enough
        ids += [world.generate(tokens[batch], requestId=request_id())["jobId"] for _ in range(4)]
        jobs = [world.wait(job_id) for job_id in ids]
        snap = world.db.collection("circuit_breaker_states").document("heygen").get()
        state = snap.to_dict() or {}
        if state.get("state") == "open":
            break
    assert state.get("state") == "open", state
    assert [j["status"] for j in jobs] == ["completed"] * len(ids)
    assert {j["providerId"] for j in jobs} == {"did"}
    failed_over = [j for j in jobs if j["providerHistory"][0]["providerId"] == "heygen"]
    assert len(failed_over) >= 5  # HeyGen's threshold
    for j in failed_over:
        log = world.db.collection("error_recovery_logs").document(j["jobId"]).get().to_dict()
        assert log["originalProvider"] == "heygen"
        assert log["finalProvider"] == "did"
        assert log["success"] is True


def test_with_heygen_and_did_out_the_user_gets_a_speaking_runwayml_video(world: E2E) -> None:
    """HeyGen's and D-ID's circuits open: RunwayML's presenter avatar (made by the deployed
    function, once) speaks the whole script; the video is ours, 720p recorded as the only
    step down, voice and lip-sync kept."""
    world.circuit("heygen", "open", "outage")
    world.circuit("did", "open", "outage")
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"], timeout_s=90.0)
    assert job["status"] == "completed", job
    assert job["providerId"] == "runwayml"
    assert job["options"]["features"] == ["lip_sync", "voice"]
    assert job["options"]["duration"] == "medium"
    assert job["degradations"] == ["resolution 1080p -> 720p"]
    assert job["durationSeconds"] == spoken_seconds(SCRIPT)  # it said the whole script
    played = world.http.get(job["videoUrl"])
    assert played.content == world.provider_file("runwayml", f"{job['providerJobId']}.mp4")
    stats = world.http.get(f"{world.sim}/_control/stats").json()["runwayml"]
    assert stats["counters"]["avatars_created"] == 1
    assert stats["charges"] == 1


def test_a_429_is_retried_no_earlier_than_its_retry_after(world: E2E) -> None:
    """With HeyGen the only way, its Retry-After is waited out by a Cloud Task."""
    world.circuit("did", "open", "keep the job on HeyGen")
    world.circuit("runwayml", "open", "keep the job on HeyGen")
    world.fault("heygen", "rate_limit", count=1, retry_after=4)
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"])
    assert job["status"] == "completed"
    first, second = job["providerHistory"]
    assert first["outcome"] == "rate_limit"
    assert second["providerId"] == "heygen"
    assert second["startedAt"] >= first["endedAt"] + 4.0


def test_a_forged_webhook_gets_401_and_changes_nothing(world: E2E) -> None:
    """A failure notice for a live render, signed with the wrong secret, is refused."""
    world.http.post(
        f"{world.sim}/_control/config", json={"provider": "heygen", "latency_s": 3.0}
    ).raise_for_status()
    world.circuit("did", "open", "keep the job on HeyGen")
    queued = world.generate(world.user(), requestId=request_id())
    job_id = queued["jobId"]
    deadline = time.monotonic() + 20
    while not world.job(job_id).get("providerJobId"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    before = world.job(job_id)
    body = json.dumps(
        {
            "event_type": "avatar_video.fail",
            "event_data": {
                "video_id": before["providerJobId"],
                "callback_id": job_id,
                "msg": "forged",
            },
        }
    ).encode()
    forged = hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    answer = world.http.post(
        world.stack.config.function_url("providerWebhook") + "/heygen",
        content=body,
        headers={"Content-Type": "application/json", "Signature": forged},
    )
    assert answer.status_code == 401
    after = world.job(job_id)
    assert after["providerHistory"] == before["providerHistory"]
    assert after["status"] == "processing"
    assert world.wait(job_id)["status"] == "completed"


def test_a_duplicated_webhook_makes_one_transition(world: E2E) -> None:
    """The simulator delivers the completion twice; the job completes once."""
    world.circuit("did", "open", "keep the job on HeyGen")
    world.fault("heygen", "webhook_duplicate", count=1)
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"])
    assert job["status"] == "completed"
    # Both copies were delivered and answered (2xx: a duplicate is acknowledged, not retried).
    copies = world.deliveries(job["providerJobId"], count=2)
    assert [d["answer"] for d in copies] == [200, 200]
    again = world.job(queued["jobId"])
    assert again["updatedAt"] == job["updatedAt"]
    completions = [
        m
        for m in world.docs("provider_metrics", jobId=queued["jobId"])
        if m["success"] and m["videoQuality"] is not None
    ]
    assert len(completions) == 1


def test_a_lost_webhook_is_made_good_by_the_deadline_poll(world: E2E) -> None:
    """No callback comes; the task at the deadline polls HeyGen and completes the job."""
    world.circuit("did", "open", "keep the job on HeyGen")
    world.fault("heygen", "webhook_lost", count=1)
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"], timeout_s=WEBHOOK_WAIT_S + 30)
    assert job["status"] == "completed"
    assert job["updatedAt"] - job["createdAt"] >= WEBHOOK_WAIT_S
    polls = [
        m
        for m in world.docs("provider_metrics", jobId=queued["jobId"])
        if m["operationType"] == "status_check" or m["videoQuality"] is not None
    ]
    assert polls


def test_an_invalid_request_is_refused_with_per_field_details(world: E2E) -> None:
    """invalid-argument, naming each bad field; unknown fields are rejected too."""
    answer = world.call(
        "generateVideo",
        {"script": "too short", "options": {"duration": "forever"}, "colour": "blue"},
        world.user(),
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    fields = {d["field"] for d in error["details"]}
    assert {"script", "options.duration", "colour"} <= fields


def test_a_call_without_sign_in_is_unauthenticated(world: E2E) -> None:
    """No ID token, no job."""
    answer = world.call("generateVideo", {"script": SCRIPT}, None)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_a_repeated_request_id_returns_the_same_job(world: E2E) -> None:
    """The same user sending the same requestId gets the same job, marked deduplicated."""
    token, rid = world.user(), request_id()
    first = world.generate(token, requestId=rid)
    again = world.generate(token, requestId=rid)
    assert again["jobId"] == first["jobId"]
    assert again["deduplicated"] is True
    other = world.generate(world.user(), requestId=rid)
    assert other["jobId"] != first["jobId"]


def test_the_per_user_limit_answers_resource_exhausted(world: E2E) -> None:
    """Past USER_JOBS_PER_HOUR in an hour, a user is told to wait; a request repeated then
    (a client retrying a lost answer) still gets its job."""
    token = world.user()
    rids = [request_id() for _ in range(USER_LIMIT)]
    first, *_ = [world.generate(token, requestId=rid) for rid in rids]
    answer = world.call("generateVideo", {"script": SCRIPT, "requestId": request_id()}, token)
    assert answer.status_code == 429
    assert answer.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    again = world.generate(token, requestId=rids[0])
    assert (again["jobId"], again["deduplicated"]) == (first["jobId"], True)


@pytest.mark.parametrize("name", ["systemDashboard", "setCircuitState"])
def test_admin_callables_refuse_non_admins(world: E2E, name: str) -> None:
    """A signed-in user without the admin claim is denied; no one signed out gets in."""
    data = {"providerId": "heygen", "action": "open", "reason": "not allowed"}
    denied = world.call(name, data, world.user())
    assert denied.status_code == 403
    assert denied.json()["error"]["status"] == "PERMISSION_DENIED"
    assert world.call(name, data, None).json()["error"]["status"] == "UNAUTHENTICATED"
    state = world.db.collection("circuit_breaker_states").document("heygen").get()
    assert not state.exists or state.to_dict()["override"] is None


def test_an_admin_sees_the_dashboard_and_controls_a_circuit(world: E2E) -> None:
    """systemDashboard reports three providers; setCircuitState opens one, with the audit."""
    opened = world.circuit("runwayml", "open", "maintenance window")
    assert opened["state"] == "open"
    answer = world.call("systemDashboard", {}, world.admin_token)
    assert answer.status_code == 200, answer.text
    board = answer.json()["result"]
    providers = {p["providerId"]: p for p in board["performance"]["providers"]}
    assert set(providers) == {"heygen", "did", "runwayml"}
    assert providers["runwayml"]["circuitState"] == "open"
    assert providers["runwayml"]["override"]["reason"] == "maintenance window"
    latest = board["circuitBreaker"]["transitions"][0]
    assert latest["providerId"] == "runwayml"
    assert "maintenance window" in latest["reason"]


def test_a_did_render_whose_answer_was_lost_is_paid_once_and_delivered(world: E2E) -> None:
    """D-ID accepts the talk and the connection drops before its answer (D-ID honours no
    idempotency key). Through the deployed functions: the job is never resubmitted to D-ID,
    the talk's callback (naming attempt 1, with that attempt's token) completes the job, and
    D-ID billed one render."""
    world.circuit("heygen", "open", "keep the job on D-ID")
    world.circuit("runwayml", "open", "keep the job on D-ID")
    world.fault("did", "drop", count=1, op="submit")
    queued = world.generate(world.user(), requestId=request_id())
    job = world.wait(queued["jobId"])
    assert job["status"] == "completed", job
    assert job["providerId"] == "did"
    charges = world.http.get(f"{world.sim}/_control/stats").json()["did"]["charges"]
    assert charges == 1


def test_the_web_apps_own_call_makes_a_video_and_mirrors_it_into_its_cv_job(
    world: E2E,
) -> None:
    """generateVideoIntroduction as CVPlus calls it: the CV from jobs/{jobId}.parsedData, the
    video's progress and result in the fields of jobs/{jobId} the app watches."""
    uid, token = sign_up(world.http, world.stack.config, None)
    world.db.collection("userSubscriptions").document(uid).set(LIFETIME)
    cv_job = f"cv-{request_id()}"
    world.db.collection("jobs").document(cv_job).set(
        {
            "userId": uid,
            "status": "analyzed",
            "parsedData": {
                "personalInfo": {"name": "Amara Okafor", "email": "amara@example.org"},
                "summary": "I build payment systems that stay up when traffic doubles.",
                "experience": [{"company": "Ledgerly", "position": "Backend Engineer"}],
                "skills": {"technical": ["Python", "Go"], "cloud": ["GCP"]},
                "somethingNew": True,
            },
        }
    )
    call = {"jobId": cv_job, "duration": "short", "style": "friendly", "background": "office"}
    other = world.call("generateVideoIntroduction", call, world.user(tier="premium"))
    assert other.json()["error"]["status"] == "NOT_FOUND"  # someone else's, as a missing one
    answer = world.call("generateVideoIntroduction", call, token)
    assert answer.status_code == 200, answer.text
    video_job = answer.json()["result"]["videoJobId"]
    assert world.wait(video_job)["status"] == "completed"
    deadline = time.monotonic() + 30
    while True:
        doc = world.db.collection("jobs").document(cv_job).get().to_dict() or {}
        if doc.get("videoStatus") == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert doc["videoStatus"] == "completed"
    assert doc["video"]["url"].startswith("http")
    assert doc["video"]["script"].startswith("Hi there, I'm Amara Okafor")
    assert doc["enhancedFeatures"]["videoIntroduction"]["progress"] == 100
    assert doc["parsedData"]["personalInfo"]["name"] == "Amara Okafor"  # merged, not replaced
    status = world.call("getVideoStatus", {"jobId": cv_job}, token).json()["result"]
    assert status["status"] == "completed"


def test_the_breaker_document_keeps_the_original_fields_after_real_traffic(world: E2E) -> None:
    """Two 500s then successes on HeyGen: circuit_breaker_states/heygen shows failureCount,
    successCount, metrics, updatedAt and the latest failure and success times."""
    world.circuit("did", "open", "keep the jobs on HeyGen")
    world.circuit("runwayml", "open", "keep the jobs on HeyGen")
    token = world.user()
    for _ in range(2):  # one 500 per job, so each job's retry on HeyGen succeeds
        world.fault("heygen", "server_error", count=1)
        job_id = world.generate(token, requestId=request_id())["jobId"]
        # The retry after the 500 waits out the recovery table's backoff (up to a minute).
        assert world.wait(job_id, timeout_s=180.0)["status"] == "completed"
    answer = world.call("systemDashboard", {}, world.admin_token)  # reads every window
    assert answer.status_code == 200, answer.text
    doc = world.db.collection("circuit_breaker_states").document("heygen").get().to_dict()
    assert doc is not None
    assert doc["failureCount"] >= 2
    assert doc["successCount"] >= 2
    assert doc["metrics"]["totalRequests"] == doc["failureCount"] + doc["successCount"]
    assert doc["metrics"]["failedRequests"] == doc["failureCount"]
    assert doc["lastFailureTime"] < doc["lastSuccessTime"] <= doc["updatedAt"]
