"""A finished video's download links and its deletion (a CV video is personal data):

- `rotate`: new random download tokens for a job's video, thumbnail and captions objects; every
  URL handed out before stops working, and the job document holds the new ones (admins:
  rotateVideoLinks).
- `delete_video`: the owner removes their video: the objects go from the bucket (the video, its
  thumbnail, its captions), and the job's links and object names are cleared (deleteVideo).

A finished job never changes through the job store (its status is final), so these two write the
job document's link fields only, by a read and a write of the document itself."""

from __future__ import annotations

import logging
from typing import Any

from shared.adapters.storage import object_name
from shared.adapters.stores.base import JOBS
from shared.core.jobs import Job
from shared.core.refusals import NotFound, WrongState
from shared.shell.context import Shell
from shared.shell.users import owned_job

log = logging.getLogger("cvplus")

_LINK_FIELDS = (
    "videoUrl",
    "thumbnailUrl",
    "subtitlesUrl",
    "storagePath",
    "thumbnailStoragePath",
    "subtitlesStoragePath",
)


def _names(shell: Shell, doc: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The job's objects in our bucket: the video, its thumbnail, its WebVTT captions."""
    if shell.ports.videos is None:
        return None, None, None
    bucket = shell.ports.videos.bucket
    return (
        object_name(bucket, doc.get("storagePath")),
        object_name(bucket, doc.get("thumbnailStoragePath")),
        object_name(bucket, doc.get("subtitlesStoragePath")),
    )


def rotate(shell: Shell, job_id: str) -> dict[str, Any]:
    """New download tokens for ``job_id``'s objects; what changed (``rotated``: how many)."""
    doc = shell.ports.docs.get(JOBS, job_id)
    if doc is None:
        raise NotFound(f"no video job {job_id}")
    changed: dict[str, Any] = {}
    fields = ("videoUrl", "thumbnailUrl", "subtitlesUrl")
    for url_field, name in zip(fields, _names(shell, doc), strict=True):
        if name is not None and shell.ports.videos is not None:
            url = shell.ports.videos.rotate(name)
            if url is not None:
                changed[url_field] = url
    if changed:
        shell.ports.docs.put(
            JOBS, job_id, {**doc, **changed, "linksRotatedAt": shell.ports.clock()}
        )
    log.info("job %s: %d download links rotated", job_id, len(changed))
    return {"jobId": job_id, "rotated": len(changed)}


def delete_video(shell: Shell, *, job_id: str, user_id: str) -> Job:
    """Remove the caller's video and its copies; the job stays, without links. A job still
    rendering is refused (cancel it first); deleting again answers the same."""
    job = owned_job(shell, job_id, user_id)
    if not job.terminal:
        raise WrongState(f"video job {job_id} is still {job.status.value}; cancel it first")
    doc = shell.ports.docs.get(JOBS, job_id)
    if doc is None:
        raise NotFound(f"no video job {job_id}")
    for name in _names(shell, doc):
        if name is not None and shell.ports.videos is not None:
            shell.ports.videos.delete(name)
    cleared = dict.fromkeys(_LINK_FIELDS)
    shell.ports.docs.put(JOBS, job_id, {**doc, **cleared, "videoDeletedAt": shell.ports.clock()})
    log.info("job %s: video deleted by its owner", job_id)
    stored = shell.ports.jobs.get(job_id)
    return stored if stored is not None else job
