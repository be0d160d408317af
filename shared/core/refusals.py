"""Requests refused on purpose, as one exception type. ``code`` names the callable protocol's
error (the edge, ``functions/edge.py``, maps every refusal to its ``HttpsError`` in one place),
``message`` is for the user and ``details`` for the client's code (a field, a job id).

    Refusal
     +-- InvalidRequest     invalid-argument     a malformed request, one detail per field
     +-- NotFound           not-found            no such thing, or not the caller's: the same
     +-- PermissionDenied   permission-denied    the caller's tier or account does not allow it
     +-- LimitReached       resource-exhausted   a quota or the daily spend cap
     +-- WrongState         failed-precondition  not now: the job or CV is not in a fit state
     +-- AlreadyExists      already-exists       done once already (a rating, a requestId)
     +-- StillWorking       deadline-exceeded    not ready within the call; it goes on
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import ClassVar

Details = Sequence[Mapping[str, object]] | Mapping[str, object] | None


class Code(StrEnum):
    """The callable protocol's codes a refusal uses (firebase-functions' FunctionsErrorCode)."""

    INVALID_ARGUMENT = "invalid-argument"
    NOT_FOUND = "not-found"
    PERMISSION_DENIED = "permission-denied"
    RESOURCE_EXHAUSTED = "resource-exhausted"
    FAILED_PRECONDITION = "failed-precondition"
    ALREADY_EXISTS = "already-exists"
    DEADLINE_EXCEEDED = "deadline-exceeded"


class Refusal(Exception):  # noqa: N818 - a refusal is not an error of ours
    code: ClassVar[Code] = Code.FAILED_PRECONDITION

    def __init__(self, message: str, details: Details = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(Refusal):
    code = Code.INVALID_ARGUMENT


class NotFound(Refusal):
    code = Code.NOT_FOUND


class PermissionDenied(Refusal):
    code = Code.PERMISSION_DENIED


class LimitReached(Refusal):
    code = Code.RESOURCE_EXHAUSTED


class WrongState(Refusal):
    code = Code.FAILED_PRECONDITION


class AlreadyExists(Refusal):
    code = Code.ALREADY_EXISTS


class StillWorking(Refusal):
    """What was asked goes on, but is not done within the call's time; ``details`` say where
    to watch it."""

    code = Code.DEADLINE_EXCEEDED
