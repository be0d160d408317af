"""What a signed-in user does with their own video jobs after generateVideo: cancelVideoJob,
retryVideoJob, getVideoQuota; and the web app's own callables, thin aliases over the same
service: generateVideoIntroduction (a CV job's, or the multimedia service's ``{cvData,
options}``), regenerateVideoIntroduction, getVideoStatus, getMediaStatus, getGenerationStatus,
cancelGeneration."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn
from pydantic import ValidationError

from functions import deploy, runtime, secrets
from functions.edge import answers_refusals, caller, caller_tier, claimed_tier
from functions.guards import nesting_guard
from shared.api.requests import (
    CvDataIntroductionRequest,
    CvJobRequest,
    IntroductionRequest,
    JobRequest,
    QuotaRequest,
    error_details,
    is_cv_data_call,
    parse,
)
from shared.api.webapi import CvDataIntroductionResponse, JobAnswer, QuotaResponse
from shared.core.cv import parse_cv
from shared.core.jobs import AppCall
from shared.core.refusals import WrongState
from shared.shell import links, processing, users


def _parse(model: Any, data: Any) -> Any:
    return parse(model, {} if data is None and model is QuotaRequest else data)


def _cancel(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    """cancelVideoJob, and cancelGeneration (the multimedia service's name for it)."""
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    job, stopped = users.cancel(
        runtime.shell(secrets.PROVIDER_KEYS), job_id=request.job_id, user_id=uid
    )
    return JobAnswer.of(job, providerCancelled=stopped).answer()


# Cancelling needs the provider keys: a render already submitted is cancelled there.
@nesting_guard
@https_fn.on_call(secrets=secrets.PROVIDER_KEYS, enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def cancelVideoJob(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    return _cancel(req)


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def retryVideoJob(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    job, deduplicated = users.retry(
        runtime.shell(), job_id=request.job_id, user_id=uid, tier=caller_tier(req)
    )
    return JobAnswer.of(job, deduplicated=deduplicated).answer()


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def getVideoQuota(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    _parse(QuotaRequest, req.data)
    quota = processing.usage(runtime.shell(), uid, caller_tier(req))
    return QuotaResponse.of(quota).answer()


# ---------------------------------------------------------------------------------------------
# The web app's callables, by the names it calls.


def _introduce(req: https_fn.CallableRequest[Any], call: AppCall) -> dict[str, Any]:
    """The original call shapes: a CV job. Premium only, as the app's own guard had it
    (withPremiumAccess('videoIntroduction')); waits for the video up to APP_WAIT_SECONDS."""
    uid = caller(req)
    request = _parse(IntroductionRequest, req.data)
    shell = runtime.shell()
    tier = users.require_app_entitlement(shell, uid, claimed_tier(req))
    doc = users.cv_job(shell, request.job_id, uid)
    cv = None
    if request.custom_script is None:
        parsed = doc.get("parsedData")
        if not isinstance(parsed, dict):
            raise WrongState("CV data not found. Please ensure CV is parsed first.")
        try:
            cv = parse_cv(parsed)
        except ValidationError as exc:  # the reader takes anything; kept as a last guard
            raise WrongState(
                "the CV job's parsedData is not a CV this service can read",
                [{**d, "field": f"parsedData.{d['field']}"} for d in error_details(exc)],
            ) from None
    job, deduplicated = users.introduce(
        shell,
        cv_job_id=request.job_id,
        user_id=uid,
        cv=cv,
        script=request.custom_script,
        options=request.video_options(),
        tier=tier,
        call=call,
    )
    job = users.wait_for(shell, job, budget_s=runtime.settings().app_wait_s)
    answer = users.introduction_answer(shell, request.job_id, job, deduplicated=deduplicated)
    return answer.answer()


def _introduce_cv_data(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    """The multimedia service's shape: answered ``{jobId}`` at once."""
    uid = caller(req)
    request = _parse(CvDataIntroductionRequest, req.data)
    shell = runtime.shell()
    tier = users.require_app_entitlement(shell, uid, claimed_tier(req))
    job, deduplicated = users.introduce_cv_data(
        shell, user_id=uid, cv=request.cv_data, options=request.video_options(), tier=tier
    )
    return CvDataIntroductionResponse.of(job, deduplicated=deduplicated).answer()


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def generateVideoIntroduction(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    if is_cv_data_call(req.data):
        return _introduce_cv_data(req)
    return _introduce(req, AppCall.GENERATE)


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def regenerateVideoIntroduction(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    return _introduce(req, AppCall.REGENERATE)


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def getVideoStatus(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(CvJobRequest, req.data)
    return users.video_status(runtime.shell(), cv_job_id=request.job_id, user_id=uid).answer()


# A CV video is personal data: its owner deletes it (the bucket objects and the job's links).
@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def deleteVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    job = links.delete_video(runtime.shell(), job_id=request.job_id, user_id=uid)
    return JobAnswer.of(job, deleted=True).answer()


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def getMediaStatus(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(CvJobRequest, req.data)
    return users.media_status(runtime.shell(), cv_job_id=request.job_id, user_id=uid).answer()


@nesting_guard
@https_fn.on_call(enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def getGenerationStatus(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    return users.generation_status(runtime.shell(), job_id=request.job_id, user_id=uid).answer()


# cancelVideoJob under the multimedia service's name.
@nesting_guard
@https_fn.on_call(secrets=secrets.PROVIDER_KEYS, enforce_app_check=deploy.APP_CHECK, **deploy.USER)
@answers_refusals
def cancelGeneration(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    return _cancel(req)
