"""The ``harness`` fixture: the deployed handlers in-process (`tests.support.harness`), on a
shell with memory stores whose provider adapters refuse any HTTP call."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions import runtime
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from shared.adapters.stores.memory import MemoryDatabase
from shared.shell.settings import Secret, Settings
from tests.support.harness import INTERNAL_SECRET, Harness, refuse
from tests.support.memory import memory_ports, memory_shell


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
    harness = Harness(shell, db)

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
    monkeypatch.setattr(runtime, "_shell", shell)
    # Production settings, but the harness's calls carry no App Check token (tests of App
    # Check turn it back on).
    monkeypatch.setattr(
        runtime,
        "_settings",
        Settings(internal_secret=Secret(INTERNAL_SECRET), enforce_app_check=False, app_wait_s=0.0),
    )
    try:
        yield harness
    finally:
        for provider in providers.values():
            provider.close()
