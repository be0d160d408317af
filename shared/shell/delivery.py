"""Keeping a finished video: copy it and its thumbnail from the provider's URLs into our bucket
(`shared.adapters.storage`), for the poll path (`processing`) and the webhook path (`webhooks`)
alike. The job then holds our copy, never the provider's URL, which expires. The copy is then
read as a file (`shared.adapters.media`): a file that is not the video the job asked for (not an
MP4, the wrong frame, no audio for a voice, far from the script's length) is refused with its
reason (`BadVideoError`), whatever the provider said about it. A job that asked for subtitles
gets a WebVTT file written from its script (`shared.core.captions`) beside the video: no
provider here hands us captions we read (HeyGen's SRT sidecar is not fetched yet)."""

from __future__ import annotations

import logging

from shared.adapters import media
from shared.adapters.storage import (
    SUBTITLES_TYPE,
    DeliveryError,
    Kept,
    VideoBucket,
    subtitles_name,
    thumbnail_name,
    video_name,
)
from shared.core import orchestration as orch
from shared.core.captions import webvtt
from shared.core.jobs import Job, VideoResult
from shared.core.model import AspectRatio, Feature, Resolution

log = logging.getLogger("cvplus")


def keep(
    videos: VideoBucket,
    job: Job,
    video_url: str | None,
    *,
    thumbnail_url: str | None = None,
    duration_s: float | None = None,
) -> VideoResult:
    """The result with our copies; raises DeliveryError when the video cannot be copied, and
    BadVideoError when the copy is not the video the job asked for. A thumbnail that cannot
    be copied is left out (never a link that will die)."""
    name = video_name(job.user_id, job.job_id)
    kept = videos.keep(video_url or "", name)
    check(videos, job, name)
    thumbnail = _thumbnail(videos, job, thumbnail_url)
    subtitles = _subtitles(videos, job, duration_s)
    return VideoResult(
        video_url=kept.url,
        thumbnail_url=thumbnail.url if thumbnail else None,
        duration_s=duration_s,
        storage_path=kept.path,
        thumbnail_path=thumbnail.path if thumbnail else None,
        subtitles_url=subtitles.url if subtitles else None,
        subtitles_path=subtitles.path if subtitles else None,
    )


class BadVideoError(Exception):
    """The delivered file is not the video the job asked for; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The frame a job asks for: its resolution names the short edge, its aspect ratio the shape.
_SHORT_EDGE = {Resolution.P720: 720, Resolution.P1080: 1080}


def expected(job: Job) -> media.Expected:
    short = _SHORT_EDGE[job.options.resolution]
    long = short * 16 // 9
    width, height = {
        AspectRatio.LANDSCAPE: (long, short),
        AspectRatio.PORTRAIT: (short, long),
        AspectRatio.SQUARE: (short, short),
    }[job.options.aspect_ratio]
    return media.Expected(
        duration_s=orch.spoken_length_s(job),
        width=width,
        height=height,
        audio=Feature.VOICE in job.options.features,
    )


def check(videos: VideoBucket, job: Job, name: str) -> None:
    """Read our stored copy ``name`` as a file; BadVideoError when it is not the video asked."""
    try:
        with videos.open(name) as file:
            container = media.read(file)
    except media.NotAVideoError as error:
        raise BadVideoError(str(error)) from error
    problem = media.problem(container, expected(job))
    if problem is not None:
        raise BadVideoError(problem)


def _thumbnail(videos: VideoBucket, job: Job, url: str | None) -> Kept | None:
    if not url:
        return None
    try:
        return videos.keep(url, thumbnail_name(job.user_id, job.job_id))
    except DeliveryError as error:
        log.warning("job %s: copying the thumbnail failed: %s", job.job_id, error)
        return None


def _subtitles(videos: VideoBucket, job: Job, duration_s: float | None) -> Kept | None:
    """The job's WebVTT captions in the bucket, when it asked for them; a write that fails is
    left out (the video is kept all the same: captions are never worth a good video)."""
    if not job.options.subtitles or not job.script.strip():
        return None
    text = webvtt(job.script, duration_s=duration_s)
    try:
        return videos.put(text.encode(), subtitles_name(job.user_id, job.job_id), SUBTITLES_TYPE)
    except DeliveryError as error:
        log.warning("job %s: writing the subtitles failed: %s", job.job_id, error)
        return None
