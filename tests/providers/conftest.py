"""Fixtures for the provider tests: one real simulator on a free loopback port for the session,
reset after every test, and adapters pointed at it with short timeouts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
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
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from shared.core.errors import ProviderError
from tools.provider_sim import ProviderSim

API_KEY = "sk-test-very-secret-key-0123456789"
SHORT_TIMEOUT = httpx.Timeout(0.5, connect=1.0)
# 150 words at the simulator's 2.5 words/s: a 60 s ("medium") introduction.
SCRIPT = " ".join(["experienced"] * 150)


@pytest.fixture(scope="session")
def sim() -> Iterator[ProviderSim]:
    with ProviderSim.in_process() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_sim(sim: ProviderSim) -> Iterator[None]:
    yield
    sim.reset()


AdapterFactory = Callable[..., VideoProvider]


@pytest.fixture
def make_adapter(sim: ProviderSim) -> Iterator[AdapterFactory]:
    """Build an adapter for a provider id against the simulator; closed after the test."""
    made: list[VideoProvider] = []

    def make(provider: str, **overrides: Any) -> VideoProvider:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "base_url": sim.base_url(provider),
            "timeout": SHORT_TIMEOUT,
        }
        if provider == "heygen":
            settings["submit_timeout"] = SHORT_TIMEOUT  # so a slow submit's answer can be lost
        settings |= overrides
        adapter: VideoProvider
        if provider == "heygen":
            adapter = HeyGenProvider(**settings)
        elif provider == "runwayml":
            adapter = RunwayMLProvider(**settings)
        else:
            adapter = DIDProvider(**settings)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


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
