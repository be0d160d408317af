"""The error model: eleven categories, one provider error type, and the pure classifier that
turns a provider signal (HTTP status, provider code, transport failure, render outcome) into one.

Classification happens once, at the provider boundary. An adapter describes what it saw as a
`Signal` and calls `classify`; everything downstream sees only `ProviderError.category`.

    Signal ──classify──> ErrorCategory ──recovery.STRATEGIES──> Strategy
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCategory(StrEnum):
    TRANSIENT = "transient"
    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    QUOTA_EXCEEDED = "quota_exceeded"
    AUTHENTICATION = "authentication"
    PROVIDER_OVERLOAD = "provider_overload"
    API_FAILURE = "api_failure"
    PROCESSING_ERROR = "processing_error"
    QUALITY_FAILURE = "quality_failure"
    SYSTEM_ERROR = "system_error"


class TransportFailure(StrEnum):
    """What went wrong below HTTP; adapters map httpx exception types onto these."""

    CONNECT_ERROR = "connect_error"  # httpx.ConnectError: refused, DNS, TLS
    CONNECT_TIMEOUT = "connect_timeout"  # httpx.ConnectTimeout
    READ_TIMEOUT = "read_timeout"  # httpx.ReadTimeout
    WRITE_TIMEOUT = "write_timeout"  # httpx.WriteTimeout
    POOL_TIMEOUT = "pool_timeout"  # httpx.PoolTimeout (our side is saturated)
    DISCONNECTED = "disconnected"  # httpx.RemoteProtocolError / ReadError: connection dropped


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """A description of one failed provider interaction, as observed at the boundary.

    ``code_category`` is the provider module's reading of its own error code (HeyGen's
    ``insufficient_credit``, RunwayML's ``THROTTLED``...); when present it wins over the status.
    """

    status: int | None = None
    code_category: ErrorCategory | None = None
    transport: TransportFailure | None = None
    malformed_body: bool = False
    render_failed: bool = False
    below_quality: bool = False
    internal: bool = False


_TRANSPORT = {
    TransportFailure.CONNECT_ERROR: ErrorCategory.NETWORK_ERROR,
    TransportFailure.DISCONNECTED: ErrorCategory.NETWORK_ERROR,
    TransportFailure.CONNECT_TIMEOUT: ErrorCategory.TIMEOUT,
    TransportFailure.READ_TIMEOUT: ErrorCategory.TIMEOUT,
    TransportFailure.WRITE_TIMEOUT: ErrorCategory.TIMEOUT,
    TransportFailure.POOL_TIMEOUT: ErrorCategory.SYSTEM_ERROR,
}

_STATUS = {
    401: ErrorCategory.AUTHENTICATION,
    403: ErrorCategory.AUTHENTICATION,
    402: ErrorCategory.QUOTA_EXCEEDED,
    408: ErrorCategory.TIMEOUT,
    429: ErrorCategory.RATE_LIMIT,
    502: ErrorCategory.TRANSIENT,
    504: ErrorCategory.TRANSIENT,
    503: ErrorCategory.PROVIDER_OVERLOAD,
    529: ErrorCategory.PROVIDER_OVERLOAD,
}


def about_the_request(signal: Signal, category: ErrorCategory) -> bool:
    """Whether a failed interaction is the provider refusing this request (a validation error,
    a content policy, a resource the key may not use: a 4xx left as an API failure), not the
    provider failing. Such a refusal is the job's: another request is served as usual, so it
    never counts against the provider's breaker, and the same provider is not asked again."""
    status = signal.status
    return (
        category is ErrorCategory.API_FAILURE
        and status is not None
        and 400 <= status < 500
        and signal.transport is None
        and not signal.malformed_body
    )


def classify(signal: Signal) -> ErrorCategory:
    """The category of a failed interaction. Order: our own fault, transport, provider code,
    render outcome, HTTP status, body shape; anything else from the provider is an API failure."""
    if signal.internal:
        return ErrorCategory.SYSTEM_ERROR
    if signal.transport is not None:
        return _TRANSPORT[signal.transport]
    if signal.code_category is not None:
        return signal.code_category
    if signal.render_failed:
        return ErrorCategory.PROCESSING_ERROR
    if signal.below_quality:
        return ErrorCategory.QUALITY_FAILURE
    if signal.status is not None and signal.status in _STATUS:
        return _STATUS[signal.status]
    if signal.status is not None and signal.status >= 500:
        return ErrorCategory.API_FAILURE
    return ErrorCategory.API_FAILURE


class ProviderError(Exception):
    """A classified failure of one provider interaction.

    ``retry_after`` is the provider's ``Retry-After`` in seconds, when it sent one.
    ``charged`` says whether the provider may have billed for the attempt (an accepted render
    that later failed, or a submit whose answer was lost) — the chaos benchmark counts it.
    ``about_request``: the provider refused this request itself (`about_the_request`); the
    failure is the job's, and does not count against the provider's breaker.
    """

    def __init__(
        self,
        category: ErrorCategory,
        message: str,
        *,
        provider_id: str,
        status: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
        charged: bool = False,
        about_request: bool = False,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.provider_id = provider_id
        self.status = status
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.charged = charged
        self.about_request = about_request

    @classmethod
    def from_signal(
        cls,
        signal: Signal,
        message: str,
        *,
        provider_id: str,
        provider_code: str | None = None,
        retry_after: float | None = None,
        charged: bool = False,
    ) -> ProviderError:
        category = classify(signal)
        return cls(
            category,
            message,
            provider_id=provider_id,
            status=signal.status,
            provider_code=provider_code,
            retry_after=retry_after,
            charged=charged,
            about_request=about_the_request(signal, category),
        )

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.category.value!r}, {self.message!r}, "
            f"provider_id={self.provider_id!r}, status={self.status!r})"
        )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit also accepts '²', which float rejects
        return float(text)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
