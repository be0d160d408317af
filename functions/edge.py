"""What every callable shares at the edge: who the caller is (signed in, not anonymous, their
tier) and the one mapping of a `Refusal` to the ``HttpsError`` it answers."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from firebase_functions import https_fn

from functions import runtime
from shared.api.requests import tier_from_claim
from shared.core.model import Tier
from shared.core.refusals import Refusal

E = https_fn.FunctionsErrorCode
R = TypeVar("R")
log = logging.getLogger("cvplus")


def https_error(refusal: Refusal) -> https_fn.HttpsError:
    """The callable protocol's error for ``refusal``: its code, its message, its details."""
    return https_fn.HttpsError(E(refusal.code.value), refusal.message, refusal.details)


def answers_refusals(
    handler: Callable[[https_fn.CallableRequest[Any]], R],
) -> Callable[[https_fn.CallableRequest[Any]], R]:
    """Under ``@https_fn.on_call``: a refusal raised anywhere below is answered as its
    ``HttpsError`` (anything else stays an internal error)."""

    @functools.wraps(handler)
    def answered(req: https_fn.CallableRequest[Any]) -> R:
        try:
            return handler(req)
        except Refusal as refusal:
            raise https_error(refusal) from None

    return answered


def caller(req: https_fn.CallableRequest[Any]) -> str:
    """The signed-in caller's uid, not an anonymous user (when refused): ``unauthenticated`` or
    ``permission-denied`` otherwise."""
    if req.auth is None or not req.auth.uid:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in to generate a video")
    config = runtime.settings()
    # App Check, when enforced, is the SDK's: on_call(enforce_app_check=...) (functions/deploy.py)
    # refuses a call without a valid token before this handler runs.
    if anonymous(req.auth.token) and config.refuses_anonymous:
        raise https_fn.HttpsError(
            E.PERMISSION_DENIED, "sign in with an account (not anonymously) to generate a video"
        )
    return str(req.auth.uid)


def caller_tier(req: https_fn.CallableRequest[Any]) -> Tier:
    """The tier the caller's ``tier`` claim names; free when it names none."""
    return claimed_tier(req) or Tier.FREE


def claimed_tier(req: https_fn.CallableRequest[Any]) -> Tier | None:
    """The tier the caller's ``tier`` claim names, or None (the web app's callables then read
    its subscription document)."""
    assert req.auth is not None
    claim = req.auth.token.get("tier")
    tier = tier_from_claim(claim)
    if tier is None and claim is not None:
        log.warning(
            "user %s: tier claim not understood, ignored",
            req.auth.uid,
            extra={"claimType": type(claim).__name__},
        )
    return tier


def anonymous(token: Any) -> bool:
    """An ID token of a user signed in anonymously (Firebase puts the sign-in provider in
    ``firebase.sign_in_provider``)."""
    firebase = token.get("firebase") if isinstance(token, dict) else None
    return isinstance(firebase, dict) and firebase.get("sign_in_provider") == "anonymous"


# Logging what someone else wrote (a refused webhook's path and reason).


def printable(text: str, limit: int = 24) -> str:
    """At most ``limit`` characters of text someone else wrote, escaped (no newlines, no
    control or non-ASCII characters a log reader would render), marked when cut."""
    escaped = text[:limit].encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)
    return escaped + ("..." if len(text) > limit else "")


class RateLimited:
    """At most ``per_minute`` lines a minute (per instance); the lines left out are counted and
    reported with the next one written. For refusals an attacker can cause at will."""

    def __init__(self, per_minute: int = 10, *, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._window = -1.0
        self._written = 0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """Whether to write a line now, and how many were left out since the last written."""
        now = self.clock()
        if now - self._window >= 60.0:
            self._window, self._written = now, 0
        if self._written >= self.per_minute:
            self.suppressed += 1
            return False, 0
        self._written += 1
        left_out, self.suppressed = self.suppressed, 0
        return True, left_out
