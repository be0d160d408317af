"""Admin-only: systemDashboard and setCircuitState (callables), and the dashboard page."""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

from firebase_functions import https_fn
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions import runtime
from functions.dashboard_page import asset, security_headers
from functions.guards import nesting_guard
from shared.core.breaker import ManualAction
from shared.shell import links
from shared.shell.users import NotFoundError

E = https_fn.FunctionsErrorCode
log = logging.getLogger("cvplus")


def _require_admin(req: https_fn.CallableRequest[Any]) -> str:
    """The admin's email (or uid) for the audit trail. The platform has checked the ID token's
    signature and expiry; an admin's token is also checked against revocation (a revoked
    session or a disabled account is refused at once, not when the token expires)."""
    if req.auth is None:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in first")
    if req.auth.token.get("admin") is not True:
        raise https_fn.HttpsError(E.PERMISSION_DENIED, "admins only")
    claims = _unrevoked_claims(req.raw_request)
    if claims.get("admin") is not True:
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
@https_fn.on_call()
def systemDashboard(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    _require_admin(req)
    return runtime.service().dashboard()


class CircuitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: str = Field(alias="providerId", min_length=1, max_length=64)
    # reset_quality: forget the provider's failed quality checks (it is selected again at once).
    action: Literal["open", "close", "reset", "reset_quality"]
    reason: str = Field(min_length=3, max_length=500)
    # Epoch seconds: the end of a maintenance window (open only; jobs wait for it).
    until: float | None = Field(default=None, gt=0)


@nesting_guard
@https_fn.on_call()
def setCircuitState(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    who = _require_admin(req)
    try:
        ask = CircuitRequest.model_validate(req.data)
    except ValidationError as bad:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in bad.errors()
        ]
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, "invalid circuit request", details) from None
    service = runtime.service()
    if ask.action == "reset_quality":
        try:
            service.reset_quality(ask.provider_id, by=who, reason=ask.reason)
        except KeyError:
            raise https_fn.HttpsError(E.NOT_FOUND, f"no provider {ask.provider_id!r}") from None
        return {"providerId": ask.provider_id, "action": ask.action, "by": who}
    try:
        transition = service.set_circuit(
            ask.provider_id, ManualAction(ask.action), by=who, reason=ask.reason, until=ask.until
        )
    except KeyError:
        raise https_fn.HttpsError(E.NOT_FOUND, f"no provider {ask.provider_id!r}") from None
    except ValueError as bad:
        details = [{"field": "until", "message": str(bad)}]
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, "invalid circuit request", details) from None
    state = service.breakers.state(ask.provider_id, now=service.clock(), fresh=True)
    return {
        "providerId": ask.provider_id,
        "state": state.state.value,
        "override": state.override.mode.value if state.override else None,
        "until": state.override.until if state.override else None,
        "reason": transition.reason if transition else state.last_reason,
        "by": who,
    }


@https_fn.on_request()
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


class LinksRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(alias="jobId", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    reason: str = Field(min_length=3, max_length=500)


@nesting_guard
@https_fn.on_call()
def rotateVideoLinks(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    """New download tokens for a job's video and thumbnail: every link handed out before stops
    working (a link that leaked, a user's request)."""
    who = _require_admin(req)
    try:
        ask = LinksRequest.model_validate(req.data)
    except ValidationError:
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, "invalid links request") from None
    try:
        answer = links.rotate(runtime.service(), ask.job_id)
    except NotFoundError:
        raise https_fn.HttpsError(E.NOT_FOUND, f"no video job {ask.job_id}") from None
    log.info("download links of job %s rotated by %s: %s", ask.job_id, who, ask.reason)
    return {**answer, "by": who}
