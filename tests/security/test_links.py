"""Download links and deletion (shared/shell/links.py): a link's token is random per object and
an admin can rotate it, so a leaked link can be revoked; and the owner deletes their video, which
leaves neither the bucket objects nor the job's links behind."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.adapters.storage import MemoryBucket, thumbnail_name, video_name
from shared.adapters.stores import base as stores
from shared.adapters.stores import codec
from shared.core import orchestration as orch
from shared.core.jobs import Job, JobStatus, VideoResult
from tests.support.harness import Harness

JOB = "vj_" + "2" * 32
ADMIN = {
    "uid": "ops-1",
    "admin": True,
    "email": "ops@example.org",
    "firebase": {"sign_in_second_factor": "totp"},
}


def token(url: str | None) -> str:
    assert url is not None
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.fixture
def videos(harness: Harness) -> MemoryBucket:
    """A bucket holding user-1's finished video and thumbnail, and the job that names them."""

    def source(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"\x89PNG\r\n\x1a\n" if "t" in request.url.path else b"v"
        )

    kept = MemoryBucket(
        bucket="cvplus-videos", http=httpx.Client(transport=httpx.MockTransport(source))
    )
    kept.policy = replace(kept.policy, resolve=lambda host, port: ["93.184.216.34"])
    video = kept.keep("https://resource.heygen.ai/v.mp4", video_name("user-1", JOB))
    thumb = kept.keep("https://resource.heygen.ai/t.jpg", thumbnail_name("user-1", JOB))
    now = harness.shell.ports.clock()
    job = Job(job_id=JOB, created_at=now, deadline_at=now + orch.JOB_TIMEOUT_S, user_id="user-1")
    result = VideoResult(
        video_url=video.url,
        thumbnail_url=thumb.url,
        storage_path=video.path,
        thumbnail_path=thumb.path,
    )
    job = replace(job, status=JobStatus.COMPLETED, result=result)
    harness.db.put(stores.JOBS, JOB, {**codec.job_to_doc(job), "lease": None})
    harness.shell.ports = replace(harness.shell.ports, videos=kept)
    return kept


def test_an_admin_rotates_a_videos_download_tokens_and_the_old_links_die(
    harness: Harness, videos: MemoryBucket
) -> None:
    """New random tokens for the video and its thumbnail; the job holds the new links; the old
    tokens are no longer the objects' (Firebase then refuses the old URLs)."""
    before = harness.db.coll(stores.JOBS)[JOB]
    old_video, old_thumb = token(before["videoUrl"]), token(before["thumbnailUrl"])
    answer = harness.call("rotateVideoLinks", {"jobId": JOB, "reason": "link leaked"}, ADMIN)
    assert answer.json["result"]["rotated"] == 2, answer.body
    after = harness.db.coll(stores.JOBS)[JOB]
    name = video_name("user-1", JOB)
    assert token(after["videoUrl"]) == videos.tokens[name] != old_video
    assert token(after["thumbnailUrl"]) == videos.tokens[thumbnail_name("user-1", JOB)] != old_thumb
    assert after["status"] == "completed"
    assert len(videos.tokens[name]) == 40


def test_only_an_admin_rotates_links(harness: Harness, videos: MemoryBucket) -> None:
    before = dict(videos.tokens)
    answer = harness.call("rotateVideoLinks", {"jobId": JOB, "reason": "mine"}, {"uid": "user-1"})
    assert answer.error["status"] == "PERMISSION_DENIED"
    assert videos.tokens == before


def test_the_owner_deletes_their_video_and_it_is_gone_from_the_bucket_and_the_job(
    harness: Harness, videos: MemoryBucket
) -> None:
    """deleteVideo: the video and thumbnail objects are removed and the job keeps no link or
    object name; asking again answers the same."""
    answer = harness.call("deleteVideo", {"jobId": JOB}, {"uid": "user-1"})
    assert answer.json["result"]["deleted"] is True, answer.body
    assert videos.objects == {}
    doc = harness.db.coll(stores.JOBS)[JOB]
    for field in ("videoUrl", "thumbnailUrl", "storagePath", "thumbnailStoragePath"):
        assert doc[field] is None
    job = harness.shell.ports.jobs.get(JOB)
    assert job is not None
    assert job.result is None or not job.result.video_url
    again = harness.call("deleteVideo", {"jobId": JOB}, {"uid": "user-1"})
    assert again.json["result"]["deleted"] is True


def test_no_one_else_deletes_a_video_and_a_running_job_is_cancelled_first(
    harness: Harness, videos: MemoryBucket
) -> None:
    """Someone else's id is not found (as a missing one); a job still rendering is refused."""
    foreign = harness.call("deleteVideo", {"jobId": JOB}, {"uid": "mallory"})
    assert foreign.error["status"] == "NOT_FOUND"
    assert len(videos.objects) == 2
    made = harness.call("generateVideo", {"script": "x " * 30}, {"uid": "user-1"})
    running = made.json["result"]["jobId"]
    refused = harness.call("deleteVideo", {"jobId": running}, {"uid": "user-1"})
    assert refused.error["status"] == "FAILED_PRECONDITION"
