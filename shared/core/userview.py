"""What a user is shown of a video job: its stage in words, a progress value, an estimated time
of completion, a plain message per error code, degradations explained, and the fields of the web
app's CV job (``jobs/{id}``) that mirror it. Pure: the job in, plain values out.

The job document a user can read carries these and nothing internal (DESIGN section 5): no
provider error text, no selection reasoning, no request fingerprint. Those go to the admin-only
``enhanced_video_jobs_internal/{id}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.core import presentation
from shared.core.cv import WORD_BUDGET
from shared.core.degradation import Degradation
from shared.core.jobs import Job, JobStatus


class Stage(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RENDERING = "rendering"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


STAGE_LABELS = {
    Stage.QUEUED: "Waiting to start",
    Stage.SUBMITTING: "Sending your script to the video studio",
    Stage.RENDERING: "Rendering your video",
    Stage.RETRYING: "A video studio had a problem; trying again",
    Stage.COMPLETED: "Your video is ready",
    Stage.FAILED: "The video could not be made",
    Stage.CANCELLED: "Cancelled",
}

# Progress while rendering moves from RENDER_FROM to RENDER_TO; the last stretch is the final
# write. Without the provider's own figure, it is estimated from the elapsed share of the
# provider's typical render time (the web app interpolates between writes, see web/client).
SUBMITTING_PROGRESS = 10
RENDER_FROM = 15
RENDER_TO = 95

ERROR_MESSAGES = {
    "cancelled": "You cancelled this video.",
    "deadline_exceeded": "The video took too long to make. Please try again.",
    "no_capable_provider": "No video studio can make a video with these settings.",
    "no_provider_available": "Every video studio is busy or unavailable. Please try again later.",
    "processing_error": "The video studio could not render this script.",
    "quality_failure": "The rendered video did not pass our quality check.",
    "quota_exceeded": "The video studios are at capacity right now. Please try again later.",
    "authentication": "Our video studios are unavailable right now. Please try again later.",
    "rate_limit": "The video studios are busy right now. Please try again in a few minutes.",
    "provider_overload": "The video studios are busy right now. Please try again in a few minutes.",
    "transient": "The video studios had trouble making this video. Please try again.",
    "network_error": "The video studios could not be reached. Please try again.",
    "timeout": "The video studio took too long to answer. Please try again.",
    "api_failure": "The video studios had trouble making this video. Please try again.",
    "video_expired": (
        "The video was made, but the studio's link to it expired before we could save it. "
        "Please try again."
    ),
}
DEFAULT_ERROR_MESSAGE = "Something went wrong while making the video. Please try again."

DEGRADATION_NOTES = {
    Degradation.DURATION_LONG_TO_MEDIUM: "Made as a 60-second video instead of 90 seconds.",
    Degradation.DURATION_MEDIUM_TO_SHORT: "Made as a 30-second video instead of 60 seconds.",
    Degradation.RESOLUTION_1080P_TO_720P: "Made in 720p instead of 1080p.",
    Degradation.PREMIUM_TO_STANDARD: "Made at standard quality instead of premium.",
    Degradation.DROP_CUSTOM_AVATAR: "Made with a stock presenter instead of your custom avatar.",
    Degradation.SQUARE_TO_LANDSCAPE: "Made in landscape (16:9) instead of square.",
    Degradation.DROP_VOICE: "Made without a voice-over and lip-sync.",
    Degradation.SHORT_TO_CLIP: (
        "Made as a silent 10-second clip of the presenter, as no studio could make a spoken video."
    ),
}


def stage(job: Job) -> Stage:
    if job.status is JobStatus.COMPLETED:
        return Stage.COMPLETED
    if job.status is JobStatus.FAILED:
        return Stage.FAILED
    if job.status is JobStatus.CANCELLED:
        return Stage.CANCELLED
    if job.provider_job_id:
        return Stage.RENDERING
    last = job.history[-1] if job.history else None
    if last is not None and last.outcome is None:
        return Stage.SUBMITTING
    if last is not None:  # the last attempt failed; the next one waits
        return Stage.RETRYING
    return Stage.QUEUED


def progress(job: Job) -> int:
    """0-100, never lower for a later stage of the same attempt."""
    current = stage(job)
    if current in (Stage.COMPLETED, Stage.FAILED, Stage.CANCELLED):
        return 100
    if current is Stage.QUEUED:
        return 0
    if current is Stage.RENDERING:
        share = job.render_progress
        if share is None:
            return RENDER_FROM
        share = min(max(share, 0.0), 1.0)
        return RENDER_FROM + round(share * (RENDER_TO - RENDER_FROM))
    return SUBMITTING_PROGRESS


def error_message(code: str) -> str:
    return ERROR_MESSAGES.get(code, DEFAULT_ERROR_MESSAGE)


def degradation_notes(job: Job) -> list[str]:
    """What the video gave up to be made (the ladder), then what of its presentation the
    provider that made it could not honour."""
    ladder = [DEGRADATION_NOTES[d] for d in job.degradations]
    return [*ladder, *presentation.notes(job.options, job.unhonoured)]


def quality_score(job: Job) -> float:
    """0-10: how fully the script fills the spoken time of the video asked for (the app shows
    it as "Quality: 8.4/10", as the original's script quality score)."""
    words = len(job.script.split())
    return round(10.0 * min(1.0, words / WORD_BUDGET[job.options.duration]), 1)


def remaining_s(job: Job, now: float) -> int | None:
    """Seconds until the render is expected to be done; None when there is no estimate."""
    if job.terminal or job.eta_at is None:
        return None
    return max(0, round(job.eta_at - now))


# The app's VideoGenerationStatus.status (VideoIntroduction.tsx L31-39): no "cancelled".
APP_JOB_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.PROCESSING: "processing",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


def render_started_at(job: Job) -> float | None:
    if stage(job) is not Stage.RENDERING or not job.history:
        return None
    return job.history[-1].started_at


# The web app's CV job (``jobs/{cvJobId}``): the fields it watches while a video is made.

APP_STATUS = {
    Stage.QUEUED: "processing",
    Stage.SUBMITTING: "processing",
    Stage.RENDERING: "processing",
    Stage.RETRYING: "processing",
    Stage.COMPLETED: "completed",
    Stage.FAILED: "failed",
    # The app's status types know no "cancelled" (types/job.ts: pending | processing |
    # completed | failed): a cancelled video is a failed one, its error says it was cancelled.
    Stage.CANCELLED: "failed",
}


# The app's CV job is written once per step it shows: preparing (queued, submitting, retrying
# on another provider), rendering, then the end. Each write is a billed document write.
_PREPARING = frozenset({Stage.QUEUED, Stage.SUBMITTING, Stage.RETRYING})
PREPARING_LABEL = "Preparing your video"


def mirror_key(job: Job) -> str:
    """What the app's CV job shows changes only when this does."""
    current = stage(job)
    return "preparing" if current in _PREPARING else current.value


def mirror_doc(job: Job, *, regenerated: bool = False) -> dict[str, Any]:
    """The fields of ``jobs/{cvJobId}`` the app watches, merged into that document."""
    current = stage(job)
    at = _timestamp(job.updated_at if job.updated_at is not None else job.created_at)
    intro: dict[str, Any] = {
        "status": APP_STATUS[current],
        "progress": progress(job),
        "currentStep": PREPARING_LABEL if current in _PREPARING else STAGE_LABELS[current],
        "videoJobId": job.job_id,
        "startedAt": _timestamp(job.created_at),
    }
    # What the original wrote beside the status: the provider and its expected bill (USD).
    if job.provider_id is not None:
        intro["provider"] = job.provider_id
    if job.estimated_cost is not None:
        intro["estimatedCost"] = job.estimated_cost
    doc: dict[str, Any] = {"enhancedFeatures": {"videoIntroduction": intro}, "updatedAt": at}
    if current is Stage.COMPLETED and job.result is not None:
        r = job.result
        video = {
            "url": r.video_url,
            "thumbnailUrl": r.thumbnail_url,
            "duration": r.duration_s,
            "script": job.script,
            "subtitles": r.subtitles_url,
            "provider": job.provider_id,
            "metadata": {"resolution": job.options.resolution.value, "format": "mp4"},
            "generatedAt": at,
            "degradations": degradation_notes(job),
        }
        if regenerated:
            video["regeneratedAt"] = at
        intro.update(
            processedAt=at,
            data={
                "videoUrl": r.video_url,
                "thumbnailUrl": r.thumbnail_url,
                "duration": r.duration_s,
                "script": job.script,
                "generationMethod": "enhanced",
            },
        )
        doc["enhancedFeatures"]["video"] = {
            "enabled": True,
            "status": "completed",
            "data": {
                "videoUrl": r.video_url,
                "thumbnailUrl": r.thumbnail_url,
                "duration": r.duration_s,
            },
        }
        # The feature dashboard's media tab reads enhancedFeatures.media.data.video
        # (FeatureDashboard.tsx L753-756 via getFeatureStatus L267-282); merged, so a podcast
        # beside it stays.
        doc["enhancedFeatures"]["media"] = {
            "enabled": True,
            "status": "completed",
            "data": {
                "video": {
                    "videoUrl": r.video_url,
                    "thumbnailUrl": r.thumbnail_url or "",
                    "duration": r.duration_s,
                    "script": job.script,
                }
            },
        }
        doc["videoStatus"] = "completed"
        doc["video"] = video
        doc["videoError"] = None
    elif current in (Stage.FAILED, Stage.CANCELLED):
        message = error_message(job.error.code if job.error else "")
        intro.update(processedAt=at, error=message)
        doc["videoStatus"] = APP_STATUS[current]
        doc["videoError"] = message
    else:
        doc["videoStatus"] = "regenerating" if regenerated else "generating"
    return doc


def _timestamp(epoch_s: float) -> datetime:
    """The app's documents hold Firestore timestamps, not epoch numbers."""
    return datetime.fromtimestamp(epoch_s, UTC)
