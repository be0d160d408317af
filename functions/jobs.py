"""processVideoJob (Firestore trigger) and videoJobTask (Cloud Tasks): both advance a job
through Service.process, which claims it first, so duplicates and stale deliveries do nothing."""

from __future__ import annotations

import logging
import time
from typing import Any

from firebase_functions import firestore_fn, https_fn

from functions import runtime, secrets
from shared.stores.base import JOBS
from shared.stores.firestore import seen_job
from shared.tasks import valid_task_token

log = logging.getLogger("cvplus")


@firestore_fn.on_document_written(document=f"{JOBS}/{{jobId}}", secrets=secrets.ALL)
def processVideoJob(event: firestore_fn.Event[firestore_fn.Change[Any]]) -> None:
    after = event.data.after if event.data is not None else None
    if after is None or not after.exists:
        return
    doc = after.to_dict() or {}
    if not runnable(doc, now=time.time()):
        return  # terminal, leased by a running worker, or waiting for a task: nothing to do
    runtime.service().process(event.params["jobId"], seen=seen_job(doc, after.update_time))


def runnable(doc: dict[str, Any], *, now: float) -> bool:
    """A cheap look before the claim: most trigger deliveries are our own writes."""
    if doc.get("status") not in ("queued", "processing"):
        return False
    lease = doc.get("lease")
    if lease and float(lease.get("expiresAt", 0)) > now:
        return False
    due = doc.get("nextActionAt")
    return due is None or float(due) <= now


@https_fn.on_request(secrets=secrets.ALL)
def videoJobTask(req: https_fn.Request) -> https_fn.Response:
    body = req.get_json(silent=True) or {}
    job_id = body.get("jobId")
    key = runtime.service().token_key
    if not isinstance(job_id, str) or not valid_task_token(key, job_id, body.get("token")):
        return https_fn.Response("unauthenticated task", status=401)
    job = runtime.service().process(job_id)
    status = job.status.value if job is not None else "not due, taken or finished"
    log.info("task for job %s (%s): %s", job_id, body.get("reason"), status)
    return https_fn.Response(status, status=200)
