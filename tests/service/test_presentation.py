"""The app's presentation options end to end in-process (the real adapters over HTTP against the
provider simulator, a videos whose bucket is a dict): the WebVTT captions beside the video in our
bucket, covering the script, and a job whose provider could not honour an option saying so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.adapters.storage import CopyPolicy, MemoryBucket, subtitles_name
from shared.core import userview
from shared.core.breaker import ManualAction
from shared.core.degradation import Degradation
from shared.core.jobs import JobStatus
from shared.core.model import AspectRatio, Background
from shared.core.presentation import Unhonoured
from shared.shell import admin, links
from tests.support.memory import SCRIPT, World


@pytest.fixture
def videos(live: World) -> Iterator[MemoryBucket]:
    kept = MemoryBucket(
        bucket="cvplus-test-videos", policy=CopyPolicy(trusted_origins=(live.sim.url,))
    )
    live.plug(videos=kept)
    yield kept
    kept.http.close()


def _cue_words(vtt: str) -> list[str]:
    blocks = vtt.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    return " ".join(block.split("\n", 2)[2] for block in blocks[1:]).split()


def test_a_job_that_asked_for_subtitles_has_a_webvtt_file_beside_its_video(
    live: World, videos: MemoryBucket
) -> None:
    """``videos/<uid>/<job>.vtt``, served as text/vtt; its cues are the script, word for word."""
    job = live.run(live.new_job(subtitles=True).job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    name = subtitles_name(job.user_id, job.job_id)
    assert job.result.subtitles_path == f"gs://cvplus-test-videos/{name}"
    assert job.result.subtitles_url is not None
    assert job.result.subtitles_url.startswith(f"memory://cvplus-test-videos/{name}?token=")
    assert videos.types[name] == "text/vtt; charset=utf-8"
    assert _cue_words(videos.objects[name].decode()) == SCRIPT.split()
    assert userview.mirror_doc(job)["video"]["subtitles"] == job.result.subtitles_url


def test_a_job_that_did_not_ask_for_subtitles_has_none(live: World, videos: MemoryBucket) -> None:
    job = live.run(live.new_job(subtitles=False).job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert job.result.subtitles_url is None
    assert subtitles_name(job.user_id, job.job_id) not in videos.objects


def test_a_bucket_that_refuses_the_captions_still_keeps_the_video(live: World) -> None:
    """Captions are never worth a good video: the job completes without them."""

    class NoCaptions(MemoryBucket):
        def put(self, data: bytes, name: str, content_type: str) -> object:
            self.down = True
            try:
                return super().put(data, name, content_type)
            finally:
                self.down = False

    videos = NoCaptions(bucket="b", policy=CopyPolicy(trusted_origins=(live.sim.url,)))
    live.plug(videos=videos)
    job = live.run(live.new_job(subtitles=True).job_id)
    videos.http.close()
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert job.result.storage_path is not None
    assert job.result.subtitles_url is None


def test_a_runwayml_video_says_which_asked_options_it_could_not_honour(
    live: World, videos: MemoryBucket
) -> None:
    """With HeyGen and D-ID out, a square video with a studio background and a name card is
    made by RunwayML in landscape, and the job's notes say all three in plain words."""
    for provider in ("heygen", "did"):
        admin.set_circuit(live.shell, provider, ManualAction.OPEN, by="test", reason="outage")
    asked = live.new_job(
        aspect_ratio=AspectRatio.SQUARE, background=Background.STUDIO, name_card=True
    )
    job = live.run(asked.job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.provider_id == "runwayml"
    assert Degradation.SQUARE_TO_LANDSCAPE in job.degradations
    assert job.unhonoured == (Unhonoured.BACKGROUND, Unhonoured.NAME_CARD)
    notes = userview.degradation_notes(job)
    assert "Made in landscape (16:9) instead of square." in notes
    assert (
        "Made with the presenter's usual backdrop: a studio background is not available from "
        "the studio that made it." in notes
    )
    assert "Made without a name card: none of our video studios can show one." in notes
    stored = live.shell.ports.jobs.get(job.job_id)  # and through the codec
    assert stored is not None
    assert userview.degradation_notes(stored) == notes


def test_a_heygen_video_with_a_studio_background_notes_only_the_name_card(
    live: World, videos: MemoryBucket
) -> None:
    """HeyGen draws the studio colour and renders 1:1: only the name card is noted."""
    job = live.run(
        live.new_job(
            aspect_ratio=AspectRatio.SQUARE, background=Background.STUDIO, name_card=True
        ).job_id
    )
    assert job.status is JobStatus.COMPLETED
    assert job.provider_id == "heygen"
    assert job.degradations == ()
    assert userview.degradation_notes(job) == [
        "Made without a name card: none of our video studios can show one."
    ]


def test_deleting_the_video_deletes_its_captions_too(live: World, videos: MemoryBucket) -> None:
    job = live.run(live.new_job(subtitles=True).job_id)
    name = subtitles_name(job.user_id, job.job_id)
    assert name in videos.objects
    links.delete_video(live.shell, job_id=job.job_id, user_id=job.user_id)
    assert name not in videos.objects
