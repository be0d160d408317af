"""The ``harness`` fixture: the deployed handlers in-process (`tests.support.harness`), on a
shell with memory stores whose provider adapters refuse any HTTP call; ``live`` and
``on_live``: the same over adapters that talk to the in-process provider simulator."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions import runtime
from shared.adapters.providers.base import VideoProvider
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from shared.adapters.stores.memory import MemoryDatabase
from shared.shell.settings import Secret, Settings
from tests.support.fakes import Clock
from tests.support.harness import INTERNAL_SECRET, Harness, refuse
from tests.support.memory import World, memory_ports, memory_shell, memory_world
from tools.provider_sim import ProviderSim

KEY = "sk-test-security-key-0123456789"


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    db = MemoryDatabase()
    transport = httpx.MockTransport(refuse)
    providers = {
        "heygen": HeyGenProvider(
            api_key="k" * 32,
            base_url="https://heygen.test",
            transport=transport,
        ),
        "did": DIDProvider(api_key="k" * 32, base_url="https://did.test", transport=transport),
        "runwayml": RunwayMLProvider(
            api_key="k" * 32, base_url="https://runwayml.test", transport=transport
        ),
    }
    ports = memory_ports(db, providers=providers, clock=time.time, rand=random.random)
    shell = memory_shell(ports, token_key=INTERNAL_SECRET.encode())
    try:
        yield installed(Harness(shell, db), monkeypatch)
    finally:
        for provider in providers.values():
            provider.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[ProviderSim]:
    with ProviderSim.in_process() as running:
        yield running


@pytest.fixture
def live(sim: ProviderSim, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The shell on memory stores with the real adapters against the provider simulator, a
    wall clock the test can jump ahead, and the deployed handlers on that shell (`on_live`)."""
    sim.reset()
    timeout = httpx.Timeout(1.0, connect=1.0)
    providers: dict[str, VideoProvider] = {
        "heygen": HeyGenProvider(api_key=KEY, base_url=sim.base_url("heygen"), timeout=timeout),
        "did": DIDProvider(api_key=KEY, base_url=sim.base_url("did"), timeout=timeout),
        "runwayml": RunwayMLProvider(
            api_key=KEY, base_url=sim.base_url("runwayml"), timeout=timeout
        ),
    }
    world = memory_world(
        providers,
        clock=Clock(now=None),
        sim=sim,
        webhook_base_url=f"{sim.url}/_inbox",
        token_key=INTERNAL_SECRET.encode(),
    )
    try:
        yield world
    finally:
        for p in providers.values():
            p.close()


@pytest.fixture
def on_live(live: World, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The deployed handlers on the ``live`` world's shell."""
    return installed(Harness(live.shell, live.db), monkeypatch)


def installed(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """``harness``'s shell as the instance's, behind a fake ID-token verifier."""

    def verify_id_token(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from firebase_admin import auth

        claims = harness.tokens.get(token)
        if claims is None:
            raise auth.InvalidIdTokenError("unknown token")
        if kwargs.get("check_revoked") and claims.get("_revoked"):
            raise auth.RevokedIdTokenError("revoked")
        return dict(claims)

    from firebase_admin import auth

    monkeypatch.setattr(auth, "verify_id_token", verify_id_token)
    monkeypatch.setattr(runtime, "_shell", harness.shell)
    # Production settings, but the harness's calls carry no App Check token (tests of App
    # Check turn it back on).
    monkeypatch.setattr(
        runtime,
        "_settings",
        Settings(internal_secret=Secret(INTERNAL_SECRET), enforce_app_check=False, app_wait_s=0.0),
    )
    return harness
