"""rateVideo: the owner of a finished video rates it 1-5, once (DESIGN section 3)."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from functions import runtime
from functions.guards import nesting_guard
from shared.shell import feedback
from shared.shell.feedback import FeedbackError

E = https_fn.FunctionsErrorCode
_CODES = {
    "invalid-argument": E.INVALID_ARGUMENT,
    "not-found": E.NOT_FOUND,
    "failed-precondition": E.FAILED_PRECONDITION,
    "already-exists": E.ALREADY_EXISTS,
}


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(alias="jobId", min_length=1, max_length=128)
    rating: StrictInt = Field(ge=1, le=5)


@nesting_guard
@https_fn.on_call()
def rateVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    if req.auth is None or not req.auth.uid:
        raise https_fn.HttpsError(E.UNAUTHENTICATED, "sign in to rate a video")
    try:
        ask = RatingRequest.model_validate(req.data)
    except ValidationError as bad:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in bad.errors()
        ]
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, "invalid rating", details) from None
    try:
        at = feedback.rate(
            runtime.shell(), user_id=req.auth.uid, job_id=ask.job_id, rating=ask.rating
        )
    except FeedbackError as refused:
        raise https_fn.HttpsError(_CODES[refused.code], str(refused)) from None
    return {"jobId": ask.job_id, "rating": ask.rating, "ratedAt": at}
