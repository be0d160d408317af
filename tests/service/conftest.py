"""The worlds the service tests drive: ``world``, the shell on memory stores with scripted
providers; ``live``, the shell on memory stores with the real adapters over HTTP against the
provider simulator (``sim``, one per module) and a wall clock the test can jump ahead."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.providers.base import VideoProvider
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from tests.support.fakes import Clock
from tests.support.memory import World, memory_world
from tools.provider_sim import ProviderSim

KEY = "sk-test-service-key-0123456789"


@pytest.fixture
def world() -> World:
    return memory_world(webhook_base_url="https://functions.example", token_key=b"k")


@pytest.fixture(scope="module")
def sim() -> Iterator[ProviderSim]:
    with ProviderSim.in_process() as running:
        yield running


@pytest.fixture
def live(sim: ProviderSim) -> Iterator[World]:
    sim.reset()
    timeout = httpx.Timeout(1.0, connect=1.0)
    providers: dict[str, VideoProvider] = {
        "heygen": HeyGenProvider(api_key=KEY, base_url=sim.base_url("heygen"), timeout=timeout),
        "did": DIDProvider(api_key=KEY, base_url=sim.base_url("did"), timeout=timeout),
        "runwayml": RunwayMLProvider(
            api_key=KEY, base_url=sim.base_url("runwayml"), timeout=timeout
        ),
    }
    yield memory_world(
        providers,
        clock=Clock(now=None),
        sim=sim,
        webhook_base_url=f"{sim.url}/_inbox",
        token_key=b"service-test-key",
    )
    for p in providers.values():
        p.close()
