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

    videos = CloudStorageBucket(client, bucket="my-project.firebasestorage.app")
    kept = videos.keep(provider_url, "videos/<uid>/<jobId>.mp4")   # -> Kept(path, url)

A provider URL that no longer answers (403, 404 or 410: expired or gone) raises
``DeliveryError(expired=True)``; any other failure (network, our bucket) ``expired=False``.

The source URL is someone else's, so the copy trusts nothing it says (`CopyPolicy`, `opened`):
redirects are followed here, every hop https to a media host on public addresses only (the
connection goes to the address checked), the whole copy ends within ``COPY_DEADLINE_S``, past
``MAX_VIDEO_BYTES`` it stops, and the stored type is ours (`content_type`). It streams: the
upload reads the download chunk by chunk, never all of it.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Protocol
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import httpx

from shared.adapters.providers._http import host_allowed, origin
from shared.adapters.providers.base import DURATION_FACTOR, DURATION_SLACK_S
from shared.core.model import ASKABLE_DURATIONS

log = logging.getLogger("cvplus")

FIREBASE_DOWNLOAD_BASE = "https://firebasestorage.googleapis.com"
TOKEN_METADATA = "firebaseStorageDownloadTokens"
EXPIRED_STATUSES = frozenset({403, 404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5

# The size cap of a video: the longest any tier may ask for (90 s, shared.core.tiers), as long
# as the length check still accepts it (x DURATION_FACTOR + DURATION_SLACK_S: 185 s), at
# 16 Mbit/s (2 MB/s), twice the 8 Mbit/s YouTube recommends for 1080p30 uploads: a generous
# bound for a talking head, whose encoders use far less. About 370 MB.
VIDEO_BITRATE_BOUND_BYTES_S = 2_000_000
LONGEST_VIDEO_S = max(d.seconds for d in ASKABLE_DURATIONS) * DURATION_FACTOR + DURATION_SLACK_S
MAX_VIDEO_BYTES = int(LONGEST_VIDEO_S * VIDEO_BITRATE_BOUND_BYTES_S)
MAX_THUMBNAIL_BYTES = 10 * 1024 * 1024
# The whole copy (every hop, every byte, our upload) must end within this: at the bitrate
# bound's 2 MB/s, the largest video takes about 3 minutes; the worker's own timeout is longer.
COPY_DEADLINE_S = 240.0
DOWNLOAD_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024  # the resumable upload's chunk: a multiple of 256 KiB
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


class VideoBucket(Protocol):
    bucket: str

    def keep(self, source_url: str, name: str) -> Kept: ...

    def put(self, data: bytes, name: str, content_type: str) -> Kept:
        """Store ``data`` we made ourselves (a subtitles file) as ``name``; DeliveryError when
        the bucket refuses it."""
        ...

    def rotate(self, name: str) -> str | None:
        """A new download token for ``name``: the URL that now plays it (every earlier URL
        stops working), or None when there is no such object."""
        ...

    def delete(self, name: str) -> bool:
        """Remove ``name`` (True: it was there)."""
        ...

    def open(self, name: str) -> IO[bytes]:
        """Our stored object ``name``, seekable (read in ranges where the bucket allows), so
        the delivered file itself can be checked (`shared.adapters.media`)."""
        ...


def video_name(user_id: str, job_id: str) -> str:
    return f"videos/{user_id or 'anonymous'}/{job_id}.mp4"


def thumbnail_name(user_id: str, job_id: str) -> str:
    return f"thumbnails/{user_id or 'anonymous'}/{job_id}.jpg"


def subtitles_name(user_id: str, job_id: str) -> str:
    """The video's WebVTT captions, beside it (same owner folder, same job name)."""
    return f"videos/{user_id or 'anonymous'}/{job_id}.vtt"


SUBTITLES_TYPE = "text/vtt; charset=utf-8"  # WebVTT's registered media type
MAX_SUBTITLES_BYTES = 256 * 1024  # a 5,000-character script makes well under 20 KB


def object_name(bucket: str, path: str | None) -> str | None:
    """The object name of a ``gs://bucket/name`` path in ``bucket`` (None: not one of ours)."""
    prefix = f"gs://{bucket}/"
    if not path or not path.startswith(prefix) or len(path) == len(prefix):
        return None
    return path[len(prefix) :]


def download_url(bucket: str, name: str, token: str, *, emulator_host: str | None = None) -> str:
    """The URL that serves ``name`` to whoever holds it: Firebase's download-token URL, or on
    the storage emulator its JSON API download path (which ignores the token)."""
    quoted = quote(name, safe="")
    if emulator_host:
        base = emulator_host.rstrip("/")
        return f"{base}/download/storage/v1/b/{bucket}/o/{quoted}?alt=media&token={token}"
    return f"{FIREBASE_DOWNLOAD_BASE}/v0/b/{bucket}/o/{quoted}?alt=media&token={token}"


def new_download_token() -> str:
    """A fresh download token: random, so it says nothing about the object or our secret, and
    replacing it revokes every URL handed out before."""
    return secrets.token_hex(20)


# ---------------------------------------------------------------------------------------------
# The download: every hop checked, the whole of it bounded in time and size.


@dataclass(frozen=True, slots=True)
class CopyPolicy:
    """Where a copy may read from. ``media_hosts``: the hosts (``.domain`` admits subdomains)
    an https hop may name, the providers' media hosts; empty admits any public host.
    ``trusted_origins``: exact ``scheme://host:port`` origins read as they are, over http and
    on local addresses: the provider simulator's and the emulators' configured URLs only."""

    media_hosts: tuple[str, ...] = ()
    trusted_origins: tuple[str, ...] = ()
    deadline_s: float = COPY_DEADLINE_S
    resolve: Callable[[str, int], Iterable[str]] = field(default=lambda h, p: _resolve(h, p))

    def trusted(self, url: str) -> bool:
        got = origin(url)
        return got is not None and any(got == origin(t) for t in self.trusted_origins)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _pinned(url: str, policy: CopyPolicy) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request for one hop: the URL (on a checked address), its Host header and TLS name.
    Refuses a hop that is not https to an allowed media host on public addresses only; the
    connection goes to the address checked (no second lookup a rebinding DNS could answer)."""
    if policy.trusted(url):
        return url, {}, {}
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username is not None:
        raise DeliveryError(f"refused a non-https source ({_short(url)})", expired=False)
    if policy.media_hosts and not host_allowed(host, policy.media_hosts):
        raise DeliveryError(f"refused host {_short(host)}: not a media host", expired=False)
    port = parts.port or 443
    try:
        addresses = list(policy.resolve(host, port))
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"cannot resolve {_short(host)}: {exc!r}", expired=False) from exc
    if not addresses or not all(_public(a) for a in addresses):
        raise DeliveryError(f"refused host {_short(host)}: not a public address", expired=False)
    ip = addresses[0]
    netloc = f"[{ip}]" if ":" in ip else ip
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    pinned = urlunsplit(parts._replace(netloc=netloc))
    host_header = host if not parts.port else f"{host}:{parts.port}"
    return pinned, {"Host": host_header}, {"sni_hostname": host}


def _short(text: str) -> str:
    return repr(text[:80])


@dataclass
class Source:
    """An open download, read as a file by the upload; raises DeliveryError past the size cap
    or the deadline. ``first`` is its first chunk (already read, to tell the type)."""

    chunks: Iterator[bytes]
    max_bytes: int
    deadline: float
    first: bytes = b""
    size: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _last: bytes = b""
    _last_start: int = 0

    def _pull(self) -> bytes:
        if time.monotonic() > self.deadline:
            raise DeliveryError("the copy ran past its deadline", expired=False)
        try:
            chunk = next(self.chunks, b"")
        except httpx.HTTPError as exc:
            raise DeliveryError(f"downloading the video failed: {exc!r}", expired=False) from exc
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise DeliveryError(f"larger than {self.max_bytes} bytes", expired=False)
        if time.monotonic() > self.deadline:
            raise DeliveryError("the copy ran past its deadline", expired=False)
        return chunk

    def prime(self) -> None:
        """Read the first chunk; an empty body is refused."""
        self.first = self._pull()
        if not self.first:
            raise DeliveryError("the provider's URL answered an empty body", expired=False)
        self._buffer += self.first

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = self._pull()
            if not chunk:
                break
            self._buffer += chunk
        if n < 0:
            n = len(self._buffer)
        self._last_start = self.tell()
        with memoryview(self._buffer) as view:
            out = bytes(view[:n])
        del self._buffer[:n]
        self._last = out
        return out

    def tell(self) -> int:
        return self.size - len(self._buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Back into the last chunk read only (a resumable upload retrying that chunk)."""
        if whence != 0:
            raise OSError("a download is only sought from its start")
        now = self.tell()
        if offset == now:
            return now
        if not self._last_start <= offset < now:
            raise OSError(f"cannot seek a download to {offset} (at {now})")
        self._buffer[:0] = self._last[offset - self._last_start :]
        self._last = self._last[: offset - self._last_start]
        return offset


@contextmanager
def opened(http: httpx.Client, url: str, *, policy: CopyPolicy, max_bytes: int) -> Iterator[Source]:
    """The source at ``url``, redirects followed here, each hop checked (`_pinned`)."""
    if not url:
        raise DeliveryError("the provider gave no video URL", expired=True)
    deadline = time.monotonic() + policy.deadline_s
    for _ in range(MAX_REDIRECTS + 1):
        target, headers, extensions = _pinned(url, policy)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeliveryError("the copy ran past its deadline", expired=False)
        timeout = httpx.Timeout(
            min(DOWNLOAD_TIMEOUT.read or remaining, remaining),
            connect=min(DOWNLOAD_TIMEOUT.connect or remaining, remaining),
        )
        request = http.build_request(
            "GET", target, headers=headers, extensions=extensions, timeout=timeout
        )
        try:
            answer = http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"downloading the video failed: {exc!r}", expired=False) from exc
        try:
            if answer.status_code in REDIRECT_STATUSES:
                location = answer.headers.get("location", "")
                if not location:
                    raise DeliveryError("a redirect without a location", expired=False)
                url = urljoin(url, location)
                continue
            if answer.status_code in EXPIRED_STATUSES:
                raise DeliveryError(
                    f"the provider's URL answered {answer.status_code}: expired or gone",
                    expired=True,
                )
            if answer.status_code != 200:
                raise DeliveryError(
                    f"the provider's URL answered {answer.status_code}", expired=False
                )
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DeliveryError(f"larger than {max_bytes} bytes", expired=False)
            source = Source(answer.iter_bytes(), max_bytes=max_bytes, deadline=deadline)
            source.prime()
            yield source
            return
        finally:
            answer.close()
    raise DeliveryError(f"more than {MAX_REDIRECTS} redirects", expired=False)


def content_type(name: str, first: bytes) -> str:
    """The type the object is stored with, whatever the source claimed: video/mp4 for a video,
    image/png or image/jpeg for a thumbnail (by its first bytes), so our download URL never
    serves a page or a script."""
    if not name.startswith("thumbnails/"):
        return "video/mp4"
    return "image/png" if first.startswith(_PNG_MAGIC) else "image/jpeg"


def size_cap(name: str) -> int:
    return MAX_THUMBNAIL_BYTES if name.startswith("thumbnails/") else MAX_VIDEO_BYTES


@dataclass
class CloudStorageBucket:
    """Copies into a Cloud Storage bucket with google-cloud-storage, streaming: the download is
    read chunk by chunk into a resumable upload (``UPLOAD_CHUNK_BYTES`` held at a time), never
    whole in memory or on disk. ``emulator_host``: the storage emulator's URL
    (``STORAGE_EMULATOR_HOST``), which the client also reads; ``policy``: where a copy may read.
    Each object carries a random download token; copying it again keeps the token (the URLs
    already handed out still play) and `rotate` replaces it."""

    client: Any  # google.cloud.storage.Client (untyped)
    bucket: str
    emulator_host: str | None = None
    policy: CopyPolicy = field(default_factory=CopyPolicy)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=DOWNLOAD_TIMEOUT))

    def keep(self, source_url: str, name: str) -> Kept:
        from google.api_core import exceptions as gexc

        with opened(self.http, source_url, policy=self.policy, max_bytes=size_cap(name)) as src:
            try:
                blob = self.client.bucket(self.bucket).blob(name)
                token = self._existing_token(name) or new_download_token()
                blob.metadata = {TOKEN_METADATA: token}
                blob.cache_control = "private, max-age=86400"
                blob.chunk_size = UPLOAD_CHUNK_BYTES
                blob.upload_from_file(src, content_type=content_type(name, src.first))
            except (gexc.GoogleAPICallError, OSError, ValueError) as exc:
                raise DeliveryError(
                    f"writing gs://{self.bucket}/{name} failed: {exc!r}", expired=False
                ) from exc
        return Kept(path=f"gs://{self.bucket}/{name}", url=self._url(name, token))

    def put(self, data: bytes, name: str, content_type: str) -> Kept:
        from google.api_core import exceptions as gexc

        if len(data) > MAX_SUBTITLES_BYTES:
            raise DeliveryError(f"larger than {MAX_SUBTITLES_BYTES} bytes", expired=False)
        try:
            blob = self.client.bucket(self.bucket).blob(name)
            token = self._existing_token(name) or new_download_token()
            blob.metadata = {TOKEN_METADATA: token}
            blob.cache_control = "private, max-age=86400"
            blob.upload_from_string(data, content_type=content_type)
        except (gexc.GoogleAPICallError, OSError, ValueError) as exc:
            raise DeliveryError(
                f"writing gs://{self.bucket}/{name} failed: {exc!r}", expired=False
            ) from exc
        return Kept(path=f"gs://{self.bucket}/{name}", url=self._url(name, token))

    def _existing_token(self, name: str) -> str | None:
        """The token of an object already there (a re-copy keeps it); None when there is none
        or it cannot be read (without ``storage.objects.get`` a re-copy gets a new token)."""
        from google.api_core import exceptions as gexc

        try:
            return _token_of(self.client.bucket(self.bucket).get_blob(name))
        except gexc.GoogleAPICallError as exc:
            log.warning("reading the token of gs://%s/%s failed: %r", self.bucket, name, exc)
            return None

    def rotate(self, name: str) -> str | None:
        blob = self.client.bucket(self.bucket).get_blob(name)
        if blob is None:
            return None
        token = new_download_token()
        blob.metadata = {**(blob.metadata or {}), TOKEN_METADATA: token}
        blob.patch()
        return self._url(name, token)

    def delete(self, name: str) -> bool:
        from google.api_core import exceptions as gexc

        try:
            self.client.bucket(self.bucket).blob(name).delete()
        except gexc.NotFound:
            return False
        return True

    def _url(self, name: str, token: str) -> str:
        return download_url(self.bucket, name, token, emulator_host=self.emulator_host)

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


def _token_of(blob: Any) -> str | None:
    """The download token an existing object carries (the first, when there are several)."""
    if blob is None:
        return None
    raw = (blob.metadata or {}).get(TOKEN_METADATA)
    return str(raw).split(",")[0] or None if raw else None


@dataclass
class MemoryBucket:
    """The same copy into a dict (tests): the download is real, the bucket is not."""

    bucket: str = "memory-bucket"
    policy: CopyPolicy = field(default_factory=lambda: CopyPolicy(trusted_origins=()))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=DOWNLOAD_TIMEOUT))
    objects: dict[str, bytes] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    down: bool = False  # True: writes fail, as when the bucket is unreachable

    def keep(self, source_url: str, name: str) -> Kept:
        with opened(self.http, source_url, policy=self.policy, max_bytes=size_cap(name)) as src:
            data = src.read()
            kind = content_type(name, src.first)
        if self.down:
            raise DeliveryError(f"writing gs://{self.bucket}/{name} failed: down", expired=False)
        self.objects[name] = data
        self.types[name] = kind
        token = self.tokens.setdefault(name, new_download_token())
        return Kept(path=f"gs://{self.bucket}/{name}", url=self._url(name, token))

    def put(self, data: bytes, name: str, content_type: str) -> Kept:
        if self.down:
            raise DeliveryError(f"writing gs://{self.bucket}/{name} failed: down", expired=False)
        if len(data) > MAX_SUBTITLES_BYTES:
            raise DeliveryError(f"larger than {MAX_SUBTITLES_BYTES} bytes", expired=False)
        self.objects[name] = data
        self.types[name] = content_type
        token = self.tokens.setdefault(name, new_download_token())
        return Kept(path=f"gs://{self.bucket}/{name}", url=self._url(name, token))

    def open(self, name: str) -> IO[bytes]:
        return io.BytesIO(self.objects[name])

    def rotate(self, name: str) -> str | None:
        if name not in self.objects:
            return None
        self.tokens[name] = new_download_token()
        return self._url(name, self.tokens[name])

    def delete(self, name: str) -> bool:
        self.tokens.pop(name, None)
        return self.objects.pop(name, None) is not None

    def _url(self, name: str, token: str) -> str:
        return f"memory://{self.bucket}/{name}?token={token}"
