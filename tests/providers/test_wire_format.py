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
    avatar_name,
    failure_code_category,
)
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.model import AspectRatio, Duration, Resolution, VideoOptions
from shared.shell.deployment import providers
from shared.shell.settings import Settings, SettingsError

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
        "title": "CVPlus job-42 #2",
        "resolution": "720p",
        "aspect_ratio": "9:16",
        "callback_id": "job-42",
        "callback_url": "https://example.test/providerWebhook/x?a=1&job=job-42&token=tok",
    }
    assert submission.provider_job_id == "vid_1"
    assert submission.requested_duration_s == 90


class FakeRunway:
    """Runway's avatar routes and ``POST /v1/avatar_videos`` as the SDK documents them
    (runwayml/sdk-python resources/avatars.py, avatar_videos.py, pagination.py)."""

    def __init__(self, avatars: list[dict[str, Any]] | None = None, *, ready_after: int = 0):
        self.avatars = list(avatars or [])
        self.ready_after = ready_after  # GETs of an avatar before it is READY
        self.recorder = Recorder(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/v1/avatars":
            return httpx.Response(200, json={"data": self.avatars, "nextCursor": None})
        if request.method == "POST" and path == "/v1/avatars":
            body = json.loads(request.content)
            status = "PROCESSING" if self.ready_after else "READY"
            made = {"id": f"av-{len(self.avatars)}", "status": status, "createdAt": "2"}
            self.avatars.append(made | {"name": body["name"]})
            return httpx.Response(200, json=made)
        if request.method == "GET" and path.startswith("/v1/avatars/"):
            avatar = next(a for a in self.avatars if path.endswith(a["id"]))
            self.ready_after -= 1
            if self.ready_after < 0:
                avatar["status"] = "READY"
            return httpx.Response(200, json=avatar)
        if request.method == "POST" and path == "/v1/avatar_videos":
            return httpx.Response(200, json={"id": "task_1"})
        return httpx.Response(404, json={"error": "not found"})

    def adapter(self, **kwargs: Any) -> RunwayMLProvider:
        kwargs.setdefault("avatar_poll_s", 0.0)
        return RunwayMLProvider(
            api_key="key", transport=httpx.MockTransport(self.recorder), **kwargs
        )

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.recorder.requests if (r.method, r.url.path) == (method, path)]


OUR_AVATAR = avatar_name("https://storage.googleapis.com/cvplus-public/presenter.jpg", "victoria")


def test_runwayml_submit_has_its_ready_avatar_speak_the_script() -> None:
    """POST /v1/avatar_videos with Bearer auth, X-Runway-Version, model gwm1_avatars, our custom
    avatar and the script as text, in the avatar's own voice (no override, no ratio/duration:
    runwayml/sdk-python types/avatar_video_create_params.py has none)."""
    runway = FakeRunway([{"id": "av-ours", "name": OUR_AVATAR, "status": "READY"}])

    submission = runway.adapter().submit(REQUEST)

    (sent,) = runway.sent("POST", "/v1/avatar_videos")
    assert sent.headers["Authorization"] == "Bearer key"
    assert sent.headers["X-Runway-Version"] == "2024-11-06"
    assert json.loads(sent.content) == {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": "av-ours"},
        "speech": {"type": "text", "text": REQUEST.script},
    }
    assert submission.provider_job_id == "task_1"
    assert runway.sent("POST", "/v1/avatars") == []  # found, not made


def test_runwayml_makes_its_avatar_once_and_reuses_it_for_every_job() -> None:
    """No avatar of our name: one is made (name, personality, referenceImage, a
    runway-live-preset voice: types/avatar_create_params.py), waited for until READY, and
    every later submit of this instance uses it without asking again."""
    runway = FakeRunway([{"id": "someone-else", "name": "other", "status": "READY"}], ready_after=1)
    adapter = runway.adapter(voice="clara", prompt_image_url="https://img.test/p.jpg")

    adapter.submit(REQUEST)
    adapter.submit(REQUEST)

    (made,) = runway.sent("POST", "/v1/avatars")
    body = json.loads(made.content)
    assert body["name"] == avatar_name("https://img.test/p.jpg", "clara") == adapter.avatar_name
    assert body["referenceImage"] == "https://img.test/p.jpg"
    assert body["voice"] == {"type": "runway-live-preset", "presetId": "clara"}
    assert body["personality"]
    assert len(runway.sent("GET", "/v1/avatars/av-1")) == 2  # PROCESSING once, then READY
    avatars = [json.loads(r.content)["avatar"] for r in runway.sent("POST", "/v1/avatar_videos")]
    assert avatars == [{"type": "custom", "avatarId": "av-1"}] * 2
    assert len(runway.sent("GET", "/v1/avatars")) == 2  # the lookup, and the look after making


def test_runwayml_instances_that_raced_settle_on_the_earliest_avatar_of_their_name() -> None:
    """Two instances each made one: both use the earliest-created, not their own."""
    runway = FakeRunway(
        [
            {"id": "av-late", "name": OUR_AVATAR, "status": "READY", "createdAt": "2026-01-02"},
            {"id": "av-early", "name": OUR_AVATAR, "status": "READY", "createdAt": "2026-01-01"},
        ]
    )

    runway.adapter().submit(REQUEST)

    sent = json.loads(runway.sent("POST", "/v1/avatar_videos")[0].content)
    assert sent["avatar"]["avatarId"] == "av-early"


def test_runwayml_pinned_avatar_is_used_without_any_lookup() -> None:
    """RUNWAYML_AVATAR_ID: nothing is listed or made."""
    runway = FakeRunway()

    runway.adapter(avatar_id="av-pinned").submit(REQUEST)

    assert [r.url.path for r in runway.recorder.requests] == ["/v1/avatar_videos"]


def test_runwayml_avatar_still_processing_refuses_the_submit_uncharged_with_a_retry_after() -> None:
    """Avatar creation is asynchronous (PROCESSING | READY | FAILED); a submit does not wait
    forever: it is refused as transient, nothing sent to avatar_videos, nothing billed."""
    runway = FakeRunway(
        [{"id": "av-0", "name": OUR_AVATAR, "status": "PROCESSING"}], ready_after=99
    )

    with pytest.raises(ProviderError) as raised:
        runway.adapter(avatar_wait_s=0.0).submit(REQUEST)

    assert raised.value.category is ErrorCategory.TRANSIENT
    assert raised.value.charged is False
    assert raised.value.retry_after is not None
    assert runway.sent("POST", "/v1/avatar_videos") == []


def test_runwayml_failed_avatar_says_the_presenter_image_must_change() -> None:
    """A FAILED avatar is not passing: the error names the settings to change."""
    failed = {"id": "av-0", "name": OUR_AVATAR, "status": "FAILED", "failureReason": "no face"}
    runway = FakeRunway([failed])

    with pytest.raises(ProviderError) as raised:
        runway.adapter().submit(REQUEST)

    assert raised.value.category is ErrorCategory.AUTHENTICATION
    assert "no face" in raised.value.message
    assert "RUNWAYML_PROMPT_IMAGE_URL" in raised.value.message
    assert runway.sent("POST", "/v1/avatar_videos") == []


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
    and RUNWAYML_VOICE (the avatar's) through to the request bodies, with the key in the auth
    header."""
    environ = {
        "HEYGEN_API_KEY": "hk",
        "HEYGEN_AVATAR_ID": "look_123",
        "HEYGEN_VOICE_ID": "voice_456",
        "DID_API_KEY": "dk",
        "DID_SOURCE_URL_PORTRAIT": "https://img.test/portrait.jpg",
        "DID_VOICE_ID": "en-GB-SoniaNeural",
        "RUNWAYML_API_KEY": "rk",
        "RUNWAYML_PROMPT_IMAGE_URL": "https://img.test/still.jpg",
        "RUNWAYML_VOICE": "mia",
    }
    h = Recorder(ok({"data": {"video_id": "v"}}))
    d = Recorder(ok({"id": "tlk_1"}, status=201))
    runway = FakeRunway()
    r = runway.recorder

    transports = {"heygen": h, "did": d, "runwayml": r}
    for pid, recorder in transports.items():
        settings = Settings.from_env(environ | {"FUNCTIONS_EMULATOR": "true"})
        providers(settings, transport=httpx.MockTransport(recorder))[pid].submit(REQUEST)

    assert (h.last_json["avatar_id"], h.last_json["voice_id"]) == ("look_123", "voice_456")
    assert h.requests[-1].headers["X-Api-Key"] == "hk"
    assert d.last_json["source_url"] == "https://img.test/portrait.jpg"
    assert d.last_json["script"]["provider"]["voice_id"] == "en-GB-SoniaNeural"
    (made,) = runway.sent("POST", "/v1/avatars")
    assert json.loads(made.content)["referenceImage"] == "https://img.test/still.jpg"
    assert json.loads(made.content)["voice"]["presetId"] == "mia"
    assert str(h.requests[-1].url).startswith("https://api.heygen.com/")
    assert str(d.requests[-1].url).startswith("https://api.d-id.com/")
    assert str(r.requests[-1].url).startswith("https://api.dev.runwayml.com/")


def test_a_pinned_runwayml_avatar_reaches_the_request_and_needs_no_presenter_image() -> None:
    """RUNWAYML_AVATAR_ID is used as it is; with it, the presenter image may stay unset even
    against the real API (nothing is made from it)."""
    runway = FakeRunway()
    environ = {
        "HEYGEN_AVATAR_ID": "look_123",
        "HEYGEN_VOICE_ID": "voice_456",
        "DID_SOURCE_URL_LANDSCAPE": "https://img.test/landscape.jpg",
        "DID_SOURCE_URL_PORTRAIT": "https://img.test/portrait.jpg",
        "RUNWAYML_AVATAR_ID": "av-pinned",
    }
    adapters = providers(Settings.from_env(environ), transport=httpx.MockTransport(runway.recorder))
    adapters["runwayml"].submit(REQUEST)

    assert [r.url.path for r in runway.recorder.requests] == ["/v1/avatar_videos"]
    assert runway.recorder.last_json["avatar"]["avatarId"] == "av-pinned"


def test_a_runwayml_voice_that_is_not_a_preset_is_refused_at_start_up() -> None:
    """The avatar's voice is one of the thirty presets (types/avatar_create_params.py)."""
    settings = Settings.from_env({"FUNCTIONS_EMULATOR": "true", "RUNWAYML_VOICE": "Maya"})

    with pytest.raises(SettingsError) as raised:
        providers(settings)

    assert "RUNWAYML_VOICE" in str(raised.value)
