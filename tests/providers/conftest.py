"""Fixtures for the provider tests: one real simulator on a free loopback port for the session,
reset after every test, and adapters pointed at it with short timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.adapters.providers import VideoProvider
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from tests.support.adapters import API_KEY, SHORT_TIMEOUT, AdapterFactory
from tools.provider_sim import ProviderSim


@pytest.fixture(scope="session")
def sim() -> Iterator[ProviderSim]:
    with ProviderSim.in_process() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_sim(sim: ProviderSim) -> Iterator[None]:
    yield
    sim.reset()


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
