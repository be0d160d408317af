"""Delayed work through Cloud Tasks: an HTTP task to ``videoJobTask`` at the job's next action
time, carrying the job id and a token the function checks (besides the platform's own
authentication of the queue's service account in production).

Against gcloud-tasks-emulator (local stack) the client talks plain gRPC to its address; in
production it uses the default credentials and adds an OIDC token for ``service_account``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from shared.core.tokens import TASK_LABEL, subkey

log = logging.getLogger("cvplus")


def task_token(key: bytes, job_id: str) -> str:
    """What a task for ``job_id`` must carry: an HMAC no one without the key can make, by the
    internal secret's task subkey (shared.core.tokens)."""
    return hmac.new(subkey(key, TASK_LABEL), f"task:{job_id}".encode(), hashlib.sha256).hexdigest()


def valid_task_token(key: bytes, job_id: str, token: object) -> bool:
    if not key or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(task_token(key, job_id).encode(), token.encode())


MAX_TASK_BODY = 4096  # ours are about 150 bytes
MAX_JOB_ID = 200


class InvalidTaskError(ValueError):
    """A task body that is not one ``schedule`` writes; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class TaskBody:
    job_id: str
    token: str
    reason: str | None = None


def parse_task(raw: bytes) -> TaskBody:
    """The body ``schedule`` writes, ``{"jobId", "token", "reason"}``, checked field by field.
    Anything else raises InvalidTaskError (answered 400), never a crash (a 500 that Cloud Tasks
    would retry)."""
    if len(raw) > MAX_TASK_BODY:
        raise InvalidTaskError(f"body over {MAX_TASK_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidTaskError("body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidTaskError("body is not a JSON object")
    job_id, token, reason = body.get("jobId"), body.get("token"), body.get("reason")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_JOB_ID:
        raise InvalidTaskError(f"jobId must be a string of 1-{MAX_JOB_ID} characters")
    if not isinstance(token, str) or not token:
        raise InvalidTaskError("token must be a non-empty string")
    if reason is not None and not isinstance(reason, str):
        raise InvalidTaskError("reason must be a string")
    return TaskBody(job_id=job_id, token=token, reason=reason)


@dataclass
class CloudTasksScheduler:
    """`TaskScheduler` on a Cloud Tasks queue (``projects/P/locations/L/queues/Q``)."""

    queue: str
    target_url: str
    key: bytes
    emulator_host: str | None = None
    service_account: str | None = None
    _client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from google.cloud import tasks_v2

            if self.emulator_host:
                import grpc
                from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                    CloudTasksGrpcTransport,
                )

                channel = grpc.insecure_channel(self.emulator_host)
                self._client = tasks_v2.CloudTasksClient(
                    transport=CloudTasksGrpcTransport(channel=channel)
                )
            else:
                self._client = tasks_v2.CloudTasksClient()
        return self._client

    def schedule(self, job_id: str, *, at: float, reason: str) -> None:
        from google.cloud import tasks_v2
        from google.protobuf import timestamp_pb2

        body = json.dumps(
            {"jobId": job_id, "token": task_token(self.key, job_id), "reason": reason}
        ).encode()
        request: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": self.target_url,
            "headers": {"Content-Type": "application/json"},
            "body": body,
        }
        if self.service_account:
            request["oidc_token"] = tasks_v2.OidcToken(service_account_email=self.service_account)
        when = timestamp_pb2.Timestamp()
        when.FromNanoseconds(int(at * 1e9))
        task = tasks_v2.Task(http_request=tasks_v2.HttpRequest(**request), schedule_time=when)
        self.client().create_task(parent=self.queue, task=task)
        log.info("job %s: task at %.1f (%s)", job_id, at, reason)
