"""The web app's contract as pydantic models: the request of every user-facing callable (from
``shared.api.requests``), each answer, and the job document its owner reads. The TypeScript client's
types (``web/client/api.ts``) are generated from their JSON Schema by ``tools/ts_types.py``, and a
test fails when the committed file and these models differ; the answers and the document are
checked against what the handlers and the codec really produce (extra fields are refused), so
neither side can drift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.requests import (
    CvJobRequest,
    GenerateVideoRequest,
    IntroductionRequest,
    JobRequest,
    QuotaRequest,
)
from shared.core import tiers, userview
from shared.core.jobs import AppCall, Job


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    def answer(self) -> dict[str, Any]:
        """What the callable returns: the fields set, by their wire names."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


JobStatusName = Literal["queued", "processing", "completed", "failed", "cancelled"]
StageName = Literal[
    "queued", "submitting", "rendering", "retrying", "completed", "failed", "cancelled"
]


class GenerateVideoResponse(_Answer):
    job_id: str = Field(alias="jobId")
    status: JobStatusName
    deduplicated: bool

    @classmethod
    def of(cls, job: Job, *, deduplicated: bool) -> GenerateVideoResponse:
        return cls.model_validate(
            {"jobId": job.job_id, "status": job.status.value, "deduplicated": deduplicated}
        )


class JobAnswer(_Answer):
    """cancelVideoJob and retryVideoJob answer the job's state; then watch its document."""

    job_id: str = Field(alias="jobId")
    status: JobStatusName
    stage: StageName
    stage_label: str = Field(alias="stageLabel")
    progress: int
    retry_of: str | None = Field(alias="retryOf")
    provider_cancelled: bool | None = Field(None, alias="providerCancelled")
    deduplicated: bool | None = None

    @classmethod
    def of(cls, job: Job, **extra: bool) -> JobAnswer:
        """``extra``: ``providerCancelled`` (cancel) or ``deduplicated`` (retry)."""
        current = userview.stage(job)
        return cls.model_validate(
            {
                "jobId": job.job_id,
                "status": job.status.value,
                "stage": current.value,
                "stageLabel": userview.STAGE_LABELS[current],
                "progress": userview.progress(job),
                "retryOf": job.retry_of,
                **extra,
            }
        )


class TierLimitsAnswer(_Answer):
    resolutions: list[Literal["720p", "1080p"]]
    durations: list[Literal["short", "medium", "long"]]
    urgencies: list[Literal["low", "normal", "high", "critical"]]
    quality_levels: list[Literal["standard", "premium"]] = Field(alias="qualityLevels")
    jobs_per_hour: int = Field(alias="jobsPerHour")
    jobs_per_day: int = Field(alias="jobsPerDay")


class QuotaResponse(_Answer):
    tier: Literal["free", "premium", "enterprise"]
    limits: TierLimitsAnswer
    used_this_hour: int = Field(alias="usedThisHour")
    used_today: int = Field(alias="usedToday")
    remaining: int

    @classmethod
    def of(cls, q: tiers.Quota) -> QuotaResponse:
        limits = tiers.limits_for(q.tier)
        return cls.model_validate(
            {
                "tier": q.tier.value,
                "limits": {
                    "resolutions": tiers.allowed_values(limits, "resolutions"),
                    "durations": tiers.allowed_values(limits, "durations"),
                    "urgencies": tiers.allowed_values(limits, "urgencies"),
                    "qualityLevels": tiers.allowed_values(limits, "quality_levels"),
                    "jobsPerHour": q.per_hour,
                    "jobsPerDay": q.per_day,
                },
                "usedThisHour": q.used_hour,
                "usedToday": q.used_day,
                "remaining": q.remaining,
            }
        )


class IntroductionResponse(_Answer):
    """generateVideoIntroduction / regenerateVideoIntroduction: the video arrives in the CV
    job's ``video`` field, which the app watches."""

    success: Literal[True]
    job_id: str = Field(alias="jobId")
    video_job_id: str = Field(alias="videoJobId")
    status: Literal["generating", "regenerating"]
    video: None
    deduplicated: bool

    @classmethod
    def of(cls, cv_job_id: str, job: Job, *, deduplicated: bool) -> IntroductionResponse:
        regenerating = job.app_call is AppCall.REGENERATE
        return cls.model_validate(
            {
                "success": True,
                "jobId": cv_job_id,
                "videoJobId": job.job_id,
                "status": "regenerating" if regenerating else "generating",
                "video": None,  # it arrives in jobs/{jobId}.video, which the app watches
                "deduplicated": deduplicated,
            }
        )


class VideoStatusResponse(_Answer):
    status: str
    video: dict[str, object] | None
    error: str | None
    progress: int | None
    current_step: str | None = Field(alias="currentStep")
    video_job_id: str | None = Field(alias="videoJobId")

    @classmethod
    def of(cls, cv_job: Mapping[str, Any]) -> VideoStatusResponse:
        """getVideoStatus, as the app reads it: from its CV job's mirrored fields."""
        intro = (cv_job.get("enhancedFeatures") or {}).get("videoIntroduction") or {}
        return cls.model_validate(
            {
                "status": cv_job.get("videoStatus") or "not-started",
                "video": cv_job.get("video"),
                "error": cv_job.get("videoError"),
                "progress": intro.get("progress"),
                "currentStep": intro.get("currentStep"),
                "videoJobId": intro.get("videoJobId"),
            }
        )


class JobOptions(_Answer):
    duration: Literal["short", "medium", "long"]
    style: Literal["professional", "friendly", "energetic"]
    avatar_style: Literal["realistic", "corporate", "illustrated"] = Field(alias="avatarStyle")
    urgency: Literal["low", "normal", "high", "critical"]
    quality_level: Literal["standard", "premium"] = Field(alias="qualityLevel")
    resolution: Literal["720p", "1080p"]
    aspect_ratio: Literal["16:9", "9:16"] = Field(alias="aspectRatio")
    allow_fallback: bool = Field(alias="allowFallback")
    features: list[Literal["voice", "lip_sync", "custom_avatar"]]


class JobErrorDoc(_Answer):
    code: str  # stable: cancelled, deadline_exceeded, no_provider_available, an error category
    message: str  # plain words for the user
    retryable: bool  # retryVideoJob may run it again


class AttemptDoc(_Answer):
    provider_id: str = Field(alias="providerId")
    attempt: int
    started_at: float = Field(alias="startedAt")
    provider_job_id: str | None = Field(alias="providerJobId")
    ended_at: float | None = Field(alias="endedAt")
    outcome: str | None


class RestingDoc(_Answer):
    """A provider the job does not go back to before ``until`` (after a passing failure)."""

    provider_id: str = Field(alias="providerId")
    until: float


class JobMetadata(_Answer):
    resolution: Literal["720p", "1080p"]
    format: Literal["mp4"]
    generated_at: float | None = Field(alias="generatedAt")


class LeaseDoc(_Answer):
    owner: str
    expires_at: float = Field(alias="expiresAt")


class VideoJobDocument(_Answer):
    """``enhanced_video_jobs/{jobId}``, as its owner reads it (times are epoch seconds)."""

    job_id: str = Field(alias="jobId")
    user_id: str = Field(alias="userId")
    request_id: str | None = Field(alias="requestId")
    cv_job_id: str | None = Field(alias="cvJobId")
    tier: Literal["free", "premium", "enterprise"]
    status: JobStatusName
    stage: StageName
    stage_label: str = Field(alias="stageLabel")
    progress: int  # 0-100 as last written; see estimateProgress in the client
    render_progress: float | None = Field(alias="renderProgress")  # the provider's, 0..1
    render_started_at: float | None = Field(alias="renderStartedAt")
    eta_at: float | None = Field(alias="etaAt")
    script: str
    generation_method: Literal["enhanced"] = Field(alias="generationMethod")
    options: JobOptions
    provider_id: str | None = Field(alias="providerId")
    provider_job_id: str | None = Field(alias="providerJobId")
    preferred_provider: str | None = Field(alias="preferredProvider")
    attempt: int
    max_attempts: int = Field(alias="maxAttempts")
    key_seq: int = Field(alias="keySeq")
    excluded_providers: list[str] = Field(alias="excludedProviders")
    resting_providers: list[RestingDoc] = Field(alias="restingProviders")
    provider_history: list[AttemptDoc] = Field(alias="providerHistory")
    next_action_at: float | None = Field(alias="nextActionAt")
    deadline_at: float = Field(alias="deadlineAt")
    degraded: bool
    degradations: list[str]
    degradation_notes: list[str] = Field(alias="degradationNotes")  # plain words
    # Our copies in Cloud Storage: a download URL that plays them, and the objects' gs:// paths.
    video_url: str | None = Field(alias="videoUrl")
    thumbnail_url: str | None = Field(alias="thumbnailUrl")
    storage_path: str | None = Field(alias="storagePath")
    thumbnail_storage_path: str | None = Field(alias="thumbnailStoragePath")
    duration_seconds: float | None = Field(alias="durationSeconds")
    error: JobErrorDoc | None
    metadata: JobMetadata
    retry_of: str | None = Field(alias="retryOf")
    retries: int
    app_call: Literal["generate", "regenerate"] | None = Field(alias="appCall")
    # USD: the chosen provider's measured (else list) price per video, set at each submit.
    estimated_cost: float | None = Field(alias="estimatedCost")
    # USD of the day's spend cap the job holds until it ends (released then).
    reserved_usd: float = Field(alias="reservedUsd")
    created_at: float = Field(alias="createdAt")
    updated_at: float = Field(alias="updatedAt")
    lease: LeaseDoc | None = None


# name in TypeScript -> model, in the order the generated file declares them.
CONTRACT: dict[str, type[BaseModel]] = {
    "GenerateVideoRequest": GenerateVideoRequest,
    "GenerateVideoResponse": GenerateVideoResponse,
    "JobRequest": JobRequest,
    "JobAnswer": JobAnswer,
    "QuotaRequest": QuotaRequest,
    "QuotaResponse": QuotaResponse,
    "IntroductionRequest": IntroductionRequest,
    "IntroductionResponse": IntroductionResponse,
    "CvJobRequest": CvJobRequest,
    "VideoStatusResponse": VideoStatusResponse,
    "VideoJobDocument": VideoJobDocument,
}

# The callables of the web app: name -> (request, response).
CALLABLES: dict[str, tuple[str, str]] = {
    "generateVideo": ("GenerateVideoRequest", "GenerateVideoResponse"),
    "cancelVideoJob": ("JobRequest", "JobAnswer"),
    "retryVideoJob": ("JobRequest", "JobAnswer"),
    "getVideoQuota": ("QuotaRequest", "QuotaResponse"),
    "generateVideoIntroduction": ("IntroductionRequest", "IntroductionResponse"),
    "regenerateVideoIntroduction": ("IntroductionRequest", "IntroductionResponse"),
    "getVideoStatus": ("CvJobRequest", "VideoStatusResponse"),
}
