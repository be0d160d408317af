"""What the provider tests share: the adapters' test key and timeouts, a submission, polling a
render to its end, a recorded callback as a request, and the error a call raises."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.adapters.providers import (
    RenderState,
    RenderStatus,
    SubmitRequest,
    VideoProvider,
    WebhookRequest,
)
from shared.core.errors import ProviderError
from tests.support.fakes import SCRIPT

API_KEY = "sk-test-very-secret-key-0123456789"
SHORT_TIMEOUT = httpx.Timeout(0.5, connect=1.0)

# ``make_adapter`` (tests/providers/conftest.py): an adapter for a provider id, on the simulator.
AdapterFactory = Callable[..., VideoProvider]


def a_request(**overrides: Any) -> SubmitRequest:
    fields: dict[str, Any] = {"job_id": f"job-{uuid.uuid4().hex[:8]}", "attempt": 1}
    fields |= {"script": SCRIPT} | overrides
    return SubmitRequest(**fields)


def poll(
    adapter: VideoProvider,
    provider_job_id: str,
    *,
    expected_duration_s: float | None,
    timeout_s: float = 5.0,
) -> RenderStatus:
    """Poll until the render completes; a failure surfaces as the adapter's ProviderError."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = adapter.status(provider_job_id, expected_duration_s=expected_duration_s)
        if status.state is RenderState.COMPLETED:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"render {provider_job_id} still {status.state}")
        time.sleep(0.05)


def as_request(entry: dict[str, Any]) -> WebhookRequest:
    """A callback recorded by the simulator's inbox, as the webhook function would see it."""
    return WebhookRequest(
        body=entry["body"].encode(), headers=entry["headers"], query=entry["query"]
    )


def raised(call: Callable[[], object]) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    return info.value
