"""generateVideo: the callable the CVPlus web app uses to ask for a video; and what every user
callable checks of its caller (functions/videos.py uses the same)."""

from __future__ import annotations

import logging
from typing import Any

from firebase_functions import https_fn

from functions import runtime
from functions.guards import nesting_guard
from shared.api.requests import InvalidRequestError, parse_generate_video, tier_from_claim
from shared.core.jobs import RequestReusedError
from shared.core.model import Tier
from shared.core.spend import SpendCapReachedError
from shared.shell import processing
from shared.shell.processing import LimitExceededError, TierRefusedError

E = https_fn.FunctionsErrorCode
log = logging.getLogger("cvplus")


def caller(req: https_fn.CallableRequest[Any]) -> str:
    """The signed-in caller's uid, from a verified app (when App Check is enforced) and not an
    anonymous user (when refused): ``unauthenticated`` or ``permission-denied`` otherwise."""
    if req.auth is None or not req.auth.uid:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in to generate a video")
    config = runtime.settings()
    # The SDK has verified an App Check token that came with the call (req.app is set only for
    # a valid one); enforcing it is a setting, so the emulator and tests can run without.
    if config.enforces_app_check and req.app is None:
        raise https_fn.HttpsError(
            E.UNAUTHENTICATED, "this app is not verified: a valid App Check token is required"
        )
    if anonymous(req.auth.token) and config.refuses_anonymous:
        raise https_fn.HttpsError(
            E.PERMISSION_DENIED, "sign in with an account (not anonymously) to generate a video"
        )
    return str(req.auth.uid)


def caller_tier(req: https_fn.CallableRequest[Any]) -> Tier:
    """The tier the caller's ``tier`` claim names; free when it names none."""
    assert req.auth is not None
    claim = req.auth.token.get("tier")
    tier = tier_from_claim(claim)
    if tier is None:
        if claim is not None:
            log.warning(
                "user %s: tier claim not understood, free tier used",
                req.auth.uid,
                extra={"claimType": type(claim).__name__},
            )
        tier = Tier.FREE
    return tier


def refused(exc: Exception) -> https_fn.HttpsError:
    """The HttpsError for a request the caller's tier, limits or the spend cap refuse."""
    if isinstance(exc, TierRefusedError):
        details = [{"field": r.field, "message": r.message} for r in exc.refusals]
        return https_fn.HttpsError(E.PERMISSION_DENIED, str(exc), details)
    return https_fn.HttpsError(E.RESOURCE_EXHAUSTED, str(exc))


@nesting_guard
@https_fn.on_call()
def generateVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    try:
        request = parse_generate_video(req.data)
    except InvalidRequestError as bad:
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, str(bad), bad.details) from None
    tier = caller_tier(req)
    try:
        job, deduplicated = processing.create_job(
            runtime.shell(),
            user_id=uid,
            script=request.effective_script(),
            options=request.video_options(),
            tier=tier,
            request_id=request.request_id,
            cv_job_id=request.cv_job_id,
        )
    except (LimitExceededError, SpendCapReachedError, TierRefusedError) as limit:
        raise refused(limit) from None
    except RequestReusedError as reused:
        raise https_fn.HttpsError(
            E.ALREADY_EXISTS, str(reused), {"jobId": reused.job_id, "field": "requestId"}
        ) from None
    return {"jobId": job.job_id, "status": job.status.value, "deduplicated": deduplicated}


def anonymous(token: Any) -> bool:
    """An ID token of a user signed in anonymously (Firebase puts the sign-in provider in
    ``firebase.sign_in_provider``)."""
    firebase = token.get("firebase") if isinstance(token, dict) else None
    return isinstance(firebase, dict) and firebase.get("sign_in_provider") == "anonymous"
