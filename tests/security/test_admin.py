"""Admin callables: the admin claim exactly, and a revoked session or a disabled account is
refused at once rather than when its ID token expires (up to an hour later)."""

from __future__ import annotations

from typing import Any

import pytest

from functions import runtime
from shared.shell.settings import Secret, Settings
from tests.security.conftest import Harness

ADMIN = {
    "uid": "admin-1",
    "email": "ops@example.test",
    "admin": True,
    "firebase": {"sign_in_second_factor": "phone"},  # signed in with a second factor
}
CIRCUIT = {"providerId": "runwayml", "action": "open", "reason": "contract review"}


@pytest.mark.parametrize(("name", "data"), [("systemDashboard", {}), ("setCircuitState", CIRCUIT)])
def test_an_admin_with_a_live_session_is_served(harness: Harness, name: str, data: Any) -> None:
    answer = harness.call(name, data, ADMIN)
    assert answer.status == 200, answer.body


@pytest.mark.parametrize(("name", "data"), [("systemDashboard", {}), ("setCircuitState", CIRCUIT)])
def test_a_revoked_admin_session_is_unauthenticated(harness: Harness, name: str, data: Any) -> None:
    answer = harness.call(name, data, {**ADMIN, "_revoked": True})
    assert answer.status == 401, answer.body
    assert answer.error["status"] == "UNAUTHENTICATED"
    assert "revoked" in answer.error["message"]
    if name == "setCircuitState":
        state = harness.service.breakers.state("runwayml", now=harness.service.clock())
        assert state.override is None  # the revoked admin changed nothing


def test_a_disabled_admin_account_is_unauthenticated(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firebase_admin import auth

    def disabled(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("check_revoked"):
            raise auth.UserDisabledError("disabled")
        return dict(harness.tokens[token])

    monkeypatch.setattr(auth, "verify_id_token", disabled)
    answer = harness.call("systemDashboard", {}, ADMIN)
    assert answer.error["status"] == "UNAUTHENTICATED"
    assert "disabled" in answer.error["message"]


def test_when_revocation_cannot_be_checked_the_answer_is_unavailable(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firebase_admin import auth

    def down(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("check_revoked"):
            raise auth.CertificateFetchError("no route", cause=None)
        return dict(harness.tokens[token])

    monkeypatch.setattr(auth, "verify_id_token", down)
    answer = harness.call("systemDashboard", {}, ADMIN)
    assert answer.error["status"] == "UNAVAILABLE"


@pytest.mark.parametrize("claim", ["true", 1, [True], {"admin": True}, None])
def test_anything_but_admin_true_is_permission_denied(harness: Harness, claim: Any) -> None:
    answer = harness.call("systemDashboard", {}, {"uid": "u", "admin": claim})
    assert answer.error["status"] == "PERMISSION_DENIED"


def test_no_token_is_unauthenticated(harness: Harness) -> None:
    assert harness.call("systemDashboard", {}).error["status"] == "UNAUTHENTICATED"


def test_a_maintenance_open_takes_a_future_until_and_refuses_a_bad_one(harness: Harness) -> None:
    """Issue 16 row 9: ``until`` ends a forced open; on a close, or in the past, it is an
    invalid-argument naming the field, and nothing changes."""
    until = harness.service.clock() + 600
    answer = harness.call("setCircuitState", {**CIRCUIT, "until": until}, ADMIN)
    assert answer.status == 200, answer.body
    assert answer.json["result"]["until"] == until
    for bad in ({**CIRCUIT, "action": "close", "until": until}, {**CIRCUIT, "until": 1.0}):
        refused = harness.call("setCircuitState", {**bad, "providerId": "did"}, ADMIN)
        assert refused.status == 400, refused.body
        assert refused.error["status"] == "INVALID_ARGUMENT"
        assert refused.error["details"][0]["field"] == "until"
    state = harness.service.breakers.state("did", now=harness.service.clock(), fresh=True)
    assert state.override is None


def test_an_admin_session_without_a_second_factor_is_refused_outside_the_emulator(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin claim is not enough: the session must have been signed in with a second
    factor (firebase.sign_in_second_factor); in the emulator (or with the setting off) it is
    not asked."""
    single = {k: v for k, v in ADMIN.items() if k != "firebase"}
    refused = harness.call("systemDashboard", {}, single)
    assert refused.error["status"] == "PERMISSION_DENIED"
    assert "second factor" in refused.error["message"]
    assert "result" in harness.call("systemDashboard", {}, ADMIN).json
    monkeypatch.setattr(
        runtime, "_settings", Settings(internal_secret=Secret("i" * 32), emulator=True)
    )
    assert "result" in harness.call("systemDashboard", {}, single).json
