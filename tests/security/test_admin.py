"""Admin callables: the admin claim exactly, and a revoked session or a disabled account is
refused at once rather than when its ID token expires (up to an hour later)."""

from __future__ import annotations

from typing import Any

import pytest

from functions import runtime
from shared.shell.settings import Secret, Settings
from tests.support.harness import Harness

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
        state = harness.shell.ports.breakers.state("runwayml", now=harness.shell.ports.clock())
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


@pytest.mark.parametrize(
    "claim",
    [
        "true",
        1,
        [True],
        {"admin": True},
        None,
        # The CVPlus app's claim below level 3 without the monitoring permission (support staff,
        # moderators), or with ill-typed fields.
        {"role": "support", "level": 1, "permissions": {"canManageSupport": True}},
        {"role": "moderator", "level": 2, "permissions": {"canMonitorSystem": False}},
        {"level": "5", "permissions": {}},
        {"level": True},
        {"permissions": {"canMonitorSystem": "true"}},
        {"permissions": ["canMonitorSystem"]},
    ],
)
def test_anything_but_an_admin_claim_is_permission_denied(harness: Harness, claim: Any) -> None:
    """Only ``admin: true`` or the app's admin object (level 3+, or canMonitorSystem)."""
    answer = harness.call("systemDashboard", {}, {"uid": "u", "admin": claim})
    assert answer.error["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    "claim",
    [
        # gilco1973/cvplus-admin src/backend/functions/initializeAdmin.ts L80-90 (system admin).
        {
            "role": "system_admin",
            "level": 5,
            "permissions": {"canMonitorSystem": True, "canConfigureSystem": True},
            "grantedAt": "2025-08-28T00:00:00.000Z",
            "grantedBy": "system-init",
        },
        {"role": "admin", "level": 3, "permissions": {}},
        {"role": "moderator", "level": 2, "permissions": {"canMonitorSystem": True}},
    ],
)
def test_the_cvplus_apps_admin_claim_is_accepted(harness: Harness, claim: Any) -> None:
    """The app's admin claim is an object with level and permissions, not ``true``."""
    mfa = {"firebase": {"sign_in_second_factor": "phone"}}
    answer = harness.call("systemDashboard", {}, {"uid": "u", "admin": claim, **mfa})
    assert answer.status == 200, answer.body


def test_no_token_is_unauthenticated(harness: Harness) -> None:
    assert harness.call("systemDashboard", {}).error["status"] == "UNAUTHENTICATED"


def test_a_maintenance_open_takes_a_future_until_and_refuses_a_bad_one(harness: Harness) -> None:
    """``until`` ends a forced open; on a close, or in the past, it is an
    invalid-argument naming the field, and nothing changes."""
    until = harness.shell.ports.clock() + 600
    answer = harness.call("setCircuitState", {**CIRCUIT, "until": until}, ADMIN)
    assert answer.status == 200, answer.body
    assert answer.json["result"]["until"] == until
    for bad in ({**CIRCUIT, "action": "close", "until": until}, {**CIRCUIT, "until": 1.0}):
        refused = harness.call("setCircuitState", {**bad, "providerId": "did"}, ADMIN)
        assert refused.status == 400, refused.body
        assert refused.error["status"] == "INVALID_ARGUMENT"
        assert refused.error["details"][0]["field"] == "until"
    state = harness.shell.ports.breakers.state("did", now=harness.shell.ports.clock(), fresh=True)
    assert state.override is None


def test_an_admin_session_without_a_second_factor_is_refused_outside_the_emulator(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CVPLUS_ADMIN_REQUIRE_MFA on, the admin claim is not enough: the session must have
    been signed in with a second factor (firebase.sign_in_second_factor); in the emulator, or
    with the setting off (its default), it is not asked."""
    monkeypatch.setattr(
        runtime,
        "_settings",
        Settings(internal_secret=Secret("i" * 32), enforce_app_check=False, admin_require_mfa=True),
    )
    single = {k: v for k, v in ADMIN.items() if k != "firebase"}
    refused = harness.call("systemDashboard", {}, single)
    assert refused.error["status"] == "PERMISSION_DENIED"
    assert "second factor" in refused.error["message"]
    assert "result" in harness.call("systemDashboard", {}, ADMIN).json
    monkeypatch.setattr(
        runtime,
        "_settings",
        Settings(internal_secret=Secret("i" * 32), emulator=True, admin_require_mfa=True),
    )
    assert "result" in harness.call("systemDashboard", {}, single).json
    monkeypatch.setattr(runtime, "_settings", Settings(internal_secret=Secret("i" * 32)))
    assert "result" in harness.call("systemDashboard", {}, single).json  # the default: off
