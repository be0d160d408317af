"""Admin-only: systemDashboard, setCircuitState and rotateVideoLinks (callables), and the
dashboard page."""

from __future__ import annotations

import logging
import os
from typing import Any

from firebase_functions import https_fn

from functions import deploy, runtime
from functions.dashboard_page import asset, security_headers
from functions.edge import answers_refusals
from functions.guards import nesting_guard
from shared.api.requests import CircuitRequest, LinksRequest, parse
from shared.core.breaker import ManualAction
from shared.shell import admin, links

E = https_fn.FunctionsErrorCode
log = logging.getLogger("cvplus")


# The CVPlus app's admin claim is an object (gilco1973/cvplus-admin
# src/backend/functions/initializeAdmin.ts L80-90: admin: {role, level, permissions, ...}), its
# levels 1 support .. 5 system admin (src/middleware/admin-auth.middleware.ts L19-33). This
# project's own claim is admin: true. firestore.rules' videoAdmin() decides the same way.
APP_ADMIN_LEVEL = 3  # AdminLevel.L3_ADMIN: not support staff or moderators
APP_ADMIN_PERMISSION = "canMonitorSystem"


def is_admin(claim: Any) -> bool:
    """``admin: true``, or the app's admin object at level 3 or above or with the
    ``canMonitorSystem`` permission."""
    if claim is True:
        return True
    if not isinstance(claim, dict):
        return False
    level = claim.get("level")
    permissions = claim.get("permissions")
    by_level = type(level) is int and level >= APP_ADMIN_LEVEL
    by_permission = isinstance(permissions, dict) and permissions.get(APP_ADMIN_PERMISSION) is True
    return by_level or by_permission


def _require_admin(req: https_fn.CallableRequest[Any]) -> str:
    """The admin's email (or uid) for the audit trail. The platform has checked the ID token's
    signature and expiry; an admin's token is also checked against revocation (a revoked
    session or a disabled account is refused at once, not when the token expires)."""
    if req.auth is None:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in first")
    if not is_admin(req.auth.token.get("admin")):
        raise https_fn.HttpsError(E.PERMISSION_DENIED, "admins only")
    claims = _unrevoked_claims(req.raw_request)
    if not is_admin(claims.get("admin")):
        raise https_fn.HttpsError(E.PERMISSION_DENIED, "admins only")
    if runtime.settings().requires_admin_mfa and not _second_factor(claims):
        raise https_fn.HttpsError(
            E.PERMISSION_DENIED, "admins sign in with a second factor (multi-factor sign-in)"
        )
    return str(claims.get("email") or claims.get("uid") or req.auth.uid)


def _second_factor(claims: dict[str, Any]) -> bool:
    """Whether the session was signed in with a second factor: the ID token's
    ``firebase.sign_in_second_factor`` (``phone``, ``totp``), which Identity Platform sets on a
    multi-factor sign-in (IdTokenResult.signInSecondFactor in the Auth SDK reference)."""
    firebase = claims.get("firebase")
    return isinstance(firebase, dict) and bool(firebase.get("sign_in_second_factor"))


def _unrevoked_claims(raw: https_fn.Request) -> dict[str, Any]:
    """The caller's ID token verified again, with ``check_revoked`` (one Auth lookup; against
    the Auth emulator when FIREBASE_AUTH_EMULATOR_HOST is set)."""
    from firebase_admin import auth, exceptions

    header = raw.headers.get("Authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    try:
        return dict(auth.verify_id_token(token, check_revoked=True))
    except auth.RevokedIdTokenError:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "session revoked: sign in again") from None
    except auth.UserDisabledError:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "this account is disabled") from None
    except (auth.InvalidIdTokenError, auth.UserNotFoundError):
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in again") from None
    except (auth.CertificateFetchError, exceptions.FirebaseError, ValueError) as err:
        log.warning("revocation check failed: %s", type(err).__name__)
        raise https_fn.HttpsError(
            E.UNAVAILABLE, "cannot check the session right now; try again"
        ) from None


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.ADMIN)
@answers_refusals
def systemDashboard(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    _require_admin(req)
    return admin.dashboard_answer(runtime.shell())


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.ADMIN)
@answers_refusals
def setCircuitState(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    who = _require_admin(req)
    ask = parse(CircuitRequest, req.data)
    shell = runtime.shell()
    if ask.action == "reset_quality":
        admin.reset_quality(shell, ask.provider_id, by=who, reason=ask.reason)
        return {"providerId": ask.provider_id, "action": ask.action, "by": who}
    transition = admin.set_circuit(
        shell, ask.provider_id, ManualAction(ask.action), by=who, reason=ask.reason, until=ask.until
    )
    state = shell.ports.breakers.state(ask.provider_id, now=shell.ports.clock(), fresh=True)
    return {
        "providerId": ask.provider_id,
        "state": state.state.value,
        "override": state.override.mode.value if state.override else None,
        "until": state.override.until if state.override else None,
        "reason": transition.reason if transition else state.last_reason,
        "by": who,
    }


@https_fn.on_request(**deploy.ADMIN)
def dashboard(req: https_fn.Request) -> https_fn.Response:
    """The dashboard page. It holds no data: the figures come from systemDashboard, which (like
    setCircuitState) refuses anyone without the admin claim."""
    found = asset(req.path)
    if found is None:
        return https_fn.Response("not found", status=404, mimetype="text/plain")
    body, content_type = found
    emulator = os.environ.get("FUNCTIONS_EMULATOR") == "true"
    return https_fn.Response(
        body, status=200, content_type=content_type, headers=security_headers(emulator=emulator)
    )


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.ADMIN)
@answers_refusals
def rotateVideoLinks(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    """New download tokens for a job's video and thumbnail: every link handed out before stops
    working (a link that leaked, a user's request)."""
    who = _require_admin(req)
    ask = parse(LinksRequest, req.data)
    answer = links.rotate(runtime.shell(), ask.job_id)
    log.info("download links of job %s rotated by %s: %s", ask.job_id, who, ask.reason)
    return {**answer, "by": who}
