"""The HTTP seam shared by the provider adapters: one ``httpx.Client`` per adapter, and the single
place where httpx exceptions, HTTP statuses and bodies become a classified ``ProviderError``.

httpx exceptions mapped here (``transport_failure``)::

    RequestError
    ├── TransportError
    │   ├── TimeoutException: ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout
    │   ├── NetworkError: ConnectError, ReadError, WriteError, CloseError
    │   ├── ProtocolError: LocalProtocolError (ours), RemoteProtocolError (theirs)
    │   ├── ProxyError, UnsupportedProtocol (ours)
    ├── DecodingError (a body we cannot decode: malformed)
    └── TooManyRedirects (the provider misbehaves: api_failure)

Every answer is read as a stream under a byte cap and a wall-clock deadline (a provider that
trickles bytes or sends gigabytes cannot hold a worker or its memory), parsed without letting
any exception but a classified ``ProviderError`` out (deeply nested JSON raises RecursionError
in ``json.loads``), and every URL or id it hands us is checked before we use it: media URLs
must be https on the adapter's allowed hosts (or on the configured base URL's origin, which is
how the local simulator serves them), render ids must match a strict pattern and are
percent-quoted when put into a path.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpcore
import httpx

from shared.adapters.providers.base import RenderState, RenderStatus, check_render
from shared.core.errors import (
    ErrorCategory,
    ProviderError,
    Signal,
    TransportFailure,
    parse_retry_after,
)

log = logging.getLogger("cvplus.providers")

JSONObject = dict[str, Any]

# Order matters: subclasses before their parents.
_TRANSPORT: tuple[tuple[type[httpx.RequestError], TransportFailure | None], ...] = (
    (httpx.ConnectTimeout, TransportFailure.CONNECT_TIMEOUT),
    (httpx.ReadTimeout, TransportFailure.READ_TIMEOUT),
    (httpx.WriteTimeout, TransportFailure.WRITE_TIMEOUT),
    (httpx.PoolTimeout, TransportFailure.POOL_TIMEOUT),
    (httpx.ConnectError, TransportFailure.CONNECT_ERROR),
    (httpx.ProxyError, TransportFailure.CONNECT_ERROR),
    (httpx.RemoteProtocolError, TransportFailure.DISCONNECTED),
    (httpx.ReadError, TransportFailure.DISCONNECTED),
    (httpx.WriteError, TransportFailure.DISCONNECTED),
    (httpx.CloseError, TransportFailure.DISCONNECTED),
    # Our own mistakes (bad URL scheme, a request httpx refuses to send): system errors.
    (httpx.LocalProtocolError, None),
    (httpx.UnsupportedProtocol, None),
)

# Failures after which the provider may have received the request and acted on it.
_ANSWER_LOST = frozenset({TransportFailure.READ_TIMEOUT, TransportFailure.DISCONNECTED})

MAX_MESSAGE_CHARS = 200
# Provider JSON answers are a few kilobytes; a megabyte is far beyond any documented answer.
DEFAULT_MAX_RESPONSE_BYTES = 1_000_000
# Wall-clock budget for one request, from sending it to the last byte of its answer. The read
# timeout alone bounds each socket read, not the whole answer (a byte a second never trips it).
DEFAULT_DEADLINE_S = 30.0
# Provider ids are opaque tokens (HeyGen hex ids, D-ID ``tlk_...``, RunwayML UUIDs): letters,
# digits, ``_`` and ``-``, no dots or slashes, so one can never walk a request path.
RENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_URL_CHARS = 4096  # presigned URLs carry long signatures


def transport_failure(exc: httpx.TransportError) -> TransportFailure | None:
    """The transport failure an httpx exception stands for; None when the fault is ours."""
    for exc_type, failure in _TRANSPORT:
        if isinstance(exc, exc_type):
            return failure
    return TransportFailure.DISCONNECTED


def error_from_exception(
    exc: httpx.RequestError, *, provider_id: str, op: str, billable: bool
) -> ProviderError:
    """Classify an httpx exception. ``billable`` marks a request that starts a paid render: if its
    answer was lost after sending, the provider may have charged."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        failure = transport_failure(exc)
        signal = Signal(internal=True) if failure is None else Signal(transport=failure)
        charged = billable and failure in _ANSWER_LOST
    elif isinstance(exc, httpx.DecodingError):
        signal, charged = Signal(malformed_body=True), billable
    else:  # TooManyRedirects and any future RequestError
        signal, charged = Signal(), False
    return ProviderError.from_signal(
        signal, f"{provider_id} {op}: {name}", provider_id=provider_id, charged=charged
    )


def clip(text: str) -> str:
    """A provider's text as it may go into a message we store: one line, 200 chars at most (a
    megabyte of failure text would not fit the job document)."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def clip_code(code: str | None) -> str | None:
    """A provider's error code, kept only while it looks like one (64 chars at most)."""
    return code if code is None or len(code) <= 64 else code[:64]


def load_json(body: bytes | str) -> Any:
    """``json.loads`` that raises only ValueError: a body nested deeper than the parser's
    recursion limit (``[[[[...``) is as malformed as one that is not JSON at all."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_object(body: bytes) -> JSONObject | None:
    """The body as a JSON object, or None when it is not one. Never raises: invalid UTF-8 or
    JSON is a ValueError, and so is JSON nested deeper than the interpreter's recursion limit
    (``load_json``), which would otherwise escape the adapter as a RecursionError."""
    try:
        value = load_json(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def check_render_id(provider_id: str, op: str, value: str | None, *, charged: bool) -> str:
    """A provider's render id, if it matches ``RENDER_ID``; a malformed answer otherwise."""
    if value is None or RENDER_ID.fullmatch(value) is None:
        shown = "none" if value is None else repr(clip(value[:40]))
        raise malformed(provider_id, op, f"render id {shown} is not a plain token", charged=charged)
    return value


def id_path(template: str, render_id: str) -> str:
    """``template`` with ``{id}`` replaced by the percent-quoted id (defence in depth: ids are
    checked by ``check_render_id`` before they are stored)."""
    return template.replace("{id}", quote(render_id, safe=""))


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL, default ports filled in."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not host:
        return None
    return parts.scheme, host.lower(), port or (443 if parts.scheme == "https" else 80)


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``host`` equals an allowed name, or sits under one written as ``.domain``."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().strip()
        if entry.startswith("."):
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == entry:
            return True
    return False


def media_url_problem(url: str, *, allowed_hosts: Iterable[str], base_url: str) -> str | None:
    """Why ``url`` may not be stored as a video or thumbnail URL, or None when it may: https on
    port 443 on an allowed host, or the exact origin of the adapter's base URL (the simulator)."""
    if len(url) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "too long or contains whitespace"
    got = origin(url)
    if got is None:
        return "not an absolute http(s) URL"
    try:
        userinfo = urlsplit(url).username is not None
    except ValueError:
        return "not a valid URL"
    if userinfo:
        return "carries credentials"
    if got == origin(base_url):
        return None
    scheme, host, port = got
    if scheme != "https" or port != 443:
        return "not https"
    if not host_allowed(host, allowed_hosts):
        return f"host {host!r} is not one of the provider's media hosts"
    return None


JOB_PARAM = "job"
TOKEN_PARAM = "token"


def callback_url_with_token(callback_url: str, *, job_id: str, token: str) -> str:
    """Our callback URL with the job id and its secret token added to the query: how a
    provider that does not sign its callbacks (D-ID; HeyGen's per-request ``callback_url``)
    proves a delivery is the one we asked for."""
    parts = urlsplit(callback_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {JOB_PARAM, TOKEN_PARAM}]
    query += [(JOB_PARAM, job_id), (TOKEN_PARAM, token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_hosts(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated host list from the environment, or the documented default."""
    if raw is None or not raw.strip():
        return default
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def str_field(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = obj.get(key) if obj is not None else None
    return value if isinstance(value, str) and value else None


def num_field(obj: Mapping[str, Any] | None, key: str) -> float | None:
    """A finite number, or None: JSON may carry NaN, Infinity or an integer too large for a
    float (``float()`` would raise OverflowError out of the adapter)."""
    value = obj.get(key) if obj is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def obj_field(obj: Mapping[str, Any] | None, key: str) -> JSONObject | None:
    value = obj.get(key) if obj is not None else None
    return value if isinstance(value, dict) else None


# Words a provider uses when a 429 is a cap that lasts (a daily generation cap, a usage quota,
# credits), not a burst limit that lifts in seconds.
_QUOTA_WORDS = re.compile(
    r"\b(daily|per day|a day|24[- ]?hours?|quota|credits?|monthly|per month|spend)\b", re.I
)


def quota_wording(message: str) -> bool:
    """True when an error message describes a lasting cap (see ``_QUOTA_WORDS``)."""
    return _QUOTA_WORDS.search(message) is not None


CodeReader = Callable[[int, JSONObject | None], tuple[str | None, ErrorCategory | None, str]]
"""(status, body) -> (provider code, its category, readable message); one per provider."""


def error_from_response(
    response: httpx.Response,
    content: bytes,
    *,
    provider_id: str,
    op: str,
    read_code: CodeReader,
    now: Callable[[], float] = time.time,
) -> ProviderError:
    """Classify a non-2xx answer from its status, the provider's own error code and Retry-After."""
    body = parse_object(content)
    code, code_category, message = read_code(response.status_code, body)
    code = clip_code(code)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now())
    signal = Signal(status=response.status_code, code_category=code_category)
    return ProviderError.from_signal(
        signal,
        f"{provider_id} {op}: HTTP {response.status_code} {clip(message)}".rstrip(),
        provider_id=provider_id,
        provider_code=code,
        retry_after=retry_after,
    )


def render_status(
    provider_id: str,
    provider_job_id: str,
    raw_state: str,
    states: Mapping[str, RenderState],
    *,
    video_url: str | None,
    duration_s: float | None,
    expected_duration_s: float | None,
    thumbnail_url: str | None = None,
    progress: float | None = None,
) -> RenderStatus:
    """A render that has not failed, from the provider's name for its state: an unknown name is
    a malformed answer, and a completed render must pass the quality check."""
    state = states.get(raw_state)
    if state is None:
        raise malformed(provider_id, "status", f"unknown status {raw_state!r}")
    if state is RenderState.COMPLETED:
        check_render(
            provider_id=provider_id,
            provider_job_id=provider_job_id,
            video_url=video_url,
            duration_s=duration_s,
            expected_duration_s=expected_duration_s,
        )
    return RenderStatus(
        provider_id=provider_id,
        provider_job_id=provider_job_id,
        state=state,
        video_url=video_url,
        thumbnail_url=thumbnail_url,
        duration_s=duration_s,
        progress=progress,
    )


def malformed(provider_id: str, op: str, what: str, *, charged: bool = False) -> ProviderError:
    return ProviderError.from_signal(
        Signal(malformed_body=True),
        f"{provider_id} {op}: unexpected answer ({what})",
        provider_id=provider_id,
        charged=charged,
    )


_deadline = threading.local()  # the wall-clock deadline of the call this thread is making


def _remaining(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this thread's deadline; ``expired`` once it passed."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the call's deadline: a provider that
    trickles its status line or headers a byte at a time never trips a read timeout, and the
    body check in ``HttpAdapter._read`` only starts once the headers are in."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _remaining(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport(limits: httpx.Limits) -> httpx.BaseTransport:
    """httpx's own transport with its socket streams bounded by the call's deadline. httpx
    has no public hook for httpcore's network backend, so this reaches for its pool; should a
    later httpx change that, the transport is used as it is and the deadline is checked
    between body chunks only (``HttpAdapter._read``)."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport


class HttpAdapter:
    """Owns the adapter's one reusable ``httpx.Client`` and the request/classify step.

    Subclasses pass auth headers once; they never appear in repr, logs or error messages.
    ``media_hosts`` are the hosts whose https URLs the adapter accepts as video or thumbnail
    URLs (besides the base URL's own origin); ``deadline_s`` and ``max_response_bytes`` bound
    every answer. A call may pass its own ``timeout`` and ``deadline_s`` (a slow submit).
    """

    provider_id: str = "unknown"

    def __init__(
        self,
        *,
        base_url: str,
        auth_headers: Mapping[str, str],
        timeout: httpx.Timeout,
        media_hosts: Iterable[str] = (),
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._media_hosts = tuple(h.lower() for h in media_hosts)
        self._deadline_s = deadline_s
        self._max_response_bytes = max_response_bytes
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=10)
        self._client = httpx.Client(
            base_url=self._base_url,
            # identity: the byte cap then counts what the provider sent, not what it inflates to.
            headers={"Accept": "application/json", "Accept-Encoding": "identity", **auth_headers},
            timeout=timeout,
            limits=limits,
            transport=transport if transport is not None else deadline_transport(limits),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    @property
    def media_hosts(self) -> tuple[str, ...]:
        return self._media_hosts

    def close(self) -> None:
        self._client.close()

    def _media_url(
        self, url: str | None, *, op: str, what: str, required: bool, charged: bool = True
    ) -> str | None:
        """``url`` if it may be stored; a bad required URL (the video) is a malformed, charged
        answer, a bad optional one (the thumbnail) is dropped."""
        if url is None:
            return None
        problem = media_url_problem(url, allowed_hosts=self._media_hosts, base_url=self._base_url)
        if problem is None:
            return url
        if required:
            raise malformed(self.provider_id, op, f"{what} refused: {problem}", charged=charged)
        log.warning(
            "provider %s URL dropped",
            what,
            extra={"provider": self.provider_id, "op": op, "reason": problem},
        )
        return None

    def _call(
        self,
        method: str,
        path: str,
        *,
        op: str,
        read_code: CodeReader,
        billable: bool = False,
        json: JSONObject | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        deadline_s: float | None = None,
        empty_ok: bool = False,
    ) -> tuple[httpx.Response, JSONObject]:
        """Send one request; return the answer and its JSON object body, or raise classified.
        ``empty_ok``: an answer without a body (204) is fine, and its body is {}."""
        started = time.monotonic()
        deadline = started + (deadline_s if deadline_s is not None else self._deadline_s)
        outer = getattr(_deadline, "at", None)
        _deadline.at = deadline
        try:
            request = self._client.build_request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            response = self._client.send(request, stream=True)
            try:
                content = self._read(response, op=op, deadline=deadline, billable=billable)
            finally:
                response.close()
        except httpx.RequestError as exc:
            error = error_from_exception(
                exc, provider_id=self.provider_id, op=op, billable=billable
            )
            log.warning(
                "provider call failed",
                extra={"provider": self.provider_id, "op": op, "category": error.category.value},
            )
            raise error from exc
        finally:
            _deadline.at = outer
        elapsed = time.monotonic() - started
        if not response.is_success:
            error = error_from_response(
                response, content, provider_id=self.provider_id, op=op, read_code=read_code
            )
            log.warning(
                "provider answered an error",
                extra={
                    "provider": self.provider_id,
                    "op": op,
                    "status": response.status_code,
                    "category": error.category.value,
                    "elapsed_s": round(elapsed, 3),
                },
            )
            raise error
        if empty_ok and not content:
            return response, {}
        body = parse_object(content)
        if body is None:
            raise malformed(self.provider_id, op, "body is not a JSON object", charged=billable)
        return response, body

    def _read(self, response: httpx.Response, *, op: str, deadline: float, billable: bool) -> bytes:
        """The decoded body, read chunk by chunk: past ``max_response_bytes`` (declared or
        received) it is a malformed answer, past the deadline a read timeout. With the default
        transport every socket read is also cut to the deadline (``deadline_transport``); with
        another transport the call ends by the deadline plus at most one read timeout."""
        cap = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise malformed(
                self.provider_id,
                op,
                f"answer of {declared} bytes is over the cap",
                charged=billable,
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise malformed(
                    self.provider_id, op, f"answer is over {cap} bytes", charged=billable
                )
            chunks.append(chunk)
            if time.monotonic() > deadline:
                # The request was sent; its answer is lost to us as surely as by a read timeout.
                raise httpx.ReadTimeout("answer not complete by the deadline")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("answer not complete by the deadline")
        return b"".join(chunks)
