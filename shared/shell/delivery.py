"""Keeping a finished video: copy it and its thumbnail from the provider's URLs into our bucket
(`shared.adapters.storage`), for the poll path (`processing`) and the webhook path (`webhooks`)
alike. The job then holds our copy, never the provider's URL, which expires."""

from __future__ import annotations

import logging

from shared.adapters.storage import DeliveryError, Kept, Vault, thumbnail_name, video_name
from shared.core.jobs import Job, VideoResult

log = logging.getLogger("cvplus")


def keep(
    vault: Vault,
    job: Job,
    video_url: str | None,
    *,
    thumbnail_url: str | None = None,
    duration_s: float | None = None,
) -> VideoResult:
    """The result with our copies; raises DeliveryError when the video cannot be copied. A
    thumbnail that cannot be copied is left out (never a link that will die)."""
    kept = vault.keep(video_url or "", video_name(job.user_id, job.job_id))
    thumbnail = _thumbnail(vault, job, thumbnail_url)
    return VideoResult(
        video_url=kept.url,
        thumbnail_url=thumbnail.url if thumbnail else None,
        duration_s=duration_s,
        storage_path=kept.path,
        thumbnail_path=thumbnail.path if thumbnail else None,
    )


def _thumbnail(vault: Vault, job: Job, url: str | None) -> Kept | None:
    if not url:
        return None
    try:
        return vault.keep(url, thumbnail_name(job.user_id, job.job_id))
    except DeliveryError as error:
        log.warning("job %s: copying the thumbnail failed: %s", job.job_id, error)
        return None
