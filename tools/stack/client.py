"""What an e2e test does as the web app would: sign up with the Auth emulator (custom claims
set by the project owner), and call a callable with the ID token.

    uid, token = sign_up(http, stack.config, claims={"admin": True})
    answer = call(http, stack.config, "generateVideo", {"script": "..."}, token)

In the emulator ID tokens are unsigned and accepted as they are, so claims prove nothing about
token checking there; they do reach `req.auth.token`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from tools.stack.config import StackConfig

API_KEY = "fake-api-key"  # the Auth emulator accepts any key
OWNER = {"Authorization": "Bearer owner"}  # the emulator's admin credential


def sign_up(
    http: httpx.Client, config: StackConfig, claims: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """A new Auth-emulator user with ``claims``; returns (uid, an ID token carrying them)."""
    api = config.auth_api
    account = {
        "email": f"{uuid.uuid4().hex[:12]}@example.test",
        "password": "correct-horse-battery",
        "returnSecureToken": True,
    }
    created = http.post(f"{api}/accounts:signUp", params={"key": API_KEY}, json=account)
    created.raise_for_status()
    uid = str(created.json()["localId"])
    if claims:
        updated = http.post(
            f"{api}/projects/{config.project_id}/accounts:update",
            headers=OWNER,
            json={"localId": uid, "customAttributes": json.dumps(dict(claims))},
        )
        updated.raise_for_status()
    signed_in = http.post(
        f"{api}/accounts:signInWithPassword", params={"key": API_KEY}, json=account
    )
    signed_in.raise_for_status()
    return uid, str(signed_in.json()["idToken"])


def call(
    http: httpx.Client, config: StackConfig, name: str, data: Any, token: str | None = None
) -> httpx.Response:
    """POST a callable's request (``{"data": ...}``), signed in when ``token`` is given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post(config.function_url(name), json={"data": data}, headers=headers)
