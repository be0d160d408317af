"""Finished videos kept in our bucket, in-process: the service with the in-memory stores, the real
adapters over HTTP against the provider simulator (whose video URLs expire), and a videos whose
download is real and whose bucket is a dict. Also what a user gets with HeyGen and D-ID out: a
video RunwayML's avatar speaks."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.adapters import media
from shared.adapters.providers.base import WebhookRequest
from shared.adapters.storage import (
    CopyPolicy,
    DeliveryError,
    Kept,
    MemoryBucket,
    thumbnail_name,
    video_name,
)
from shared.core.breaker import ManualAction
from shared.core.degradation import Degradation
from shared.core.jobs import JobStatus
from shared.core.model import Duration, Feature
from shared.shell import admin, processing, webhooks
from tests.support.memory import World, submitted_on_heygen
from tools.provider_sim.common import spoken_seconds


@pytest.fixture
def videos(live: World) -> Iterator[MemoryBucket]:
    kept = MemoryBucket(
        bucket="cvplus-test-videos", policy=CopyPolicy(trusted_origins=(live.sim.url,))
    )
    live.plug(videos=kept)
    yield kept
    kept.http.close()


def provider_file(live: World, provider_job_id: str, provider: str, ext: str) -> bytes:
    """What the simulated provider serves for the render (its URL, never expired)."""
    assert live.sim is not None
    url = f"{live.sim.url}/_files/{provider}/{provider_job_id}.{ext}?expires=1e12"
    return httpx.get(url, timeout=5.0).content


def test_a_finished_video_is_ours_before_the_job_completes(
    live: World, videos: MemoryBucket
) -> None:
    """The job's URL plays our copy, never the provider's expiring URL; the bytes are the
    provider's video, and the thumbnail came along."""
    job = live.run(live.new_job().job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    name = video_name(job.user_id, job.job_id)
    assert job.result.storage_path == f"gs://cvplus-test-videos/{name}"
    assert job.result.video_url.startswith(f"memory://cvplus-test-videos/{name}?token=")
    provider, render = job.provider_id or "", job.history[-1].provider_job_id or ""
    assert videos.objects[name] == provider_file(live, render, provider, "mp4")
    if job.result.thumbnail_url is not None:  # HeyGen hands out a thumbnail
        assert job.result.thumbnail_path == (
            f"gs://cvplus-test-videos/{thumbnail_name(job.user_id, job.job_id)}"
        )


def test_a_provider_url_that_expired_before_the_copy_fails_the_job_clearly(
    live: World, videos: MemoryBucket
) -> None:
    """Every URL the providers hand out has already expired (the copy comes too late): one more
    status poll for a fresh URL, then the job fails with video_expired. No dead link is
    stored, and the error says the video was made."""
    for provider in ("heygen", "did", "runwayml"):
        live.sim.configure(provider, url_ttl_s=-1.0)
    job = live.run(live.new_job().job_id)
    assert job.status is JobStatus.FAILED
    assert job.result is None
    assert job.error is not None
    assert job.error.code == "video_expired"
    assert "was made but could not be kept" in job.error.message
    assert "403" in job.error.message
    assert videos.objects == {}
    stats = live.sim.stats()
    assert sum(stats[p]["charges"] for p in ("heygen", "did", "runwayml")) == 1  # paid once


def test_a_copy_that_fails_on_our_side_is_tried_again_until_it_succeeds(
    live: World, videos: MemoryBucket
) -> None:
    """Our bucket is down when the render finishes: the job waits (the render is paid and
    fine), and the next look copies it, with a fresh URL."""
    videos.down = True
    job = live.run(live.new_job().job_id, rounds=4)
    assert job.status is JobStatus.PROCESSING  # rendered, not copied, not given up
    assert job.provider_job_id is not None
    assert job.result is None
    videos.down = False
    job = live.run(job.job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert job.result.storage_path is not None
    stats = live.sim.stats()
    assert sum(stats[p]["charges"] for p in ("heygen", "did", "runwayml")) == 1


def test_with_heygen_and_did_out_the_user_gets_a_speaking_runwayml_video(
    live: World, videos: MemoryBucket
) -> None:
    """RunwayML's presenter avatar speaks the whole script: voice and lip-sync kept, the
    length asked for kept, only 1080p lowered to the 720p it is declared for (recorded), and
    the video kept in our bucket like any other."""
    for provider in ("heygen", "did"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="outage")
    job = live.run(live.new_job().job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.provider_id == "runwayml"
    assert job.degradations == (Degradation.RESOLUTION_1080P_TO_720P,)
    assert job.options.features == frozenset({Feature.VOICE, Feature.LIP_SYNC})
    assert job.options.duration is Duration.MEDIUM
    assert job.result is not None
    assert job.result.storage_path is not None
    assert job.result.duration_s == spoken_seconds(job.script)  # it said the whole script
    assert live.sim.stats()["runwayml"]["counters"]["avatars_created"] == 1
    assert live.sim.stats()["runwayml"]["charges"] == 1


def test_with_heygen_and_did_out_a_job_without_fallback_fails_at_once(
    live: World, videos: MemoryBucket
) -> None:
    """A job that does not allow fallback is never degraded, not even to RunwayML's 720p: it
    fails, saying why."""
    for provider in ("heygen", "did"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="outage")
    job = live.run(live.new_job(allow_fallback=False).job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "no_capable_provider"
    assert "runwayml: cannot do resolution 1080p" in job.error.message
    assert job.attempt == 0  # nothing was submitted, nothing paid
    assert videos.objects == {}


class ExpiresOnce(MemoryBucket):
    """The first URL it is given has expired by the time it copies (a 403 from the provider)."""

    def __init__(self, sim_url: str) -> None:
        super().__init__(bucket="cvplus-test-videos", policy=CopyPolicy(trusted_origins=(sim_url,)))
        self.sources: list[str] = []

    def keep(self, source_url: str, name: str) -> Kept:
        self.sources.append(source_url)
        if len(self.sources) == 1:
            raise DeliveryError("the provider's URL answered 403: expired or gone", expired=True)
        return super().keep(source_url, name)


def test_an_expired_url_is_fetched_anew_and_the_copy_succeeds(live: World) -> None:
    """The retry: one more status poll hands out a fresh URL, which is copied."""
    videos = ExpiresOnce(live.sim.url)
    live.plug(videos=videos)
    job = live.run(live.new_job().job_id)
    videos.http.close()
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert job.result.storage_path is not None
    first, fresh = videos.sources[:2]
    assert first != fresh  # a new presigned URL for the same video
    assert first.split("?")[0] == fresh.split("?")[0]


def notice_for(live: World, provider: str, render_id: str) -> dict[str, Any]:
    """The provider's callback about ``render_id`` (a render of an earlier test may still call
    back after the simulator's reset)."""
    for count in range(1, 20):
        entries = live.sim.wait_inbox(f"providerWebhook/{provider}", count=count)
        mine = [e for e in entries if render_id in e["body"]]
        if mine:
            return mine[0]
    pytest.fail(f"no callback about {render_id}")


def _notified(live: World) -> tuple[str, WebhookRequest]:
    """A job on HeyGen whose render finished, and the webhook HeyGen sent for it."""
    job = submitted_on_heygen(live)
    entry = notice_for(live, "heygen", job.provider_job_id or "")
    request = WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )
    return job.job_id, request


def test_a_webhook_answers_at_once_and_the_jobs_next_task_keeps_the_video(
    live: World, videos: MemoryBucket
) -> None:
    """The verified notice is recorded and answered without copying the video (tens of MB
    inside HeyGen's request risk its timeout and its retries); the job's next task, due now,
    copies it and completes the job; a duplicate copies nothing. Before: the webhook copied
    the video before it answered."""
    job_id, request = _notified(live)
    assert webhooks.on_webhook(live.shell, "heygen", request) == "render done; fetching the video"
    assert videos.objects == {}
    assert any(t[0] == job_id and t[2] == "fetch the video" for t in live.tasks.tasks)
    done = live.run(job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    assert done.result.storage_path == f"gs://cvplus-test-videos/{video_name('user-1', job_id)}"
    copies = dict(videos.objects)
    assert webhooks.on_webhook(live.shell, "heygen", request).startswith("ignored")
    assert videos.objects == copies


def test_a_webhook_whose_url_expired_is_made_good_by_a_poll_with_a_fresh_url(
    live: World, videos: MemoryBucket
) -> None:
    """D-ID's notice carries a URL that has expired: the body is not trusted (the talk is
    confirmed with GET /talks/{id}), the job is due now, and its poll copies the fresh URL the
    status hands out."""
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID only")
    job = processing.process(live.shell, live.new_job().job_id)
    assert job is not None
    assert job.provider_id == "did"
    entry = notice_for(live, "did", job.provider_job_id or "")
    talk = json.loads(entry["body"])
    talk["result_url"] = re.sub(r"expires=[0-9.]+", "expires=0", talk["result_url"])
    late = WebhookRequest(
        body=json.dumps(talk).encode(), headers=entry["headers"], query=entry["query"]
    )
    assert webhooks.on_webhook(live.shell, "did", late) == "render done; fetching the video"
    waiting = live.shell.ports.jobs.get(job.job_id)
    assert waiting is not None
    assert waiting.status is JobStatus.PROCESSING
    assert any(t[0] == job.job_id and t[2] == "fetch the video" for t in live.tasks.tasks)
    done = live.run(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    assert done.result.storage_path is not None
    assert live.sim.stats()["did"]["charges"] == 1


def test_an_expired_url_whose_fresh_one_cannot_be_had_yet_is_tried_again_later(
    live: World,
) -> None:
    """The copy finds the URL expired and the provider's status call fails: inconclusive, so the
    render is not given up; the next look gets a fresh URL and the copy succeeds."""
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID only")
    videos = ExpiresOnce(live.sim.url)
    live.plug(videos=videos)
    live.sim.add_fault("did", "server_error", count=1, op="status", skip=1)
    job = live.run(live.new_job().job_id)
    videos.http.close()
    assert job.status is JobStatus.COMPLETED
    assert job.provider_id == "did"
    assert job.result is not None
    assert job.result.storage_path is not None
    assert len(videos.sources) == 2  # the expired URL, then the next look's fresh one
    stats = live.sim.stats()["did"]
    assert stats["counters"]["fault:server_error"] == 1  # the ask for a fresh URL failed
    assert stats["charges"] == 1


def test_a_delivered_file_without_its_voice_is_a_quality_failure_with_its_reason(
    live: World, videos: MemoryBucket
) -> None:
    """HeyGen says the render completed, of the right length, but the file it serves has no
    audio track: read from our copy, the file is refused as a quality failure whose reason is
    kept in the job's history, and the job completes with the next render instead. Before: the
    provider's word was the check, and a silent video was delivered for a job with a voice."""
    live.choose(webhook_base_url=None)
    live.sim.add_fault("heygen", "low_quality", count=1, mode="silent")
    job = submitted_on_heygen(live)
    done = live.run(job.job_id)
    assert done.history[0].outcome == "quality_failure"
    assert "no audio track" in done.history[0].message
    assert done.status is JobStatus.COMPLETED  # with the next render, which speaks
    assert done.history[-1].provider_job_id != job.provider_job_id
    container = media.read(io.BytesIO(videos.objects[video_name(done.user_id, done.job_id)]))
    assert container.audio


@pytest.mark.parametrize("honoured", [True, False])
def test_did_is_asked_for_the_photo_s_framing_and_a_face_crop_is_never_delivered(
    live: World, videos: MemoryBucket, honoured: bool
) -> None:
    """D-ID's documented default is a 512x512 face crop; the adapter asks for config.stitch
    (unconfirmed). Honoured: the talk has the 16:9 frame and the job completes with it, one
    charge. Ignored: the crop is refused by the file check (reason kept) and the job completes
    with HeyGen's video instead; no wrong-shaped video is delivered either way."""
    live.sim.configure("did", honour_stitch=honoured)
    for provider in ("heygen", "runwayml"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="D-ID first")
    first = processing.process(live.shell, live.new_job().job_id)
    assert first is not None
    assert first.provider_id == "did"
    admin.set_circuit(live.shell, "heygen", ManualAction.RESET, by="test", reason="fallback")
    done = live.run(first.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    assert done.result.storage_path is not None
    name = video_name(done.user_id, done.job_id)
    container = media.read(io.BytesIO(videos.objects[name]))
    assert (container.width, container.height) == (1920, 1080)
    charges = {p: live.sim.stats()[p]["charges"] for p in ("heygen", "did", "runwayml")}
    if honoured:
        assert done.provider_id == "did"
        assert charges == {"heygen": 0, "did": 1, "runwayml": 0}
    else:
        assert done.provider_id == "heygen"
        assert done.history[0].outcome == "quality_failure"
        assert "512x512" in done.history[0].message
        assert charges == {"heygen": 1, "did": 1, "runwayml": 0}
