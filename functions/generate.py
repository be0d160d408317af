"""generateVideo: the callable the CVPlus web app uses to ask for a video."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn

from functions import deploy, runtime
from functions.edge import answers_refusals, caller, caller_tier
from functions.guards import nesting_guard
from shared.api.requests import parse_generate_video
from shared.api.webapi import GenerateVideoResponse
from shared.shell import processing


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def generateVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = parse_generate_video(req.data)
    job, deduplicated = processing.create_job(
        runtime.shell(),
        user_id=uid,
        script=request.effective_script(),
        options=request.video_options(),
        tier=caller_tier(req),
        request_id=request.request_id,
        cv_job_id=request.cv_job_id,
    )
    return GenerateVideoResponse.of(job, deduplicated=deduplicated).answer()
