"""Webhook verification: HeyGen's HMAC over the raw bytes and D-ID's per-job token, both failing
closed, with webhooks delivered by the simulator over real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from shared.errors import ErrorCategory
from shared.providers import WebhookError, WebhookEvent, WebhookRequest, failure_of
from shared.providers.heygen import sign
from tests.providers.conftest import AdapterFactory, a_request, as_request
from tools.provider_sim import ProviderSim


def delivered(sim: ProviderSim, name: str, *, count: int = 1) -> list[WebhookRequest]:
    entries = sim.wait_inbox(name, count=count)
    assert len(entries) >= count, f"expected {count} webhook(s) at {name}, got {len(entries)}"
    return [as_request(entry) for entry in entries]


def heygen_webhook(sim: ProviderSim, make_adapter: AdapterFactory) -> WebhookRequest:
    """Have the simulator render one HeyGen video and deliver its signed webhook."""
    name = f"heygen-{uuid.uuid4().hex[:8]}"
    make_adapter("heygen").submit(a_request(callback_url=sim.inbox_url(name)))
    return delivered(sim, name)[0]


def refusal(call: Any) -> WebhookError:
    with pytest.raises(WebhookError) as info:
        call()
    return info.value


# --- HeyGen -------------------------------------------------------------------------------


def test_heygen_webhook_signed_by_the_provider_verifies(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A webhook signed with the configured secret parses into a success event for our job."""
    request = heygen_webhook(sim, make_adapter)

    event = make_adapter("heygen").parse_webhook(request)

    assert event.succeeded
    assert event.job_id is not None
    assert event.job_id.startswith("job-")
    assert event.video_url
    assert failure_of(event) is None


def test_heygen_webhook_with_a_tampered_body_is_refused(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Changing one byte of the signed body breaks the signature: 401."""
    request = heygen_webhook(sim, make_adapter)
    tampered = WebhookRequest(
        body=request.body.replace(b"avatar_video.success", b"avatar_video.fail"),
        headers=request.headers,
    )

    assert refusal(lambda: make_adapter("heygen").parse_webhook(tampered)).status == 401


def test_heygen_webhook_checked_with_another_secret_is_refused(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A receiver configured with a different secret refuses the webhook: 401."""
    request = heygen_webhook(sim, make_adapter)
    other = make_adapter("heygen", webhook_secret="someone-elses-secret")

    assert refusal(lambda: other.parse_webhook(request)).status == 401


def test_heygen_webhook_without_a_signature_header_is_refused(
    make_adapter: AdapterFactory, sim: ProviderSim
) -> None:
    """No signature header at all: 401, whatever the body says."""
    body = json.dumps({"event_type": "avatar_video.success", "event_data": {"video_id": "v"}})
    request = WebhookRequest(body=body.encode(), headers={"Content-Type": "application/json"})

    assert refusal(lambda: make_adapter("heygen").parse_webhook(request)).status == 401


@pytest.mark.parametrize("secret", [None, ""])
def test_heygen_webhook_is_refused_when_no_secret_is_configured(
    secret: str | None, sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Without a configured secret nothing verifies (fail closed), even a genuine webhook."""
    request = heygen_webhook(sim, make_adapter)
    unconfigured = make_adapter("heygen", webhook_secret=secret)

    error = refusal(lambda: unconfigured.parse_webhook(request))

    assert error.status == 401
    assert "not configured" in error.message


def test_heygen_webhook_signed_with_a_bad_signature_by_the_simulator_is_refused(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The simulator's bad-signature fault produces a webhook the adapter refuses."""
    sim.add_fault("heygen", "webhook_bad_signature")

    request = heygen_webhook(sim, make_adapter)

    assert refusal(lambda: make_adapter("heygen").parse_webhook(request)).status == 401


def test_heygen_webhook_with_a_valid_signature_but_no_json_is_a_400(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A correctly signed body that is not JSON is malformed: 400, not 401."""
    body = b"not json at all"
    request = WebhookRequest(body=body, headers={"Signature": sign(body, sim.heygen_secret)})

    assert refusal(lambda: make_adapter("heygen").parse_webhook(request)).status == 400


def test_heygen_failure_webhook_is_a_charged_processing_error(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """avatar_video.fail parses, and failure_of classifies it as a charged processing_error."""
    sim.add_fault("heygen", "render_failed")

    event = make_adapter("heygen").parse_webhook(heygen_webhook(sim, make_adapter))
    error = failure_of(event)

    assert not event.succeeded
    assert event.failure_message
    assert error is not None
    assert error.category is ErrorCategory.PROCESSING_ERROR
    assert error.charged


def test_heygen_success_webhook_without_a_url_is_a_quality_failure(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A success notice that carries no video URL is not a usable result."""
    sim.add_fault("heygen", "low_quality", mode="no_url")

    event = make_adapter("heygen").parse_webhook(heygen_webhook(sim, make_adapter))
    error = failure_of(event)

    assert error is not None
    assert error.category is ErrorCategory.QUALITY_FAILURE


def test_duplicated_webhook_carries_the_same_event_id(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Both copies of a duplicated delivery verify and share one event id (for dedup)."""
    sim.add_fault("heygen", "webhook_duplicate")
    name = f"dup-{uuid.uuid4().hex[:8]}"
    make_adapter("heygen").submit(a_request(callback_url=sim.inbox_url(name)))

    copies = delivered(sim, name, count=2)
    events = [make_adapter("heygen").parse_webhook(copy) for copy in copies]

    assert len(events) == 2
    assert events[0].event_id == events[1].event_id


def test_lost_webhook_never_arrives_but_polling_still_completes(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """With the notice lost, nothing is delivered, and status polling finds the finished video."""
    sim.add_fault("heygen", "webhook_lost")
    name = f"lost-{uuid.uuid4().hex[:8]}"
    adapter = make_adapter("heygen")
    submission = adapter.submit(a_request(callback_url=sim.inbox_url(name)))

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
    submission = adapter.submit(a_request(callback_url=sim.inbox_url(name)))

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
