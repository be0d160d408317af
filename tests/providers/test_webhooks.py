"""Webhook verification, failing closed, with webhooks delivered by the simulator over real HTTP:
HeyGen's per-request callbacks (unsigned, as HeyGen documents) by our token in the URL and then
HeyGen's own GET answer; D-ID's by the per-job token."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from shared.adapters.providers import WebhookError, WebhookEvent, WebhookRequest, failure_of
from shared.core.errors import ErrorCategory
from tests.support.adapters import AdapterFactory, a_request, as_request, poll, raised
from tools.provider_sim import ProviderSim

TOKEN = "per-attempt-token-0123"


def delivered(sim: ProviderSim, name: str, *, count: int = 1) -> list[WebhookRequest]:
    entries = sim.wait_inbox(name, count=count)
    assert len(entries) >= count, f"expected {count} webhook(s) at {name}, got {len(entries)}"
    return [as_request(entry) for entry in entries]


def heygen_webhook(
    sim: ProviderSim, make_adapter: AdapterFactory, **request: Any
) -> WebhookRequest:
    """Have the simulator render one HeyGen video and deliver its per-request callback."""
    name = f"heygen-{uuid.uuid4().hex[:8]}"
    fields: dict[str, Any] = {"callback_url": sim.inbox_url(name), "callback_token": TOKEN}
    make_adapter("heygen").submit(a_request(**(fields | request)))
    return delivered(sim, name)[0]


def refusal(call: Any) -> WebhookError:
    with pytest.raises(WebhookError) as info:
        call()
    return info.value


def status_reads(sim: ProviderSim) -> int:
    return int(sim.stats()["heygen"]["counters"].get("requests:status", 0))


# --- HeyGen: per-request callbacks, unsigned, authenticated by our token then by GET ---------


def test_heygen_per_request_callback_comes_unsigned_to_our_tokened_url(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """As HeyGen documents (heygen-cli gen/*.go: per-job callback_url deliveries "are NOT
    HMAC-signed"): no signature header; the job id and our token ride in the URL we gave."""
    request = heygen_webhook(sim, make_adapter)

    assert request.header("Signature") is None
    assert request.query["token"] == TOKEN
    assert request.query["job"].startswith("job-")


def test_heygen_callback_with_our_token_is_confirmed_by_get_before_it_is_believed(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    request = heygen_webhook(sim, make_adapter)
    reads_before = status_reads(sim)

    event = make_adapter("heygen").parse_webhook(request, expected_token=TOKEN)

    assert status_reads(sim) == reads_before + 1  # GET /v3/videos/{id}
    assert event.succeeded
    assert event.job_id == request.query["job"]
    assert event.video_url is not None
    assert failure_of(event) is None


def test_heygen_callback_body_is_only_a_hint(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A body rewritten to say 'failed' with another URL changes nothing: HeyGen's GET answer
    is what the event says."""
    genuine = heygen_webhook(sim, make_adapter)
    payload = json.loads(genuine.body)
    payload["event_type"] = "avatar_video.fail"
    payload["event_data"]["url"] = "https://evil.example/x.mp4"
    forged = WebhookRequest(body=json.dumps(payload).encode(), query=genuine.query)

    event = make_adapter("heygen").parse_webhook(forged, expected_token=TOKEN)

    assert event.succeeded
    assert event.video_url is not None
    assert "evil" not in event.video_url


@pytest.mark.parametrize(
    ("query_token", "stored_token"),
    [("wrong-token", TOKEN), (None, TOKEN), (TOKEN, None), (TOKEN[:-1], TOKEN)],
    ids=["wrong-token", "no-token-in-url", "no-token-known", "prefix"],
)
def test_heygen_callback_without_the_matching_token_is_refused_before_any_read(
    query_token: str | None,
    stored_token: str | None,
    sim: ProviderSim,
    make_adapter: AdapterFactory,
) -> None:
    genuine = heygen_webhook(sim, make_adapter)
    query = {k: v for k, v in genuine.query.items() if k != "token"}
    if query_token is not None:
        query["token"] = query_token
    request = WebhookRequest(body=genuine.body, query=query)
    reads_before = status_reads(sim)

    error = refusal(
        lambda: make_adapter("heygen").parse_webhook(request, expected_token=stored_token)
    )

    assert error.status == 401
    assert status_reads(sim) == reads_before


def test_heygen_signed_delivery_to_a_registered_endpoint_is_refused(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The simulator's signed mode: an endpoint registered through POST /v3/webhooks/endpoints
    (validated with OPTIONS) gets signed deliveries. HeyGen's scheme is not confirmed by its
    public material, so the adapter accepts only the verified path (token, then GET)."""
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    answer = httpx.post(
        f"{sim.base_url('heygen')}/v3/webhooks/endpoints",
        headers={"X-Api-Key": "k"},
        json={"url": sim.inbox_url(name), "events": ["avatar_video.success"]},
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["secret"] == sim.heygen_secret
    make_adapter("heygen").submit(a_request())  # no per-request callback at all

    [signed] = delivered(sim, name)

    assert signed.header("Signature")
    assert refusal(lambda: make_adapter("heygen").parse_webhook(signed)).status == 401


def test_heygen_endpoint_registration_needs_a_url_that_answers_options(sim: ProviderSim) -> None:
    answer = httpx.post(
        f"{sim.base_url('heygen')}/v3/webhooks/endpoints",
        headers={"X-Api-Key": "k"},
        json={"url": "http://127.0.0.1:9/providerWebhook/heygen"},  # nothing listens there
    )
    assert answer.status_code == 400


def test_heygen_callback_for_a_video_not_finished_yet_is_a_409(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The callback names a video HeyGen still renders: nothing is believed (409)."""
    genuine = heygen_webhook(sim, make_adapter)
    sim.configure("heygen", latency_s=30.0)
    pending = make_adapter("heygen").submit(a_request(job_id=genuine.query["job"], attempt=2))
    payload = json.loads(genuine.body)
    payload["event_data"]["video_id"] = pending.provider_job_id
    payload["event_data"].pop("callback_id", None)
    request = WebhookRequest(body=json.dumps(payload).encode(), query=genuine.query)

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 409


def test_heygen_callback_naming_another_jobs_video_is_a_400(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The confirming GET's title is another job's (submit titles a video by its job): the
    callback's render is not this job's, whatever its token."""
    genuine = heygen_webhook(sim, make_adapter)
    other = make_adapter("heygen").submit(a_request())
    payload = json.loads(genuine.body)
    payload["event_data"]["video_id"] = other.provider_job_id
    payload["event_data"].pop("callback_id", None)
    request = WebhookRequest(body=json.dumps(payload).encode(), query=genuine.query)

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 400
    assert "not this job's" in error.message


def test_heygen_callback_for_a_video_heygen_does_not_know_is_a_400(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    genuine = heygen_webhook(sim, make_adapter)
    payload = json.loads(genuine.body)
    payload["event_data"]["video_id"] = "no_such_video"
    payload["event_data"].pop("callback_id", None)
    request = WebhookRequest(body=json.dumps(payload).encode(), query=genuine.query)

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 400


def test_heygen_callback_whose_callback_id_names_another_job_is_a_400(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    genuine = heygen_webhook(sim, make_adapter)
    query = dict(genuine.query) | {"job": "job-someone-else"}
    request = WebhookRequest(body=genuine.body, query=query)

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 400


def test_heygen_forged_callback_from_the_simulator_is_refused(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The simulator's bad-signature fault forges an unsigned callback's token."""
    sim.add_fault("heygen", "webhook_bad_signature")

    request = heygen_webhook(sim, make_adapter)

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))
    assert error.status == 401


def test_heygen_callback_with_our_token_but_no_json_is_a_400(
    make_adapter: AdapterFactory,
) -> None:
    request = WebhookRequest(body=b"not json at all", query={"job": "job-1", "token": TOKEN})

    error = refusal(lambda: make_adapter("heygen").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 400


def test_heygen_submit_without_a_token_sends_no_callback(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """An unverifiable callback is worse than none: the render is then found by polling."""
    name = f"none-{uuid.uuid4().hex[:8]}"
    make_adapter("heygen").submit(a_request(callback_url=sim.inbox_url(name)))

    assert sim.wait_inbox(name, timeout_s=0.6) == []


def test_heygen_failure_callback_is_a_charged_processing_error(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """avatar_video.fail, confirmed by GET as failed: a charged processing_error."""
    sim.add_fault("heygen", "render_failed")

    request = heygen_webhook(sim, make_adapter)
    event = make_adapter("heygen").parse_webhook(request, expected_token=TOKEN)
    error = failure_of(event)

    assert not event.succeeded
    assert event.failure_message
    assert error is not None
    assert error.category is ErrorCategory.PROCESSING_ERROR
    assert error.charged


def test_heygen_success_callback_without_a_url_is_a_quality_failure(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A video HeyGen reports completed without a URL is not a usable result."""
    sim.add_fault("heygen", "low_quality", mode="no_url")

    request = heygen_webhook(sim, make_adapter)
    event = make_adapter("heygen").parse_webhook(request, expected_token=TOKEN)
    error = failure_of(event)

    assert error is not None
    assert error.category is ErrorCategory.QUALITY_FAILURE


def test_duplicated_webhook_carries_the_same_event_id(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Both copies of a duplicated delivery verify and share one event id (for dedup)."""
    sim.add_fault("heygen", "webhook_duplicate")
    name = f"dup-{uuid.uuid4().hex[:8]}"
    make_adapter("heygen").submit(a_request(callback_url=sim.inbox_url(name), callback_token=TOKEN))

    copies = delivered(sim, name, count=2)
    events = [make_adapter("heygen").parse_webhook(c, expected_token=TOKEN) for c in copies]

    assert len(events) == 2
    assert events[0].event_id == events[1].event_id


def test_lost_webhook_never_arrives_but_polling_still_completes(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """With the notice lost, nothing is delivered, and status polling finds the finished video."""
    sim.add_fault("heygen", "webhook_lost")
    name = f"lost-{uuid.uuid4().hex[:8]}"
    adapter = make_adapter("heygen")
    submission = adapter.submit(a_request(callback_url=sim.inbox_url(name), callback_token=TOKEN))

    entries = sim.wait_inbox(name, timeout_s=0.6)
    status = adapter.status(submission.provider_job_id, expected_duration_s=60)

    assert entries == []
    assert status.video_url
    assert sim.stats()["heygen"]["counters"]["webhooks_lost"] == 1


def test_late_webhook_arrives_after_the_render_already_completed(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A late notice comes after polling has already seen the video completed."""
    sim.add_fault("heygen", "webhook_late", delay_s=1.0)
    name = f"late-{uuid.uuid4().hex[:8]}"
    adapter = make_adapter("heygen")
    submission = adapter.submit(a_request(callback_url=sim.inbox_url(name), callback_token=TOKEN))

    early = sim.wait_inbox(name, timeout_s=0.5)
    completed = adapter.status(submission.provider_job_id, expected_duration_s=60)
    late = sim.wait_inbox(name, timeout_s=3.0)

    assert early == []
    assert completed.video_url
    assert len(late) == 1


# --- D-ID ---------------------------------------------------------------------------------


def did_webhook(sim: ProviderSim, make_adapter: AdapterFactory, token: str) -> WebhookRequest:
    name = f"did-{uuid.uuid4().hex[:8]}"
    request = a_request(callback_url=sim.inbox_url(name), callback_token=token)
    make_adapter("did").submit(request)
    return delivered(sim, name)[0]


def test_did_webhook_with_the_jobs_token_verifies(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """D-ID calls back on our URL carrying job id and token; the stored token verifies it."""
    request = did_webhook(sim, make_adapter, token="t0k3n-for-this-job")

    event: WebhookEvent = make_adapter("did").parse_webhook(
        request, expected_token="t0k3n-for-this-job"
    )

    assert event.succeeded
    assert event.video_url
    assert event.job_id is not None
    assert event.job_id == request.query["job"]


@pytest.mark.parametrize(
    ("query_token", "stored_token"),
    [
        ("wrong-token", "right-token"),
        (None, "right-token"),
        ("right-token", None),
    ],
    ids=["wrong-token", "no-token-in-url", "no-token-stored"],
)
def test_did_webhook_without_the_matching_token_is_refused(
    query_token: str | None,
    stored_token: str | None,
    sim: ProviderSim,
    make_adapter: AdapterFactory,
) -> None:
    """A wrong or missing token on either side is a 401 (fail closed)."""
    genuine = did_webhook(sim, make_adapter, token="right-token")
    query = {k: v for k, v in genuine.query.items() if k != "token"}
    if query_token is not None:
        query["token"] = query_token
    request = WebhookRequest(body=genuine.body, headers=genuine.headers, query=query)

    error = refusal(lambda: make_adapter("did").parse_webhook(request, expected_token=stored_token))

    assert error.status == 401


def test_did_webhook_with_a_valid_token_but_a_malformed_body_is_a_400(
    make_adapter: AdapterFactory,
) -> None:
    """A verified callback whose body is not a finished talk is malformed: 400."""
    request = WebhookRequest(body=b'{"id": "tlk_1", "status": "started"}', query={"token": "t"})

    assert (
        refusal(lambda: make_adapter("did").parse_webhook(request, expected_token="t")).status
        == 400
    )


def test_runwayml_has_no_webhooks(make_adapter: AdapterFactory) -> None:
    """RunwayML is polled only; a webhook for it is a 404."""
    request = WebhookRequest(body=b"{}")

    assert refusal(lambda: make_adapter("runwayml").parse_webhook(request)).status == 404


# --- Confirmation by GET: D-ID as HeyGen; a failing read is not a refusal ---------------------


def test_did_callback_body_is_not_trusted_the_talk_is_read_back(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A callback with our token claims "done" (with a URL on D-ID's bucket) for a talk D-ID
    still renders: GET /talks/{id} says otherwise, so nothing is believed (409). Before: the
    body was the event, and its URL was stored."""
    genuine = did_webhook(sim, make_adapter, token=TOKEN)
    sim.configure("did", latency_s=30.0)
    pending = make_adapter("did").submit(a_request())
    talk = json.loads(genuine.body) | {"id": pending.provider_job_id, "status": "done"}
    talk["result_url"] = "https://d-id-talks-prod.s3.us-west-2.amazonaws.com/forged.mp4"
    request = WebhookRequest(body=json.dumps(talk).encode(), query=genuine.query)

    error = refusal(lambda: make_adapter("did").parse_webhook(request, expected_token=TOKEN))

    assert error.status == 409


def test_did_callback_is_made_from_did_s_answer_not_the_body(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The body's URL is replaced by the one D-ID's GET hands out."""
    genuine = did_webhook(sim, make_adapter, token=TOKEN)
    talk = json.loads(genuine.body) | {"result_url": "https://d-id.com/not-from-the-get.mp4"}
    request = WebhookRequest(body=json.dumps(talk).encode(), query=genuine.query)

    event = make_adapter("did").parse_webhook(request, expected_token=TOKEN)

    assert event.succeeded
    assert event.video_url is not None
    assert "not-from-the-get" not in event.video_url
    assert "/_files/did/" in event.video_url


@pytest.mark.parametrize("provider", ["heygen", "did"])
def test_a_callback_whose_confirming_read_fails_is_unconfirmed_not_refused(
    sim: ProviderSim, make_adapter: AdapterFactory, provider: str
) -> None:
    """Our token verifies the delivery, but the provider's API answers 500 to the confirming
    GET: the event is unconfirmed (the job looks at the render later), not a refusal the
    provider may never retry. Before: HeyGen's was refused with 503 (D-ID's not confirmed)."""
    if provider == "heygen":
        request = heygen_webhook(sim, make_adapter)
    else:
        request = did_webhook(sim, make_adapter, token=TOKEN)
    sim.add_fault(provider, "server_error", count=5, op="status")

    event = make_adapter(provider).parse_webhook(request, expected_token=TOKEN)

    assert not event.confirmed
    assert failure_of(event) is not None or not event.succeeded
    assert event.video_url is None


def test_a_done_did_talk_without_its_url_is_no_failed_render(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """D-ID reports the talk done without a result_url: a status poll raises a look that
    failed (an API failure, polled again), not a quality failure that pays another provider."""
    sim.add_fault("did", "low_quality", mode="no_url")
    adapter = make_adapter("did")
    talk = adapter.submit(a_request())

    error = raised(lambda: poll(adapter, talk.provider_job_id, expected_duration_s=None))

    assert error.category is ErrorCategory.API_FAILURE
