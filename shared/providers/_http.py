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
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from shared.errors import ErrorCategory, ProviderError, Signal, TransportFailure, parse_retry_after
from shared.providers.base import RenderState, RenderStatus, check_render

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
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def load_json(body: bytes | str) -> Any:
    """``json.loads`` that raises only ValueError: a body nested deeper than the parser's
    recursion limit (``[[[[...``) is as malformed as one that is not JSON at all."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_object(response: httpx.Response) -> JSONObject | None:
    """The response body as a JSON object, or None when it is not one."""
    try:
        value = load_json(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def str_field(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = obj.get(key) if obj is not None else None
    return value if isinstance(value, str) and value else None


def num_field(obj: Mapping[str, Any] | None, key: str) -> float | None:
    value = obj.get(key) if obj is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def obj_field(obj: Mapping[str, Any] | None, key: str) -> JSONObject | None:
    value = obj.get(key) if obj is not None else None
    return value if isinstance(value, dict) else None


CodeReader = Callable[[int, JSONObject | None], tuple[str | None, ErrorCategory | None, str]]
"""(status, body) -> (provider code, its category, readable message); one per provider."""


def error_from_response(
    response: httpx.Response,
    *,
    provider_id: str,
    op: str,
    read_code: CodeReader,
    now: Callable[[], float] = time.time,
) -> ProviderError:
    """Classify a non-2xx answer from its status, the provider's own error code and Retry-After."""
    body = parse_object(response)
    code, code_category, message = read_code(response.status_code, body)
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


class HttpAdapter:
    """Owns the adapter's one reusable ``httpx.Client`` and the request/classify step.

    Subclasses pass auth headers once; they never appear in repr, logs or error messages.
    """

    provider_id: str = "unknown"

    def __init__(
        self,
        *,
        base_url: str,
        auth_headers: Mapping[str, str],
        timeout: httpx.Timeout,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self._base_url,
            headers={"Accept": "application/json", **auth_headers},
            timeout=timeout,
            limits=limits or httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    def close(self) -> None:
        self._client.close()

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
    ) -> tuple[httpx.Response, JSONObject]:
        """Send one request; return the answer and its JSON object body, or raise classified."""
        started = time.monotonic()
        try:
            response = self._client.request(method, path, json=json, params=params, headers=headers)
        except httpx.RequestError as exc:
            error = error_from_exception(
                exc, provider_id=self.provider_id, op=op, billable=billable
            )
            log.warning(
                "provider call failed",
                extra={"provider": self.provider_id, "op": op, "category": error.category.value},
            )
            raise error from exc
        elapsed = time.monotonic() - started
        if not response.is_success:
            error = error_from_response(
                response, provider_id=self.provider_id, op=op, read_code=read_code
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
        body = parse_object(response)
        if body is None:
            raise malformed(self.provider_id, op, "body is not a JSON object", charged=billable)
        return response, body
