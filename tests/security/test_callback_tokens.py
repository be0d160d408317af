"""Callback tokens and render binding (shared/core/tokens.py, shared/shell/webhooks.py): a token
expires, only the per-attempt form with an expiry passes, each use of the internal secret has
its own subkey, and a callback can only confirm the render its submission returned."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import httpx
import pytest

from shared.adapters.providers.base import WebhookError, WebhookRequest
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.stores import base as stores
from shared.adapters.stores import codec
from shared.adapters.tasks import task_token
from shared.core import jobs
from shared.core import orchestration as orch
from shared.core.jobs import Job, JobStatus
from shared.core.tokens import CALLBACK_TTL_S, webhook_token
from shared.shell import webhooks
from tests.support.harness import INTERNAL_SECRET, Harness, refuse

KEY = INTERNAL_SECRET.encode()
JOB = "vj_" + "1" * 32


def stored(harness: Harness, *, render: str | None) -> Job:
    """A job whose attempt 1 is on D-ID: submitted as ``render``, or (None) still open."""
    now = harness.shell.ports.clock()
    job = Job(job_id=JOB, created_at=now, deadline_at=now + orch.JOB_TIMEOUT_S)
    job = jobs.begin_attempt(
        job, provider_id="did", options=job.options, degradations=(), reasoning=(), now=now
    )
    if render is not None:
        job = jobs.submitted(job, provider_job_id=render, follow_up_at=now + 60, now=now)
    harness.db.put(stores.JOBS, JOB, {**codec.job_to_doc(job), "lease": None})
    return job


def did_notice(talk: str, query: dict[str, str]) -> WebhookRequest:
    body = {"id": talk, "status": "done", "result_url": "https://d-id.example/v.mp4"}
    return WebhookRequest(body=json.dumps(body).encode(), headers={}, query=query)


def query(attempt: int, exp: int, token: str | None) -> dict[str, str]:
    return {"job": JOB, "attempt": str(attempt), "exp": str(exp), "token": token or ""}


def test_an_expired_callback_token_is_refused(harness: Harness) -> None:
    """A genuine token past its expiry (one copied from a request log, hours later) is a 401."""
    stored(harness, render="tlk_1")
    past = int(harness.shell.ports.clock()) - 1
    with pytest.raises(WebhookError, match="expired") as refused:
        webhooks.on_webhook(
            harness.shell,
            "did",
            did_notice("tlk_1", query(1, past, webhook_token(KEY, JOB, 1, past))),
        )
    assert refused.value.status == 401
    assert harness.shell.ports.jobs.get(JOB).status is JobStatus.PROCESSING  # type: ignore[union-attr]
    assert CALLBACK_TTL_S == 6 * 3600


def test_the_old_per_job_and_unexpiring_tokens_are_refused(harness: Harness) -> None:
    """The per-job token (no attempt) and the per-attempt token without an expiry, as made
    before, pass no more."""
    stored(harness, render="tlk_1")
    per_job = hmac.new(KEY, JOB.encode(), hashlib.sha256).hexdigest()[:32]
    per_attempt = hmac.new(KEY, f"{JOB}#1".encode(), hashlib.sha256).hexdigest()[:32]
    exp = int(harness.shell.ports.clock()) + 3600
    for q in (
        {"job": JOB, "token": per_job},
        {"job": JOB, "attempt": "1", "token": per_attempt},
        query(1, exp, per_attempt),
        query(1, exp + 1, webhook_token(KEY, JOB, 1, exp)),  # the expiry is signed
    ):
        with pytest.raises(WebhookError) as refused:
            webhooks.on_webhook(harness.shell, "did", did_notice("tlk_1", q))
        assert refused.value.status == 401


def test_each_use_of_the_internal_secret_has_its_own_subkey() -> None:
    """Neither token is an HMAC by the secret itself, and neither passes for the other."""
    raw_task = hmac.new(KEY, f"task:{JOB}".encode(), hashlib.sha256).hexdigest()
    assert task_token(KEY, JOB) != raw_task
    token = webhook_token(KEY, JOB, 1, 2_000_000_000)
    raw_hook = hmac.new(KEY, f"{JOB}#1#2000000000".encode(), hashlib.sha256).hexdigest()[:32]
    assert token != raw_hook
    assert token is not None
    assert not task_token(KEY, JOB).startswith(token)


def did_confirming(harness: Harness) -> None:
    """D-ID's adapter of ``harness`` answers GET /talks/{id} with a done talk (a callback is
    confirmed with it before anything is believed); any other call is refused."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "GET" or not request.url.path.startswith("/talks/"):
            return refuse(request)
        talk = request.url.path.rsplit("/", 1)[-1]
        url = "https://d-id-talks-prod.s3.us-west-2.amazonaws.com/v.mp4"
        return httpx.Response(200, json={"id": talk, "status": "done", "result_url": url})

    did = DIDProvider(
        api_key="k" * 32, base_url="https://did.test", transport=httpx.MockTransport(handler)
    )
    ports = harness.shell.ports
    harness.shell.ports = replace(ports, providers={**ports.providers, "did": did})


def test_a_render_id_not_bound_to_the_submission_is_refused(harness: Harness) -> None:
    """Before the submit's answer saves the render id, a callback with the attempt's valid
    token naming some render (confirmed by D-ID's GET) is answered 409 and binds nothing; once
    saved, a callback naming another render changes nothing."""
    did_confirming(harness)
    stored(harness, render=None)
    exp = int(harness.shell.ports.clock()) + 3600
    good = query(1, exp, webhook_token(KEY, JOB, 1, exp))
    with pytest.raises(WebhookError) as early:
        webhooks.on_webhook(harness.shell, "did", did_notice("tlk_someone_elses", good))
    assert early.value.status == 409
    job = harness.shell.ports.jobs.get(JOB)
    assert job is not None
    assert job.provider_job_id is None
    assert not job.terminal
    stored(harness, render="tlk_ours")
    note = webhooks.on_webhook(harness.shell, "did", did_notice("tlk_someone_elses", good))
    assert note.startswith("ignored")
    after = harness.shell.ports.jobs.get(JOB)
    assert after is not None
    assert (after.status, after.provider_job_id) == (JobStatus.PROCESSING, "tlk_ours")


def test_a_heygen_render_whose_title_is_another_jobs_is_refused() -> None:
    """HeyGen's confirming GET names the video's title, which submit set from our job id: a
    callback naming a video of another job is refused, whatever its token."""
    title = {"v_mine": f"CVPlus {JOB}", "v_other": "CVPlus vj_other"}

    def handler(request: httpx.Request) -> httpx.Response:
        video = request.url.path.rsplit("/", 1)[-1]
        data = {"id": video, "status": "completed", "title": title[video], "duration": 20}
        data["video_url"] = "https://resource.heygen.ai/v.mp4"
        return httpx.Response(200, json={"data": data})

    heygen = HeyGenProvider(
        api_key="k" * 32, base_url="https://heygen.test", transport=httpx.MockTransport(handler)
    )
    token = "t" * 32

    def callback(video: str) -> WebhookRequest:
        body = {"event_type": "avatar_video.success", "event_data": {"video_id": video}}
        q = {"job": JOB, "token": token}
        return WebhookRequest(body=json.dumps(body).encode(), headers={}, query=q)

    assert heygen.parse_webhook(callback("v_mine"), expected_token=token).succeeded
    with pytest.raises(WebhookError, match="not this job's") as refused:
        heygen.parse_webhook(callback("v_other"), expected_token=token)
    assert refused.value.status == 400
    heygen.close()
