"""Provider answers are checked before anything in them is used: media URLs
are https on the provider's hosts (or the simulator's own origin), render ids are plain tokens and
quoted in paths, every answer has a byte cap and a wall-clock deadline, and no parse failure
escapes an adapter as anything but a classified ``ProviderError`` (or a ``WebhookError``)."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared.adapters.providers import SubmitRequest, VideoProvider, WebhookError, WebhookRequest
from shared.adapters.providers._http import id_path, media_url_problem
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from shared.core.errors import ErrorCategory, ProviderError
from tests.support.adapters import AdapterFactory, a_request, poll

Handler = Callable[[httpx.Request], httpx.Response]
REQUEST = SubmitRequest(job_id="job-7", attempt=1, script="Hello there.")


def adapter(provider: str, handler: Handler, **settings: Any) -> VideoProvider:
    transport = httpx.MockTransport(handler)
    common: dict[str, Any] = {"api_key": "k", "transport": transport} | settings
    if provider == "heygen":
        return HeyGenProvider(**common)
    if provider == "runwayml":
        return RunwayMLProvider(**{"avatar_id": "av-1"} | common)  # no avatar lookup
    return DIDProvider(**common)


def completed(provider: str, url: str, thumbnail: str | None = None) -> dict[str, Any]:
    """A documented 'finished' answer of each provider carrying ``url`` as its video."""
    if provider == "heygen":
        data: dict[str, Any] = {"status": "completed", "video_url": url}
        if thumbnail is not None:
            data["thumbnail_url"] = thumbnail
        return {"data": data}
    if provider == "runwayml":
        return {"id": "task-1", "status": "SUCCEEDED", "output": [url]}
    return {"id": "tlk_1", "status": "done", "result_url": url}


def status_of(provider: str, payload: dict[str, Any], **settings: Any) -> Any:
    render_id = {"heygen": "vid1", "runwayml": "task-1", "did": "tlk_1"}[provider]
    answer = adapter(provider, lambda r: httpx.Response(200, json=payload), **settings)
    return answer.status(render_id)


PROVIDERS = ("heygen", "runwayml", "did")
DOCUMENTED = {
    "heygen": "https://files2.heygen.ai/aws_pacific/v.mp4?Expires=1&Signature=x",
    "runwayml": "https://dnznrvs05pmza.cloudfront.net/output.mp4?_jwt=abc",
    "did": "https://d-id-talks-prod.s3.us-west-2.amazonaws.com/u/tlk_1/v.mp4?Expires=1",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_video_url_on_the_providers_documented_host_is_accepted(provider: str) -> None:
    assert (
        status_of(provider, completed(provider, DOCUMENTED[provider])).video_url
        == (DOCUMENTED[provider])
    )


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "http://169.254.169.254/latest/meta-data/",  # link-local metadata service, plain http
        "https://evil.example/video.mp4",
        "http://files2.heygen.ai/v.mp4",  # the right host without TLS
        "https://files2.heygen.ai:8443/v.mp4",
        "https://user:pw@d-id-talks-prod.s3.amazonaws.com/v.mp4",
        "//files2.heygen.ai/v.mp4",
        "https://files2.heygen.ai/v.mp4\nSet-Cookie: x",
    ],
)
def test_a_finished_render_with_an_unusable_url_is_a_charged_malformed_answer(
    provider: str, url: str
) -> None:
    """Never stored as the result: a classified, charged API failure instead."""
    with pytest.raises(ProviderError) as info:
        status_of(provider, completed(provider, url))
    assert info.value.category is ErrorCategory.API_FAILURE
    assert info.value.charged


def test_the_media_hosts_are_a_per_adapter_setting() -> None:
    """A deployment can allow another CDN without a code change; the default is then gone."""
    url = "https://cdn.example.net/v.mp4"
    assert status_of("did", completed("did", url), media_hosts=("cdn.example.net",)).video_url
    with pytest.raises(ProviderError):
        status_of("did", completed("did", DOCUMENTED["did"]), media_hosts=("cdn.example.net",))
    leading_dot = status_of("heygen", completed("heygen", url), media_hosts=(".example.net",))
    assert leading_dot.video_url == url


def test_the_base_urls_own_origin_is_accepted_as_the_simulator_serves_it() -> None:
    base = "http://127.0.0.1:8790/heygen"
    assert (
        media_url_problem("http://127.0.0.1:8790/_files/x.mp4", allowed_hosts=(), base_url=base)
        is None
    )
    assert media_url_problem("http://127.0.0.1:8791/_files/x.mp4", allowed_hosts=(), base_url=base)


def test_a_bad_thumbnail_is_dropped_not_stored() -> None:
    payload = completed("heygen", DOCUMENTED["heygen"], thumbnail="javascript:alert(1)")
    status = status_of("heygen", payload)
    assert status.video_url == DOCUMENTED["heygen"]
    assert status.thumbnail_url is None


# --- render ids ---------------------------------------------------------------------------


SUBMIT_ANSWERS = {
    "heygen": lambda rid: {"data": {"video_id": rid}},
    "runwayml": lambda rid: {"id": rid},
    "did": lambda rid: {"id": rid, "status": "created"},
}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("render_id", ["../../v1/organization", "a/b", "a b", "x" * 200, "", "%2e"])
def test_an_accepted_submit_with_a_render_id_that_is_not_a_plain_token_is_refused(
    provider: str, render_id: str
) -> None:
    """A render id goes into later request paths with our key: it must be a plain token."""
    answer = SUBMIT_ANSWERS[provider](render_id)
    made = adapter(provider, lambda r: httpx.Response(201, json=answer))
    with pytest.raises(ProviderError) as info:
        made.submit(REQUEST)
    assert info.value.category is ErrorCategory.API_FAILURE
    assert info.value.charged  # accepted, so possibly billed


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_status_for_an_id_that_is_not_a_plain_token_is_never_sent(provider: str) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(ProviderError):
        adapter(provider, record).status("../credits")
    assert sent == []


def test_ids_are_percent_quoted_in_paths() -> None:
    assert id_path("/v3/videos/{id}", "a/../b?c#d") == "/v3/videos/a%2F..%2Fb%3Fc%23d"


# --- size, time, parse --------------------------------------------------------------------


def test_an_answer_declared_over_the_byte_cap_is_refused_unread() -> None:
    big = b'{"data": {"status": "' + b"x" * 2_000 + b'"}}'
    made = adapter("heygen", lambda r: httpx.Response(200, content=big), max_response_bytes=1_000)
    with pytest.raises(ProviderError) as info:
        made.status("vid1")
    assert info.value.category is ErrorCategory.API_FAILURE


def test_a_streamed_answer_stops_being_read_at_the_byte_cap() -> None:
    """No Content-Length: the reader stops at the cap, it never holds the whole body."""
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            produced.append(1)
            yield b"[" * 10_000

    made = adapter(
        "did", lambda r: httpx.Response(200, content=endless()), max_response_bytes=50_000
    )
    with pytest.raises(ProviderError) as info:
        made.status("tlk_1")
    assert info.value.category is ErrorCategory.API_FAILURE
    assert len(produced) <= 7


def test_a_trickling_answer_is_cut_at_the_wall_clock_deadline() -> None:
    """A byte at a time never trips a read timeout; the deadline ends the call anyway."""

    def trickle() -> Iterator[bytes]:
        for byte in json.dumps({"id": "tlk_1", "status": "created"}).encode():
            time.sleep(0.05)
            yield bytes([byte])

    made = adapter("did", lambda r: httpx.Response(200, content=trickle()), deadline_s=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        made.status("tlk_1")
    assert time.monotonic() - started < 1.0
    assert info.value.category is ErrorCategory.TIMEOUT


def test_a_submit_cut_at_its_deadline_counts_as_possibly_charged() -> None:
    def trickle() -> Iterator[bytes]:
        for byte in b'{"id": "tlk_1"}':
            time.sleep(0.05)
            yield bytes([byte])

    made = adapter("did", lambda r: httpx.Response(201, content=trickle()), deadline_s=0.2)
    with pytest.raises(ProviderError) as info:
        made.submit(REQUEST)
    assert info.value.charged


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_deeply_nested_json_is_a_classified_error_not_a_recursion_error(
    provider: str, status: int
) -> None:
    made = adapter(provider, lambda r: httpx.Response(status, content=NESTED))
    with pytest.raises(ProviderError) as info:
        made.status("tlk_1" if provider == "did" else "vid1")
    expected = ErrorCategory.API_FAILURE
    assert info.value.category is expected


def test_a_deeply_nested_webhook_body_is_a_400() -> None:
    made = adapter("did", lambda r: httpx.Response(200, json={}))
    request = WebhookRequest(body=NESTED, query={"job": "job-7", "token": "t"})
    with pytest.raises(WebhookError) as info:
        made.parse_webhook(request, expected_token="t")
    assert info.value.status == 400


def test_simulator_videos_on_the_base_urls_origin_still_complete(
    make_adapter: AdapterFactory,
) -> None:
    """The simulator serves http on 127.0.0.1: its origin is the adapter's base URL's."""
    did = make_adapter("did")
    submission = did.submit(a_request())
    status = poll(did, submission.provider_job_id, expected_duration_s=None)
    assert status.video_url is not None
    assert status.video_url.startswith("http://127.0.0.1:")


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A loopback HTTP server that answers one byte of its status line every 50 ms, forever:
    each socket read gets a byte well within any read timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: "):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]) if byte != 13 else b"a")
                    except OSError:
                        break
                    time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    listener.close()


def test_a_trickled_status_line_and_headers_are_cut_at_the_deadline_too(
    trickling_server: str,
) -> None:
    """Before any body, httpx reads the status line and headers: the deadline bounds that part
    of the answer as well (each read is given only what is left of it)."""
    made = HeyGenProvider(
        api_key="k",
        base_url=trickling_server,
        timeout=httpx.Timeout(5.0, connect=1.0),
        deadline_s=0.5,
    )
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as info:
            made.status("vid1")
    finally:
        made.close()
    assert time.monotonic() - started < 1.5
    assert info.value.category is ErrorCategory.TIMEOUT


@pytest.mark.parametrize("duration", [b"NaN", b"Infinity", b"-Infinity", b"1" + b"0" * 400])
def test_a_number_no_float_can_hold_is_read_as_unknown(duration: bytes) -> None:
    """float() of a 400-digit JSON integer raises OverflowError; NaN would pass any check."""
    body = b'{"data": {"status": "completed", "video_url": "' + DOCUMENTED["heygen"].encode()
    body += b'", "duration": ' + duration + b"}}"
    made = adapter("heygen", lambda r: httpx.Response(200, content=body))
    status = made.status("vid1", expected_duration_s=60)
    assert status.duration_s is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_huge_failure_text_is_clipped_before_it_reaches_a_stored_message(provider: str) -> None:
    """The job keeps the error message: a megabyte of provider text must not go with it."""
    text = "x" * 500_000
    failed = {
        "heygen": {"data": {"status": "failed", "failure_message": text, "failure_code": text}},
        "runwayml": {"id": "task-1", "status": "FAILED", "failure": text, "failureCode": text},
        "did": {"id": "tlk_1", "status": "error", "error": {"kind": text, "description": text}},
    }[provider]
    with pytest.raises(ProviderError) as info:
        status_of(provider, failed)
    assert len(info.value.message) < 400
    assert info.value.provider_code is None or len(info.value.provider_code) <= 64
