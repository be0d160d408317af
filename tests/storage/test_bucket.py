"""shared/adapters/storage.py against the real Cloud Storage emulator of the local stack, copying
from the provider simulator's expiring URLs: what is kept is the provider's bytes, its URL serves
them without credentials, and an expired or unreachable source is told apart."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client

from shared.adapters import media
from shared.adapters.storage import (
    SUBTITLES_TYPE,
    TOKEN_METADATA,
    CloudStorageBucket,
    CopyPolicy,
    DeliveryError,
    download_url,
    subtitles_name,
    video_name,
)
from tests.support.stacks import BUCKET
from tools.provider_sim import ProviderSim


@pytest.fixture(scope="module")
def sim() -> Iterator[ProviderSim]:
    with ProviderSim.in_process() as running:
        yield running


@pytest.fixture
def videos(
    storage_emulator: str, sim: ProviderSim, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudStorageBucket]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
    client = Client(project="demo-cvplus", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    kept = CloudStorageBucket(client, BUCKET, emulator_host=storage_emulator, policy=trusting(sim))
    yield kept
    kept.close()


def trusting(sim: ProviderSim) -> CopyPolicy:
    """Reads the simulator's origin as it is (http, on a loopback address)."""
    return CopyPolicy(trusted_origins=(sim.url,))


def a_video_url(sim: ProviderSim) -> tuple[str, bytes]:
    """A finished HeyGen render's presigned URL, and the bytes it serves."""
    answer = httpx.post(
        f"{sim.base_url('heygen')}/v3/videos",
        headers={"X-Api-Key": "k"},
        json={"type": "avatar", "avatar_id": "a", "script": "hello there", "voice_id": "v"},
    )
    assert answer.status_code == 200, answer.text
    video_id = answer.json()["data"]["video_id"]
    url = f"{sim.url}/_files/heygen/{video_id}.mp4?expires=1e18"
    return url, httpx.get(url, timeout=5.0).content  # a real MP4 of the render


def test_a_kept_video_is_the_providers_bytes_served_by_its_url(
    videos: CloudStorageBucket, sim: ProviderSim
) -> None:
    source, expected = a_video_url(sim)
    name = video_name("user 1", "vj_abc")
    kept = videos.keep(source, name)

    assert kept.path == f"gs://{BUCKET}/{name}"
    played = httpx.get(kept.url)  # no credentials: the URL is the access
    assert played.status_code == 200
    assert played.content == expected
    assert played.headers["content-type"] == "video/mp4"  # forced, whatever the source said
    blob = videos.client.bucket(BUCKET).get_blob(name)
    token = parse_qs(urlsplit(kept.url).query)["token"][0]
    assert blob.metadata == {TOKEN_METADATA: token}  # what Firebase's download URL checks
    assert blob.size == len(expected)


def test_the_production_url_is_firebases_download_token_url() -> None:
    url = download_url(BUCKET, "videos/u1/vj 1.mp4", "tok")
    assert url == (
        "https://firebasestorage.googleapis.com/v0/b/demo-cvplus.firebasestorage.app/o/"
        "videos%2Fu1%2Fvj%201.mp4?alt=media&token=tok"
    )


def test_an_expired_provider_url_is_an_expired_delivery_error(
    videos: CloudStorageBucket, sim: ProviderSim
) -> None:
    """The simulator answers 403 past a URL's expiry, as S3 does: nothing is written."""
    source, _ = a_video_url(sim)
    expired = source.replace("expires=1e18", "expires=0")
    name = video_name("u1", "vj_expired")
    with pytest.raises(DeliveryError, match="403") as caught:
        videos.keep(expired, name)
    assert caught.value.expired
    assert videos.client.bucket(BUCKET).get_blob(name) is None


def test_an_unreachable_bucket_is_a_delivery_error_worth_retrying(
    storage_emulator: str, sim: ProviderSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our side failed (here: a bucket that does not exist): not expired, so tried again."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
    client = Client(project="demo-cvplus", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    videos = CloudStorageBucket(
        client, "no-such-bucket", emulator_host=storage_emulator, policy=trusting(sim)
    )
    source, _ = a_video_url(sim)
    with pytest.raises(DeliveryError) as caught:
        videos.keep(source, video_name("u1", "vj_nobucket"))
    videos.close()
    assert not caught.value.expired


def test_copying_the_same_video_again_keeps_its_url(
    storage_emulator: str, sim: ProviderSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second copy (a retried task, a duplicate webhook racing the poll) overwrites the object
    with the same token: the URL the job already holds still plays."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
    client = Client(project="demo-cvplus", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    videos = CloudStorageBucket(
        client, BUCKET, emulator_host=storage_emulator, policy=trusting(sim)
    )
    source, expected = a_video_url(sim)
    name = video_name("u1", "vj_twice")
    first = videos.keep(source, name)
    second = videos.keep(source, name)
    other = videos.keep(source, video_name("u1", "vj_other"))
    videos.close()
    assert first == second
    assert httpx.get(first.url).content == expected
    token = parse_qs(urlsplit(first.url).query)["token"][0]
    assert token not in other.url  # each object its own token


def test_rotating_replaces_the_objects_token_and_deleting_removes_it(
    videos: CloudStorageBucket, sim: ProviderSim
) -> None:
    """On the emulator: rotate writes a new random token to the object's metadata (what
    Firebase's download URL checks) and answers the URL carrying it; delete removes the
    object, and rotating a missing object answers None."""
    source, expected = a_video_url(sim)
    name = video_name("u1", "vj_rotate")
    kept = videos.keep(source, name)
    rotated = videos.rotate(name)
    assert rotated is not None
    blob = videos.client.bucket(BUCKET).get_blob(name)
    new = parse_qs(urlsplit(rotated).query)["token"][0]
    assert blob.metadata == {TOKEN_METADATA: new}
    assert new != parse_qs(urlsplit(kept.url).query)["token"][0]
    assert httpx.get(rotated).content == expected
    assert videos.delete(name) is True
    assert videos.client.bucket(BUCKET).get_blob(name) is None
    assert videos.delete(name) is False
    assert videos.rotate(name) is None


def test_captions_we_wrote_are_stored_beside_the_video_and_served_as_webvtt(
    videos: CloudStorageBucket,
) -> None:
    """`put`: our own bytes, typed text/vtt, with a download token like the video's."""
    data = b"WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.200\nHello there.\n"
    name = subtitles_name("u1", "vj_vtt")
    kept = videos.put(data, name, SUBTITLES_TYPE)
    assert kept.path == f"gs://{BUCKET}/videos/u1/vj_vtt.vtt"
    played = httpx.get(kept.url)
    assert played.status_code == 200
    assert played.content == data
    assert played.headers["content-type"].startswith("text/vtt")
    assert videos.put(data, name, SUBTITLES_TYPE) == kept  # written again: the same URL


def test_a_kept_video_is_read_back_as_the_mp4_the_provider_rendered(
    videos: CloudStorageBucket, sim: ProviderSim
) -> None:
    """Our stored copy opens seekable from the bucket, and its container says what HeyGen was
    asked for: a 1080p 16:9 video with an audio track."""
    source, expected = a_video_url(sim)
    name = video_name("user 1", "vj_readback")
    videos.keep(source, name)

    with videos.open(name) as file:
        assert file.read() == expected
        container = media.read(file)

    assert (container.width, container.height, container.audio) == (1920, 1080, True)
    assert container.duration_s > 0
