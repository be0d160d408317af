"""The classifier: every provider signal lands in exactly one of the eleven categories."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.errors import ErrorCategory as C
from shared.core.errors import ProviderError, Signal, TransportFailure, classify, parse_retry_after

T = TransportFailure

# What an adapter sees -> what the rest of the system must see.
SIGNALS: list[tuple[str, Signal, C]] = [
    ("502 bad gateway", Signal(status=502), C.TRANSIENT),
    ("504 gateway timeout", Signal(status=504), C.TRANSIENT),
    ("connection refused", Signal(transport=T.CONNECT_ERROR), C.NETWORK_ERROR),
    ("connection dropped mid-answer", Signal(transport=T.DISCONNECTED), C.NETWORK_ERROR),
    ("connect timeout", Signal(transport=T.CONNECT_TIMEOUT), C.TIMEOUT),
    ("read timeout", Signal(transport=T.READ_TIMEOUT), C.TIMEOUT),
    ("write timeout", Signal(transport=T.WRITE_TIMEOUT), C.TIMEOUT),
    ("408 request timeout", Signal(status=408), C.TIMEOUT),
    ("429 too many requests", Signal(status=429), C.RATE_LIMIT),
    ("RunwayML THROTTLED code", Signal(status=200, code_category=C.RATE_LIMIT), C.RATE_LIMIT),
    ("402 payment required", Signal(status=402), C.QUOTA_EXCEEDED),
    (
        "HeyGen insufficient_credit on a 400",
        Signal(status=400, code_category=C.QUOTA_EXCEEDED),
        C.QUOTA_EXCEEDED,
    ),
    ("401 unauthorized", Signal(status=401), C.AUTHENTICATION),
    ("403 forbidden", Signal(status=403), C.AUTHENTICATION),
    ("503 service unavailable", Signal(status=503), C.PROVIDER_OVERLOAD),
    ("529 overloaded", Signal(status=529), C.PROVIDER_OVERLOAD),
    ("500 internal server error", Signal(status=500), C.API_FAILURE),
    ("400 bad request", Signal(status=400), C.API_FAILURE),
    ("422 unprocessable", Signal(status=422), C.API_FAILURE),
    ("200 with a body we cannot read", Signal(status=200, malformed_body=True), C.API_FAILURE),
    ("render reported failed", Signal(status=200, render_failed=True), C.PROCESSING_ERROR),
    ("video below the quality bar", Signal(status=200, below_quality=True), C.QUALITY_FAILURE),
    ("our own bug", Signal(internal=True), C.SYSTEM_ERROR),
    ("our connection pool is saturated", Signal(transport=T.POOL_TIMEOUT), C.SYSTEM_ERROR),
]


@pytest.mark.parametrize(
    ("signal", "expected"), [(s, c) for _, s, c in SIGNALS], ids=[d for d, _, _ in SIGNALS]
)
def test_a_provider_signal_is_classified_into_its_category(signal: Signal, expected: C) -> None:
    """Each described provider signal maps to the documented category."""
    assert classify(signal) is expected


def test_the_signal_table_reaches_all_eleven_categories() -> None:
    """Every category is produced by some real signal: none is unreachable."""
    assert {classify(s) for _, s, _ in SIGNALS} == set(C)
    assert len(C) == 11


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        (T.CONNECT_ERROR, C.NETWORK_ERROR),
        (T.DISCONNECTED, C.NETWORK_ERROR),
        (T.CONNECT_TIMEOUT, C.TIMEOUT),
        (T.READ_TIMEOUT, C.TIMEOUT),
        (T.WRITE_TIMEOUT, C.TIMEOUT),
        (T.POOL_TIMEOUT, C.SYSTEM_ERROR),
    ],
)
def test_transport_failures_map_as_documented_whatever_else_was_seen(
    transport: TransportFailure, expected: C
) -> None:
    """A transport failure decides the category even when a status or code is also present."""
    assert classify(Signal(transport=transport)) is expected
    noisy = Signal(transport=transport, status=429, code_category=C.QUOTA_EXCEEDED)
    assert classify(noisy) is expected


def test_every_transport_failure_has_a_mapping() -> None:
    """No httpx-level failure is left unmapped (classify would raise KeyError)."""
    for transport in TransportFailure:
        assert classify(Signal(transport=transport)) in set(C)


@pytest.mark.parametrize("code", list(C))
@pytest.mark.parametrize("status", [200, 400, 401, 429, 500, 503])
def test_a_provider_code_wins_over_the_http_status(code: C, status: int) -> None:
    """The provider module's reading of its own error code overrides the status mapping."""
    assert classify(Signal(status=status, code_category=code)) is code


def test_our_own_fault_wins_over_everything() -> None:
    """An internal error is a system error even when the provider also misbehaved."""
    signal = Signal(internal=True, status=401, transport=T.READ_TIMEOUT, render_failed=True)
    assert classify(signal) is C.SYSTEM_ERROR


def test_a_provider_error_from_a_signal_carries_category_and_details() -> None:
    """from_signal classifies once and keeps the status, code and Retry-After."""
    err = ProviderError.from_signal(
        Signal(status=429),
        "slow down",
        provider_id="heygen",
        provider_code="rate_limited",
        retry_after=12.0,
    )
    assert err.category is C.RATE_LIMIT
    assert (err.status, err.provider_code, err.retry_after) == (429, "rate_limited", 12.0)
    assert err.provider_id == "heygen"
    assert "rate_limit" in repr(err)


NOW = parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # half a minute after NOW
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past: no wait, never negative
        ("soon", None),
        ("1.5", None),  # delta-seconds are whole digits only
        ("-5", None),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_retry_after_is_parsed_from_seconds_or_an_http_date(
    header: str | None, expected: float | None
) -> None:
    """Retry-After gives seconds from delta-seconds or an HTTP date; garbage and empty give None."""
    assert parse_retry_after(header, now=NOW) == expected


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_as_a_date_is_the_time_until_that_date(seconds: int) -> None:
    """An HTTP date `seconds` ahead of now parses back to `seconds`."""
    header = format_datetime(datetime.fromtimestamp(NOW + seconds, tz=UTC), usegmt=True)
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@given(st.one_of(st.text(), st.text(alphabet="0123456789\u00b2\u00b9 ,:-.GMTWedOct")))
def test_retry_after_never_raises_on_any_header_text(header: str) -> None:
    """A garbage header is None or a non-negative wait, never an exception."""
    parsed = parse_retry_after(header, now=NOW)
    assert parsed is None or parsed >= 0.0


def test_retry_after_ignores_non_ascii_digits() -> None:
    """A latin-1 superscript digit is garbage, not a number (str.isdigit accepts it)."""
    assert parse_retry_after("\u00b2", now=NOW) is None
