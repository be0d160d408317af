"""Finished videos kept in Cloud Storage (DESIGN section 4, step 6): a provider's video URL
expires (HeyGen's and D-ID's are presigned, RunwayML's last 24-48 h), so the shell copies the
video and its thumbnail into our bucket before the job completes, and the job holds our object
(``storagePath``) and a URL that plays it for as long as the object exists.

The playable URL is a Firebase Storage download URL: the object carries a random token in its
``firebaseStorageDownloadTokens`` metadata, and ``/v0/b/<bucket>/o/<name>?alt=media&token=<t>``
serves it to whoever holds the URL, without a service-account key and without an expiry (a V4
signed URL needs a key or the IAM signBlob permission, and lives at most 7 days: the very
problem this solves). On the storage emulator the same object is served by the JSON API's
download path, which the emulator answers without credentials.

    vault = CloudStorageVault(client, bucket="my-project.firebasestorage.app")
    kept = vault.keep(provider_url, "videos/<uid>/<jobId>.mp4")   # -> Kept(path, url)

A provider URL that no longer answers (403, 404 or 410: expired or gone) raises
``DeliveryError(expired=True)``; any other failure (network, our bucket) ``expired=False``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import IO, Any, Protocol
from urllib.parse import quote

import httpx

FIREBASE_DOWNLOAD_BASE = "https://firebasestorage.googleapis.com"
TOKEN_METADATA = "firebaseStorageDownloadTokens"
EXPIRED_STATUSES = frozenset({403, 404, 410})
MAX_VIDEO_BYTES = 512 * 1024 * 1024  # a 90 s 1080p introduction is tens of MB
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_SPOOL_BYTES = 8 * 1024 * 1024  # kept in memory up to this, then in a temporary file


class DeliveryError(Exception):
    """The video could not be copied. ``expired``: the provider's URL answered 403/404/410,
    so only a fresh URL from the provider can help."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class Kept:
    """Our copy: ``path`` is ``gs://bucket/name``, ``url`` plays it."""

    path: str
    url: str


class Vault(Protocol):
    def keep(self, source_url: str, name: str) -> Kept: ...

    def open(self, name: str) -> IO[bytes]:
        """Our stored object ``name``, seekable (read in ranges where the bucket allows), so
        the delivered file itself can be checked (`shared.adapters.media`)."""
        ...


def video_name(user_id: str, job_id: str) -> str:
    return f"videos/{user_id or 'anonymous'}/{job_id}.mp4"


def thumbnail_name(user_id: str, job_id: str) -> str:
    return f"thumbnails/{user_id or 'anonymous'}/{job_id}.jpg"


def download_url(bucket: str, name: str, token: str, *, emulator_host: str | None = None) -> str:
    """The URL that serves ``name`` to whoever holds it: Firebase's download-token URL, or on
    the storage emulator its JSON API download path (which ignores the token)."""
    quoted = quote(name, safe="")
    if emulator_host:
        base = emulator_host.rstrip("/")
        return f"{base}/download/storage/v1/b/{bucket}/o/{quoted}?alt=media&token={token}"
    return f"{FIREBASE_DOWNLOAD_BASE}/v0/b/{bucket}/o/{quoted}?alt=media&token={token}"


@dataclass(frozen=True, slots=True)
class _Fetched:
    body: IO[bytes]
    size: int
    content_type: str


def fetch(http: httpx.Client, url: str, *, max_bytes: int = MAX_VIDEO_BYTES) -> _Fetched:
    """Download ``url`` into a spooled temporary file (the caller closes ``body``)."""
    if not url:
        raise DeliveryError("the provider gave no video URL", expired=True)
    body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned)
    try:
        with http.stream("GET", url, follow_redirects=True) as answer:
            if answer.status_code in EXPIRED_STATUSES:
                raise DeliveryError(
                    f"the provider's URL answered {answer.status_code}: expired or gone",
                    expired=True,
                )
            if answer.status_code != 200:
                raise DeliveryError(
                    f"the provider's URL answered {answer.status_code}", expired=False
                )
            size = 0
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise DeliveryError(f"larger than {max_bytes} bytes", expired=False)
                body.write(chunk)
            content_type = answer.headers.get("content-type", "").split(";")[0].strip()
    except httpx.HTTPError as exc:
        body.close()
        raise DeliveryError(f"downloading the video failed: {exc!r}", expired=False) from exc
    except DeliveryError:
        body.close()
        raise
    if size == 0:
        body.close()
        raise DeliveryError("the provider's URL answered an empty body", expired=False)
    body.seek(0)
    return _Fetched(body=body, size=size, content_type=content_type)


def download_token(key: bytes, name: str) -> str:
    """The object's download token: derived from ``key`` (the internal secret) and its name,
    so copying the same video again (a retried task, a duplicate webhook racing the poll) keeps
    the token and every URL already handed out. Without a key, a random one."""
    if not key:
        return uuid.uuid4().hex
    return hmac.new(key, f"download-token:{name}".encode(), hashlib.sha256).hexdigest()[:40]


@dataclass
class CloudStorageVault:
    """Copies into a Cloud Storage bucket with google-cloud-storage. ``emulator_host``: the
    storage emulator's URL (``STORAGE_EMULATOR_HOST``), which the client also reads;
    ``token_key``: derives the download tokens (`download_token`)."""

    client: Any  # google.cloud.storage.Client (untyped)
    bucket: str
    emulator_host: str | None = None
    token_key: bytes = b""
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=DOWNLOAD_TIMEOUT))

    def keep(self, source_url: str, name: str) -> Kept:
        from google.api_core import exceptions as gexc

        fetched = fetch(self.http, source_url)
        token = download_token(self.token_key, f"{self.bucket}/{name}")
        try:
            blob = self.client.bucket(self.bucket).blob(name)
            blob.metadata = {TOKEN_METADATA: token}
            blob.cache_control = "private, max-age=86400"
            blob.upload_from_file(
                fetched.body,
                size=fetched.size,
                content_type=fetched.content_type or _guess_type(name),
            )
        except (gexc.GoogleAPICallError, OSError, ValueError) as exc:
            raise DeliveryError(
                f"writing gs://{self.bucket}/{name} failed: {exc!r}", expired=False
            ) from exc
        finally:
            fetched.body.close()
        return Kept(
            path=f"gs://{self.bucket}/{name}",
            url=download_url(self.bucket, name, token, emulator_host=self.emulator_host),
        )

    def open(self, name: str) -> IO[bytes]:
        from google.api_core import exceptions as gexc

        try:
            reader: IO[bytes] = self.client.bucket(self.bucket).blob(name).open("rb")
        except (gexc.GoogleAPICallError, OSError, ValueError) as exc:
            raise DeliveryError(
                f"reading gs://{self.bucket}/{name} failed: {exc!r}", expired=False
            ) from exc
        return reader

    def close(self) -> None:
        self.http.close()


@dataclass
class MemoryVault:
    """The same copy into a dict (tests): the download is real, the bucket is not."""

    bucket: str = "memory-bucket"
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=DOWNLOAD_TIMEOUT))
    objects: dict[str, bytes] = field(default_factory=dict)
    down: bool = False  # True: writes fail, as when the bucket is unreachable

    def keep(self, source_url: str, name: str) -> Kept:
        fetched = fetch(self.http, source_url)
        with fetched.body:
            data = fetched.body.read()
        if self.down:
            raise DeliveryError(f"writing gs://{self.bucket}/{name} failed: down", expired=False)
        self.objects[name] = data
        return Kept(path=f"gs://{self.bucket}/{name}", url=f"memory://{self.bucket}/{name}")

    def open(self, name: str) -> IO[bytes]:
        return io.BytesIO(self.objects[name])


def _guess_type(name: str) -> str:
    return "image/jpeg" if name.endswith(".jpg") else "video/mp4"
