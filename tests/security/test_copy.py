"""The copy of a finished video into our bucket, read as an attacker who controls a source URL
(or what it redirects to): every hop is checked, the whole copy is bounded in time and size, and
what is stored is a video or an image whatever the source claims (shared/adapters/storage.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest

from shared.adapters.storage import (
    MAX_THUMBNAIL_BYTES,
    MAX_VIDEO_BYTES,
    CopyPolicy,
    DeliveryError,
    MemoryBucket,
    thumbnail_name,
    video_name,
)

MEDIA = (".heygen.ai",)
PUBLIC = "93.184.216.34"


def resolver(table: dict[str, str]) -> Callable[[str, int], Iterable[str]]:
    return lambda host, port: [table.get(host, PUBLIC)]


def videos_on(
    handler: Callable[[httpx.Request], httpx.Response], policy: CopyPolicy
) -> MemoryBucket:
    return MemoryBucket(policy=policy, http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_a_redirect_to_a_private_address_is_refused_and_never_fetched() -> None:
    """An allowed media URL redirects to an internal service: http, then an allowed name that
    resolves to 10.0.0.5; neither is requested, nothing is kept."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.headers['host']}{request.url.path}")
        if request.url.path == "/v.mp4":
            return httpx.Response(302, headers={"location": "http://10.0.0.5:8080/internal"})
        if request.url.path == "/w.mp4":
            return httpx.Response(302, headers={"location": "https://evil.heygen.ai/secret"})
        return httpx.Response(200, content=b"internal secret")

    policy = CopyPolicy(media_hosts=MEDIA, resolve=resolver({"evil.heygen.ai": "10.0.0.5"}))
    videos = videos_on(handler, policy)
    with pytest.raises(DeliveryError, match="non-https"):
        videos.keep("https://resource.heygen.ai/v.mp4", video_name("u1", "vj_1"))
    with pytest.raises(DeliveryError, match="not a public address"):
        videos.keep("https://resource.heygen.ai/w.mp4", video_name("u1", "vj_2"))
    assert seen == ["resource.heygen.ai/v.mp4", "resource.heygen.ai/w.mp4"]
    assert videos.objects == {}


def test_a_redirect_off_the_media_hosts_or_to_loopback_is_refused() -> None:
    """A hop to a host that is not a provider's media host, or to a name that resolves to
    loopback or link-local (the metadata server), is refused."""
    targets = iter(["https://attacker.example/x", "https://meta.heygen.ai/computeMetadata"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": next(targets)})

    policy = CopyPolicy(media_hosts=MEDIA, resolve=resolver({"meta.heygen.ai": "169.254.169.254"}))
    videos = videos_on(handler, policy)
    with pytest.raises(DeliveryError, match="not a media host"):
        videos.keep("https://resource.heygen.ai/a.mp4", video_name("u1", "vj_3"))
    with pytest.raises(DeliveryError, match="not a public address"):
        videos.keep("https://resource.heygen.ai/b.mp4", video_name("u1", "vj_4"))
    loopback = CopyPolicy(media_hosts=MEDIA, resolve=resolver({"resource.heygen.ai": "::1"}))
    with pytest.raises(DeliveryError, match="not a public address"):
        videos_on(handler, loopback).keep("https://resource.heygen.ai/c.mp4", "videos/u/c.mp4")


def test_each_hop_is_requested_on_the_address_checked_with_its_own_name() -> None:
    """No second DNS lookup: the request goes to the checked address, with the Host header and
    TLS name of the URL's host, so a rebinding answer cannot steer it."""
    asked: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(
            (request.url.host, request.headers["host"], request.extensions["sni_hostname"])
        )
        return httpx.Response(200, content=b"\0\0\0\x18ftypmp42")

    videos = videos_on(handler, CopyPolicy(media_hosts=MEDIA, resolve=resolver({})))
    videos.keep("https://resource.heygen.ai/v.mp4", video_name("u1", "vj_5"))
    assert asked == [(PUBLIC, "resource.heygen.ai", "resource.heygen.ai")]


def test_an_oversized_video_is_refused_from_its_declared_length_before_its_body() -> None:
    """A Content-Length past the cap (the longest video a tier allows at a generous bitrate) is
    refused before a byte of the body is read."""
    pulled: list[int] = []

    def body() -> Iterator[bytes]:
        pulled.append(1)
        yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-length": str(MAX_VIDEO_BYTES + 1)}
        return httpx.Response(200, headers=headers, content=body())

    videos = videos_on(handler, CopyPolicy(resolve=resolver({})))
    with pytest.raises(DeliveryError, match="larger than"):
        videos.keep("https://resource.heygen.ai/v.mp4", video_name("u1", "vj_6"))
    assert pulled == []
    assert 100_000_000 < MAX_VIDEO_BYTES < 512 * 1024 * 1024


def test_an_oversized_source_without_a_length_is_cut_off_at_the_cap() -> None:
    """A source that never says its length and keeps sending is stopped at the cap."""
    sent: list[int] = []
    chunk = b"\xff" * (1 << 20)

    def body() -> Iterator[bytes]:
        for _ in range(1000):
            sent.append(len(chunk))
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    videos = videos_on(handler, CopyPolicy(resolve=resolver({})))
    with pytest.raises(DeliveryError, match="larger than"):
        videos.keep("https://resource.heygen.ai/t.jpg", thumbnail_name("u1", "vj_7"))
    assert MAX_THUMBNAIL_BYTES <= sum(sent) <= MAX_THUMBNAIL_BYTES + len(chunk)
    assert videos.objects == {}


def test_a_slow_drip_source_is_refused_within_the_copy_deadline() -> None:
    """A byte every 50 ms keeps every read alive; the copy's overall deadline ends it."""

    def body() -> Iterator[bytes]:
        for _ in range(10_000):
            time.sleep(0.05)
            yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    videos = videos_on(handler, CopyPolicy(resolve=resolver({}), deadline_s=0.5))
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="deadline"):
        videos.keep("https://resource.heygen.ai/v.mp4", video_name("u1", "vj_8"))
    assert time.monotonic() - started < 1.0
    assert videos.objects == {}


def test_what_is_stored_is_a_video_or_an_image_whatever_the_source_claims() -> None:
    """A source answering text/html is stored as video/mp4 (a thumbnail as image/jpeg, or
    image/png by its signature): our download URL never serves a page."""
    bodies = {"/v": b"<script>alert(1)</script>", "/t": b"<html>", "/p": b"\x89PNG\r\n\x1a\n.."}

    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies[request.url.path]
        return httpx.Response(200, headers={"content-type": "text/html"}, content=body)

    videos = videos_on(handler, CopyPolicy(resolve=resolver({})))
    videos.keep("https://resource.heygen.ai/v", "videos/u1/a.mp4")
    videos.keep("https://resource.heygen.ai/t", "thumbnails/u1/a.jpg")
    videos.keep("https://resource.heygen.ai/p", "thumbnails/u1/b.jpg")
    assert videos.types == {
        "videos/u1/a.mp4": "video/mp4",
        "thumbnails/u1/a.jpg": "image/jpeg",
        "thumbnails/u1/b.jpg": "image/png",
    }


def test_only_the_configured_emulator_origins_are_read_over_http_on_loopback() -> None:
    """The simulator's exact origin is trusted as configured; another port on the same host
    is not."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"video")

    videos = videos_on(handler, CopyPolicy(trusted_origins=("http://127.0.0.1:8790",)))
    videos.keep("http://127.0.0.1:8790/_files/v.mp4", "videos/u1/sim.mp4")
    with pytest.raises(DeliveryError, match="non-https"):
        videos.keep("http://127.0.0.1:8791/_files/v.mp4", "videos/u1/other.mp4")
