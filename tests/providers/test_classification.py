"""Every fault the simulator can inject, over real HTTP, becomes the right one of the eleven
categories at the adapter boundary; together the table reaches all eleven."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from shared.adapters.providers import VideoProvider
from shared.core.errors import ErrorCategory, ProviderError
from tests.support.adapters import AdapterFactory, a_request, poll, raised
from tools.provider_sim import ProviderSim

E = ErrorCategory


@dataclass(frozen=True, kw_only=True)
class Case:
    provider: str
    fault: str
    op: str  # submit | status | probe | render (submit, then poll the render)
    expected: ErrorCategory
    params: dict[str, Any] = field(default_factory=dict)
    charged: bool = False
    retry_after: float | None = None

    @property
    def id(self) -> str:
        extra = "-".join(f"{v}" for v in self.params.values())
        return f"{self.provider}-{self.fault}{'-' + extra if extra else ''}-{self.op}"


CASES = [
    # transient: the provider's gateway or its own transient code
    Case(
        provider="heygen",
        fault="server_error",
        op="submit",
        expected=E.TRANSIENT,
        params={"status": 502},
    ),
    Case(
        provider="did",
        fault="server_error",
        op="status",
        expected=E.TRANSIENT,
        params={"status": 504},
    ),
    Case(
        provider="runwayml",
        fault="render_failed",
        op="render",
        expected=E.TRANSIENT,
        params={"code": "INTERNAL.UNKNOWN"},
        charged=True,
    ),
    # network_error: the connection dropped without an answer
    Case(provider="heygen", fault="drop", op="status", expected=E.NETWORK_ERROR),
    Case(provider="runwayml", fault="drop", op="probe", expected=E.NETWORK_ERROR),
    Case(provider="did", fault="drop", op="submit", expected=E.NETWORK_ERROR, charged=True),
    # timeout: an answer slower than the read timeout
    Case(provider="did", fault="slow", op="status", expected=E.TIMEOUT, params={"delay_s": 1.5}),
    Case(
        provider="heygen",
        fault="slow",
        op="submit",
        expected=E.TIMEOUT,
        params={"delay_s": 1.5},
        charged=True,
    ),
    # rate_limit: 429 with Retry-After
    Case(
        provider="heygen",
        fault="rate_limit",
        op="submit",
        expected=E.RATE_LIMIT,
        params={"retry_after": "7"},
        retry_after=7.0,
    ),
    Case(
        provider="runwayml",
        fault="rate_limit",
        op="status",
        expected=E.RATE_LIMIT,
        params={"retry_after": "3"},
        retry_after=3.0,
    ),
    Case(
        provider="did",
        fault="rate_limit",
        op="probe",
        expected=E.RATE_LIMIT,
        params={"retry_after": "1"},
        retry_after=1.0,
    ),
    # quota_exceeded: each provider's own out-of-credits answer
    Case(provider="heygen", fault="quota", op="submit", expected=E.QUOTA_EXCEEDED),
    Case(provider="runwayml", fault="quota", op="submit", expected=E.QUOTA_EXCEEDED),
    Case(provider="did", fault="quota", op="submit", expected=E.QUOTA_EXCEEDED),
    # authentication: 401
    Case(provider="heygen", fault="auth", op="probe", expected=E.AUTHENTICATION),
    Case(provider="runwayml", fault="auth", op="submit", expected=E.AUTHENTICATION),
    Case(provider="did", fault="auth", op="status", expected=E.AUTHENTICATION),
    # provider_overload: 503, or 529 where a provider answers so
    Case(provider="heygen", fault="overload", op="submit", expected=E.PROVIDER_OVERLOAD),
    Case(provider="runwayml", fault="overload", op="submit", expected=E.PROVIDER_OVERLOAD),
    Case(
        provider="did",
        fault="overload",
        op="status",
        expected=E.PROVIDER_OVERLOAD,
        params={"status": 529},
    ),
    # api_failure: a plain 500, or a body that is not the documented JSON
    Case(provider="heygen", fault="server_error", op="status", expected=E.API_FAILURE),
    Case(provider="heygen", fault="malformed", op="submit", expected=E.API_FAILURE, charged=True),
    Case(provider="runwayml", fault="malformed", op="status", expected=E.API_FAILURE),
    Case(provider="did", fault="malformed", op="probe", expected=E.API_FAILURE),
    # processing_error: an accepted render that failed (and may have been billed)
    Case(
        provider="heygen",
        fault="render_failed",
        op="render",
        expected=E.PROCESSING_ERROR,
        charged=True,
    ),
    Case(
        provider="runwayml",
        fault="render_failed",
        op="render",
        expected=E.PROCESSING_ERROR,
        params={"code": "SAFETY.INPUT.TEXT"},
        charged=True,
    ),
    Case(
        provider="did",
        fault="render_failed",
        op="render",
        expected=E.PROCESSING_ERROR,
        charged=True,
    ),
    # quality_failure: a finished render without a URL, of the wrong length, or rejected output
    Case(
        provider="heygen",
        fault="low_quality",
        op="render",
        expected=E.QUALITY_FAILURE,
        params={"mode": "no_url"},
        charged=True,
    ),
    Case(
        provider="runwayml",
        fault="low_quality",
        op="render",
        expected=E.QUALITY_FAILURE,
        params={"mode": "no_url"},
        charged=True,
    ),
    Case(
        provider="did",
        fault="low_quality",
        op="render",
        expected=E.QUALITY_FAILURE,
        params={"mode": "wrong_duration"},
        charged=True,
    ),
    Case(
        provider="runwayml",
        fault="render_failed",
        op="render",
        expected=E.QUALITY_FAILURE,
        params={"code": "INTERNAL.BAD_OUTPUT.CODE01"},
        charged=True,
    ),
    # system_error: our own side is saturated (see the pool-timeout test below)
]


def run(adapter: VideoProvider, op: str) -> None:
    if op == "submit":
        adapter.submit(a_request())
    elif op == "probe":
        adapter.probe()
    elif op == "status":
        adapter.status("no-such-render")
    else:
        submission = adapter.submit(a_request())
        poll(
            adapter,
            submission.provider_job_id,
            expected_duration_s=submission.requested_duration_s,
        )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_injected_fault_is_classified_at_the_boundary(
    case: Case, sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """An injected fault surfaces as a ProviderError of the expected category."""
    op = None if case.op == "render" else case.op
    sim.add_fault(case.provider, case.fault, op=op, **case.params)
    adapter = make_adapter(case.provider)

    error = raised(lambda: run(adapter, case.op))

    assert error.category is case.expected, error.message
    assert error.provider_id == case.provider
    assert error.charged is case.charged
    if case.retry_after is not None:
        assert error.retry_after == case.retry_after


def test_pool_timeout_on_our_side_is_a_system_error(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """With the adapter's only connection busy, the next call fails fast as a system_error."""
    sim.add_fault("heygen", "slow", op="status", delay_s=1.0)
    adapter = make_adapter(
        "heygen",
        limits=httpx.Limits(max_connections=1),
        timeout=httpx.Timeout(2.0, pool=0.1),
    )
    holder = threading.Thread(target=lambda: _swallow(lambda: adapter.status("slow-one")))
    holder.start()
    wait_until(lambda: sim.stats()["heygen"]["counters"].get("requests:status", 0) == 1)

    error = raised(adapter.probe)
    holder.join()

    assert error.category is ErrorCategory.SYSTEM_ERROR
    assert "PoolTimeout" in error.message


def test_refused_connection_is_a_network_error(make_adapter: AdapterFactory) -> None:
    """Nothing listening on the port is a network_error, never charged."""
    adapter = make_adapter("did", base_url="http://127.0.0.1:9/did")

    error = raised(adapter.probe)

    assert error.category is ErrorCategory.NETWORK_ERROR
    assert error.charged is False


def test_did_callback_without_its_token_is_refused_as_our_own_error(
    make_adapter: AdapterFactory, sim: ProviderSim
) -> None:
    """Asking D-ID to call back without a per-job token is our bug: a system_error, no request."""
    adapter = make_adapter("did")

    error = raised(lambda: adapter.submit(a_request(callback_url=sim.inbox_url("x"))))

    assert error.category is ErrorCategory.SYSTEM_ERROR
    assert sim.stats()["did"]["counters"].get("requests:submit", 0) == 0


def test_fault_table_reaches_all_eleven_categories() -> None:
    """The parametrized table plus the pool-timeout test produce every ErrorCategory."""
    produced = {case.expected for case in CASES} | {ErrorCategory.SYSTEM_ERROR}
    assert produced == set(ErrorCategory)


def wait_until(condition: Any, timeout_s: float = 5.0) -> None:
    """Wait for a condition the simulator reports (here: the slow call holds the connection)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _swallow(call: Any) -> None:
    with contextlib.suppress(ProviderError):  # the holder only has to keep the connection busy
        call()
