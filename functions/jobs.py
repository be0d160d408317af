"""processVideoJob (Firestore trigger) and videoJobTask (Cloud Tasks): both advance a job
through the shell's process loop, which claims it first, so duplicates and stale deliveries
do nothing."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from firebase_functions import firestore_fn, https_fn

from functions import deploy, runtime, secrets
from shared.shell import processing
from shared.shell.processing import (
    JOBS,
    MAX_TASK_BODY,
    InvalidTaskError,
    parse_task,
    seen_job,
    valid_task_token,
)

log = logging.getLogger("cvplus")


@firestore_fn.on_document_written(
    document=f"{JOBS}/{{jobId}}", secrets=secrets.WORKER, **deploy.WORKER
)
def processVideoJob(event: firestore_fn.Event[firestore_fn.Change[Any]]) -> None:
    after = event.data.after if event.data is not None else None
    if after is None or not after.exists:
        return
    doc = after.to_dict() or {}
    if not runnable(doc, now=time.time()):
        return  # terminal, leased by a running worker, or waiting for a task: nothing to do
    processing.process(
        runtime.shell(secrets.WORKER), event.params["jobId"], seen=seen_job(doc, after.update_time)
    )


def runnable(doc: dict[str, Any], *, now: float) -> bool:
    """A cheap look before the claim: most trigger deliveries are our own writes."""
    if doc.get("status") not in ("queued", "processing"):
        return False
    lease = doc.get("lease")
    if lease and float(lease.get("expiresAt", 0)) > now:
        return False
    due = doc.get("nextActionAt")
    return due is None or float(due) <= now


@https_fn.on_request(
    invoker=runtime.tasks_invoker(os.environ),
    secrets=secrets.WORKER,
    **deploy.WORKER,
)
def videoJobTask(req: https_fn.Request) -> https_fn.Response:
    """Only the tasks' service account may invoke it (IAM, ``invoker``); the body must still
    carry the HMAC of its job id. A malformed body is a 400, which Cloud Tasks does not retry."""
    if req.method != "POST":
        return https_fn.Response("POST only", status=405, mimetype="text/plain")
    if (req.content_length or 0) > MAX_TASK_BODY:
        return https_fn.Response("task body too large", status=413, mimetype="text/plain")
    try:
        task = parse_task(req.get_data(cache=False))
    except InvalidTaskError as bad:
        return https_fn.Response(f"bad task: {bad}", status=400, mimetype="text/plain")
    shell = runtime.shell(secrets.WORKER)
    if not valid_task_token(shell.setup.token_key, task.job_id, task.token):
        return https_fn.Response("unauthenticated task", status=401, mimetype="text/plain")
    job = processing.process(shell, task.job_id)
    status = job.status.value if job is not None else "not due, taken or finished"
    log.info("task for job %s (%s): %s", task.job_id, task.reason, status)
    return https_fn.Response(status, status=200)
