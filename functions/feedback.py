"""rateVideo: the owner of a finished video rates it 1-5, once (DESIGN section 3)."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn

from functions import deploy, runtime
from functions.edge import answers_refusals, caller
from functions.guards import nesting_guard
from shared.api.requests import RatingRequest, parse
from shared.shell import feedback


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def rateVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    ask = parse(RatingRequest, req.data)
    at = feedback.rate(runtime.shell(), user_id=uid, job_id=ask.job_id, rating=ask.rating)
    return {"jobId": ask.job_id, "rating": ask.rating, "ratedAt": at}
