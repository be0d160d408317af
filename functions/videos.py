"""What a signed-in user does with their own video jobs after generateVideo: cancelVideoJob,
retryVideoJob, getVideoQuota; and the web app's own callables, thin aliases over the same
service that start from one of its CV jobs: generateVideoIntroduction,
regenerateVideoIntroduction, getVideoStatus."""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn
from pydantic import ValidationError

from functions import runtime, secrets
from functions.generate import caller, caller_tier, refused
from functions.guards import nesting_guard
from shared.api.requests import (
    CvJobRequest,
    IntroductionRequest,
    InvalidRequestError,
    JobRequest,
    QuotaRequest,
    error_details,
    parse,
)
from shared.core import tiers, userview
from shared.core.cv import parse_cv
from shared.core.jobs import AppCall, Job
from shared.core.spend import SpendCapReachedError
from shared.service import LimitExceededError, TierRefusedError
from shared.shell import links
from shared.shell.users import NoCvError, NotFoundError, NotOwnerError, WrongStateError

E = https_fn.FunctionsErrorCode


def _parse(model: Any, data: Any) -> Any:
    try:
        return parse(model, {} if data is None and model is QuotaRequest else data)
    except InvalidRequestError as bad:
        raise https_fn.HttpsError(E.INVALID_ARGUMENT, str(bad), bad.details) from None


def _answer_errors(exc: Exception) -> https_fn.HttpsError:
    if isinstance(exc, NotFoundError):
        return https_fn.HttpsError(E.NOT_FOUND, str(exc))
    if isinstance(exc, NotOwnerError):
        return https_fn.HttpsError(E.PERMISSION_DENIED, str(exc))
    if isinstance(exc, WrongStateError | NoCvError):
        return https_fn.HttpsError(E.FAILED_PRECONDITION, str(exc))
    return refused(exc)


_HANDLED = (
    NotFoundError,
    NotOwnerError,
    WrongStateError,
    NoCvError,
    LimitExceededError,
    TierRefusedError,
    SpendCapReachedError,
)


def job_answer(job: Job, **extra: Any) -> dict[str, Any]:
    """What the user callables answer about a job; the app then watches its document."""
    current = userview.stage(job)
    return {
        "jobId": job.job_id,
        "status": job.status.value,
        "stage": current.value,
        "stageLabel": userview.STAGE_LABELS[current],
        "progress": userview.progress(job),
        "retryOf": job.retry_of,
        **extra,
    }


# Cancelling needs the provider keys: a render already submitted is cancelled there.
@nesting_guard
@https_fn.on_call(secrets=secrets.PROVIDER_KEYS)
def cancelVideoJob(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    try:
        job, stopped = runtime.service(secrets.PROVIDER_KEYS).cancel(
            job_id=request.job_id, user_id=uid
        )
    except _HANDLED as exc:
        raise _answer_errors(exc) from None
    return job_answer(job, providerCancelled=stopped)


@nesting_guard
@https_fn.on_call()
def retryVideoJob(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    try:
        job, deduplicated = runtime.service().retry(job_id=request.job_id, user_id=uid)
    except _HANDLED as exc:
        raise _answer_errors(exc) from None
    return job_answer(job, deduplicated=deduplicated)


@nesting_guard
@https_fn.on_call()
def getVideoQuota(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    _parse(QuotaRequest, req.data)
    quota = runtime.service().quota(user_id=uid, tier=caller_tier(req))
    return tiers.quota_answer(quota)


# ---------------------------------------------------------------------------------------------
# The web app's callables, by the names it calls.


def _introduce(req: https_fn.CallableRequest[Any], call: AppCall) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(IntroductionRequest, req.data)
    service = runtime.service()
    try:
        doc = service.cv_job(cv_job_id=request.job_id, user_id=uid)
        cv = None
        if request.custom_script is None:
            parsed = doc.get("parsedData")
            if not isinstance(parsed, dict):
                raise NoCvError("CV data not found")
            try:
                cv = parse_cv(parsed)
            except ValidationError as exc:
                raise https_fn.HttpsError(
                    E.FAILED_PRECONDITION,
                    "the CV job's parsedData is not a CV this service can read",
                    [{**d, "field": f"parsedData.{d['field']}"} for d in error_details(exc)],
                ) from None
        job, deduplicated = service.introduce(
            cv_job_id=request.job_id,
            user_id=uid,
            cv=cv,
            script=request.custom_script,
            options=request.video_options(),
            tier=caller_tier(req),
            call=call,
        )
    except _HANDLED as exc:
        raise _answer_errors(exc) from None
    return {
        "success": True,
        "jobId": request.job_id,
        "videoJobId": job.job_id,
        "status": "regenerating" if call is AppCall.REGENERATE else "generating",
        "video": None,  # it arrives in jobs/{jobId}.video, which the app watches
        "deduplicated": deduplicated,
    }


@nesting_guard
@https_fn.on_call()
def generateVideoIntroduction(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    return _introduce(req, AppCall.GENERATE)


@nesting_guard
@https_fn.on_call()
def regenerateVideoIntroduction(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    return _introduce(req, AppCall.REGENERATE)


@nesting_guard
@https_fn.on_call()
def getVideoStatus(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(CvJobRequest, req.data)
    try:
        return runtime.service().video_status(cv_job_id=request.job_id, user_id=uid)
    except _HANDLED as exc:
        raise _answer_errors(exc) from None


# A CV video is personal data: its owner deletes it (the bucket objects and the job's links).
@nesting_guard
@https_fn.on_call()
def deleteVideo(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    uid = caller(req)
    request = _parse(JobRequest, req.data)
    try:
        job = links.delete_video(runtime.service(), job_id=request.job_id, user_id=uid)
    except _HANDLED as exc:
        raise _answer_errors(exc) from None
    return job_answer(job, deleted=True)
