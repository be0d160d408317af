"""What each adapter puts on the wire and how it reads documented answers, checked in-process
with httpx.MockTransport; and the httpx exception mapping, with nothing left unmapped."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.adapters.providers import (
    RenderState,
    SubmitRequest,
    WebhookRequest,
    heygen,
)
from shared.adapters.providers._http import error_from_exception
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import (
    RunwayMLProvider,
    clip_duration,
    failure_code_category,
)
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.model import AspectRatio, Duration, Resolution, VideoOptions
from shared.shell.deployment import providers
from shared.shell.settings import Settings

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a canned function."""

    def __init__(self, answer: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    @property
    def last_json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


def ok(payload: dict[str, Any], status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=payload)


REQUEST = SubmitRequest(
    job_id="job-42",
    attempt=2,
    script="Hello, I am a software engineer.",
    options=VideoOptions(
        duration=Duration.LONG, resolution=Resolution.P720, aspect_ratio=AspectRatio.PORTRAIT
    ),
    callback_url="https://example.test/providerWebhook/x?a=1",
    callback_token="tok",
)


def test_heygen_submit_sends_the_v3_avatar_video_request() -> None:
    """POST /v3/videos with X-Api-Key, Idempotency-Key and the documented body fields."""
    recorder = Recorder(ok({"data": {"video_id": "vid_1"}}))
    adapter = HeyGenProvider(api_key="key", transport=httpx.MockTransport(recorder))

    submission = adapter.submit(REQUEST)

    sent = recorder.requests[-1]
    assert (sent.method, sent.url.path) == ("POST", "/v3/videos")
    assert sent.headers["X-Api-Key"] == "key"
    assert sent.headers["Idempotency-Key"] == REQUEST.idempotency_key
    assert recorder.last_json == {
        "type": "avatar",
        "avatar_id": "default_avatar",
        "voice_id": "default_voice",
        "script": REQUEST.script,
        "title": "CVPlus job-42",
        "resolution": "720p",
        "aspect_ratio": "9:16",
        "callback_id": "job-42",
        "callback_url": "https://example.test/providerWebhook/x?a=1&job=job-42&token=tok",
    }
    assert submission.provider_job_id == "vid_1"
    assert submission.requested_duration_s == 90


def test_runwayml_submit_sends_image_to_video_with_version_header() -> None:
    """POST /v1/image_to_video, Bearer auth, X-Runway-Version, ratio and a 5/10 s duration."""
    recorder = Recorder(ok({"id": "task_1"}))
    adapter = RunwayMLProvider(api_key="key", transport=httpx.MockTransport(recorder))

    submission = adapter.submit(REQUEST)

    sent = recorder.requests[-1]
    assert (sent.method, sent.url.path) == ("POST", "/v1/image_to_video")
    assert sent.headers["Authorization"] == "Bearer key"
    assert sent.headers["X-Runway-Version"] == "2024-11-06"
    body = recorder.last_json
    assert (body["model"], body["ratio"], body["duration"]) == ("gen4_turbo", "720:1280", 10)
    assert body["promptText"] == REQUEST.script
    assert submission.requested_duration_s == 10


def test_did_submit_puts_job_and_token_into_the_webhook_url() -> None:
    """POST /talks with Basic auth; the webhook URL keeps our query and adds job and token."""
    recorder = Recorder(ok({"id": "tlk_1", "status": "created"}, status=201))
    adapter = DIDProvider(api_key="user:pass", transport=httpx.MockTransport(recorder))

    adapter.submit(REQUEST)

    sent = recorder.requests[-1]
    assert (sent.method, sent.url.path) == ("POST", "/talks")
    assert sent.headers["Authorization"] == "Basic user:pass"
    body = recorder.last_json
    webhook = httpx.URL(body["webhook"])
    assert dict(webhook.params) == {"a": "1", "job": "job-42", "token": "tok"}
    assert body["script"]["type"] == "text"
    assert body["script"]["input"] == REQUEST.script
    assert body["user_data"] == "job-42"


def test_did_reads_the_documented_done_talk() -> None:
    """A done talk with result_url (docs.d-id.com talks overview) is a completed render."""
    talk = {
        "id": "tlk_TMj4",
        "status": "done",
        "result_url": "https://d-id-talks-prod.s3.us-west-2.amazonaws.com/x.mp4",
    }
    adapter = DIDProvider(api_key="k", transport=httpx.MockTransport(ok(talk)))

    status = adapter.status("tlk_TMj4")

    assert status.state is RenderState.COMPLETED
    assert status.video_url == "https://d-id-talks-prod.s3.us-west-2.amazonaws.com/x.mp4"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {"status": "pending"}}, RenderState.PENDING),
        ({"data": {"status": "processing"}}, RenderState.PROCESSING),
        (
            {"data": {"status": "completed", "video_url": "https://files2.heygen.ai/v.mp4"}},
            RenderState.COMPLETED,
        ),
    ],
)
def test_heygen_status_values_map_to_render_states(
    body: dict[str, Any], expected: RenderState
) -> None:
    """HeyGen's pending/processing/completed map onto our render states."""
    adapter = HeyGenProvider(api_key="k", transport=httpx.MockTransport(ok(body)))

    assert adapter.status("v").state is expected


def test_runwayml_throttled_task_is_still_pending() -> None:
    """THROTTLED means queued behind this key's concurrency, not failed."""
    task = {"id": "t", "status": "THROTTLED"}
    adapter = RunwayMLProvider(api_key="k", transport=httpx.MockTransport(ok(task)))

    assert adapter.status("t").state is RenderState.PENDING


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SAFETY.INPUT.TEXT", ErrorCategory.PROCESSING_ERROR),
        ("INTERNAL.BAD_OUTPUT.CODE01", ErrorCategory.QUALITY_FAILURE),
        ("INTERNAL", ErrorCategory.TRANSIENT),
        ("ASSET.INVALID", ErrorCategory.PROCESSING_ERROR),
        ("SOMETHING.NEW", None),
        (None, None),
    ],
)
def test_runwayml_failure_codes_are_read_by_longest_prefix(
    code: str | None, expected: ErrorCategory | None
) -> None:
    """Runway's dot-separated failureCode is matched from its most specific prefix."""
    assert failure_code_category(code) is expected


@pytest.mark.parametrize(("asked", "clip"), [(30, 10), (60, 10), (90, 10), (7, 5), (3, 5)])
def test_runwayml_clip_is_the_longest_it_renders_within_the_request(asked: int, clip: int) -> None:
    """Runway renders 5 or 10 s; the adapter asks for the longest that fits (5 s at least)."""
    assert clip_duration(asked) == clip


def test_heygen_legacy_webhook_payload_with_url_field_parses() -> None:
    """The documented {event_type, event_data: {video_id, url, callback_id}} payload parses."""
    body = json.dumps(
        {
            "event_type": "avatar_video.success",
            "event_data": {
                "video_id": "v1",
                "url": "https://files2.heygen.ai/v1.mp4",
                "callback_id": "job-1",
            },
        }
    ).encode()

    event = heygen.parse_event(body)

    assert (event.video_url, event.job_id) == ("https://files2.heygen.ai/v1.mp4", "job-1")
    assert event.event_id == "avatar_video.success:v1"


def test_heygen_callback_is_made_from_the_get_answer_not_the_body() -> None:
    """After the token, GET /v3/videos/{id} (with our key) decides what the event says."""
    body = b'{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}'
    failed = {"data": {"id": "v1", "status": "failed", "failure_message": "boom"}}
    recorder = Recorder(ok(failed))
    adapter = HeyGenProvider(api_key="k", transport=httpx.MockTransport(recorder))

    event = adapter.parse_webhook(
        WebhookRequest(body=body, query={"job": "job-1", "token": "t"}), expected_token="t"
    )

    assert [(r.method, r.url.path) for r in recorder.requests] == [("GET", "/v3/videos/v1")]
    assert recorder.requests[0].headers["X-Api-Key"] == "k"
    assert not event.succeeded
    assert event.failure_message == "boom"
    assert event.job_id == "job-1"


def test_heygen_submit_puts_job_and_token_into_the_callback_url() -> None:
    recorder = Recorder(ok({"data": {"video_id": "vid_1"}}))
    adapter = HeyGenProvider(api_key="k", transport=httpx.MockTransport(recorder))

    adapter.submit(REQUEST)

    callback = recorder.last_json["callback_url"]
    assert callback.startswith("https://example.test/providerWebhook/x?")
    assert callback.endswith("?a=1&job=job-42&token=tok")


def test_heygen_accepted_submit_without_video_id_is_a_charged_api_failure() -> None:
    """A 200 whose body lacks data.video_id: malformed, and the render may exist (charged)."""
    adapter = HeyGenProvider(api_key="k", transport=httpx.MockTransport(ok({"data": {}})))

    with pytest.raises(ProviderError) as info:
        adapter.submit(REQUEST)

    assert info.value.category is ErrorCategory.API_FAILURE
    assert info.value.charged


# --- httpx exceptions ---------------------------------------------------------------------


def _all_request_errors() -> list[type[httpx.RequestError]]:
    found: list[type[httpx.RequestError]] = []
    pending: list[type[httpx.RequestError]] = [httpx.RequestError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("exc_type", _all_request_errors(), ids=lambda t: t.__name__)
def test_every_httpx_request_error_is_classified(exc_type: type[httpx.RequestError]) -> None:
    """No httpx exception escapes unclassified (as in httpx's own mapping tests)."""
    exc = exc_type("boom", request=httpx.Request("GET", "https://x.test/"))

    error = error_from_exception(exc, provider_id="p", op="status", billable=False)

    assert isinstance(error.category, ErrorCategory)
    assert error.message == f"p status: {exc_type.__name__}"


@pytest.mark.parametrize(
    ("exc_type", "category", "charged_if_billable"),
    [
        (httpx.ConnectError, ErrorCategory.NETWORK_ERROR, False),
        (httpx.ConnectTimeout, ErrorCategory.TIMEOUT, False),
        (httpx.ReadTimeout, ErrorCategory.TIMEOUT, True),
        (httpx.WriteTimeout, ErrorCategory.TIMEOUT, False),
        (httpx.PoolTimeout, ErrorCategory.SYSTEM_ERROR, False),
        (httpx.RemoteProtocolError, ErrorCategory.NETWORK_ERROR, True),
        (httpx.ReadError, ErrorCategory.NETWORK_ERROR, True),
        (httpx.LocalProtocolError, ErrorCategory.SYSTEM_ERROR, False),
        (httpx.UnsupportedProtocol, ErrorCategory.SYSTEM_ERROR, False),
        (httpx.DecodingError, ErrorCategory.API_FAILURE, True),
        (httpx.TooManyRedirects, ErrorCategory.API_FAILURE, False),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_httpx_exceptions_map_to_categories_and_charges(
    exc_type: type[httpx.RequestError], category: ErrorCategory, charged_if_billable: bool
) -> None:
    """Each transport failure has its category; only a lost answer to a submit is charged."""
    exc = exc_type("boom", request=httpx.Request("POST", "https://x.test/"))

    on_submit = error_from_exception(exc, provider_id="p", op="submit", billable=True)
    on_status = error_from_exception(exc, provider_id="p", op="status", billable=False)

    assert on_submit.category is category
    assert on_submit.charged is charged_if_billable
    assert on_status.charged is False


def test_basic_auth_key_is_sent_verbatim() -> None:
    """D-ID keys come base64-ready from its studio; the adapter does not re-encode them."""
    key = base64.b64encode(b"user@example.test:secret").decode()
    recorder = Recorder(ok({"remaining": 1}))
    DIDProvider(api_key=key, transport=httpx.MockTransport(recorder)).probe()

    assert recorder.requests[-1].headers["Authorization"] == f"Basic {key}"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "insufficient_credit", ErrorCategory.QUOTA_EXCEEDED),
        (403, "insufficient_credit", ErrorCategory.QUOTA_EXCEEDED),
        (409, "request_in_progress", ErrorCategory.TRANSIENT),
        (403, "forbidden", ErrorCategory.AUTHENTICATION),
        (400, "validation_error", ErrorCategory.API_FAILURE),
    ],
)
def test_heygen_error_code_wins_over_the_http_status(
    status: int, code: str, expected: ErrorCategory
) -> None:
    """HeyGen's v3 envelope code decides the category whatever status it comes with."""
    envelope = {"error": {"code": code, "message": "m", "param": None, "doc_url": None}}
    transport = httpx.MockTransport(ok(envelope, status=status))
    adapter = HeyGenProvider(api_key="k", transport=transport)

    with pytest.raises(ProviderError) as info:
        adapter.submit(REQUEST)

    assert info.value.category is expected
    assert info.value.provider_code == code
    assert info.value.charged is False


def test_environment_names_the_avatar_voice_and_presenter_images() -> None:
    """The settings pass HEYGEN_AVATAR_ID/VOICE_ID, DID_SOURCE_URL_* and RUNWAYML_PROMPT_IMAGE_URL
    through to the request bodies, with the key in the auth header."""
    environ = {
        "HEYGEN_API_KEY": "hk",
        "HEYGEN_AVATAR_ID": "look_123",
        "HEYGEN_VOICE_ID": "voice_456",
        "DID_API_KEY": "dk",
        "DID_SOURCE_URL_PORTRAIT": "https://img.test/portrait.jpg",
        "DID_VOICE_ID": "en-GB-SoniaNeural",
        "RUNWAYML_API_KEY": "rk",
        "RUNWAYML_PROMPT_IMAGE_URL": "https://img.test/still.jpg",
    }
    h = Recorder(ok({"data": {"video_id": "v"}}))
    d = Recorder(ok({"id": "tlk_1"}, status=201))
    r = Recorder(ok({"id": "t"}))

    transports = {"heygen": h, "did": d, "runwayml": r}
    for pid, recorder in transports.items():
        settings = Settings.from_env(environ | {"FUNCTIONS_EMULATOR": "true"})
        providers(settings, transport=httpx.MockTransport(recorder))[pid].submit(REQUEST)

    assert (h.last_json["avatar_id"], h.last_json["voice_id"]) == ("look_123", "voice_456")
    assert h.requests[-1].headers["X-Api-Key"] == "hk"
    assert d.last_json["source_url"] == "https://img.test/portrait.jpg"
    assert d.last_json["script"]["provider"]["voice_id"] == "en-GB-SoniaNeural"
    assert r.last_json["promptImage"] == "https://img.test/still.jpg"
    assert str(h.requests[-1].url).startswith("https://api.heygen.com/")
    assert str(d.requests[-1].url).startswith("https://api.d-id.com/")
    assert str(r.requests[-1].url).startswith("https://api.dev.runwayml.com/")
