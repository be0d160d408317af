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
    CvDataIntroductionRequest,
    CvJobRequest,
    GenerateVideoRequest,
    IntroductionRequest,
    JobRequest,
    QuotaRequest,
)
from shared.core import orchestration, tiers, userview
from shared.core.jobs import Job, JobStatus


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
    deleted: bool | None = None  # deleteVideo: the video and its copies are gone

    @classmethod
    def of(cls, job: Job, **extra: bool) -> JobAnswer:
        """``extra``: ``providerCancelled`` (cancel), ``deduplicated`` (retry) or ``deleted``."""
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


class IntroductionVideo(_Answer):
    """The finished video as the app reads it (FeatureDashboard.tsx L778-790, L808-812)."""

    video_url: str = Field(alias="videoUrl")
    thumbnail_url: str = Field(alias="thumbnailUrl")
    duration: float
    script: str
    subtitles: str  # the URL of its WebVTT captions; empty when none were made
    provider: str
    quality_score: float = Field(alias="qualityScore")
    status: Literal["completed"]
    degradation_notes: list[str] = Field(alias="degradationNotes")


class IntroductionResponse(_Answer):
    """generateVideoIntroduction / regenerateVideoIntroduction when the video is ready within
    the call: the original's ``{success, video, htmlFragment}`` and the same fields at the top
    level, which the component renderer reads (componentRenderer.ts L207-215, L228-232). Not
    ready in time: a ``deadline-exceeded`` refusal saying so, and the video arrives in the CV
    job's fields."""

    success: Literal[True]
    job_id: str = Field(alias="jobId")
    video_job_id: str = Field(alias="videoJobId")
    status: Literal["completed"]
    video: IntroductionVideo
    video_url: str = Field(alias="videoUrl")
    thumbnail_url: str = Field(alias="thumbnailUrl")
    duration: float
    script: str
    subtitles: str
    provider: str
    quality_score: float = Field(alias="qualityScore")
    html_fragment: None = Field(alias="htmlFragment")
    deduplicated: bool
    message: str

    @classmethod
    def of(cls, cv_job_id: str, job: Job, *, deduplicated: bool) -> IntroductionResponse:
        assert job.result is not None
        r = job.result
        video = {
            "videoUrl": r.video_url,
            "thumbnailUrl": r.thumbnail_url or "",
            "duration": r.duration_s or orchestration.spoken_length_s(job),
            "script": job.script,
            "subtitles": r.subtitles_url or "",
            "provider": job.provider_id or "",
            "qualityScore": userview.quality_score(job),
            "status": "completed",
            "degradationNotes": userview.degradation_notes(job),
        }
        top = {k: v for k, v in video.items() if k not in ("status", "degradationNotes")}
        return cls.model_validate(
            {
                "success": True,
                "jobId": cv_job_id,
                "videoJobId": job.job_id,
                "status": "completed",
                "video": video,
                **top,
                "htmlFragment": None,
                "deduplicated": deduplicated,
                "message": " ".join(
                    [
                        userview.STAGE_LABELS[userview.Stage.COMPLETED] + ".",
                        *userview.degradation_notes(job),
                    ]
                ),
            }
        )


class CvDataIntroductionResponse(_Answer):
    """generateVideoIntroduction as the multimedia service calls it: the job to poll with
    getGenerationStatus (MultimediaService.ts L324-325 reads ``jobId``)."""

    job_id: str = Field(alias="jobId")
    status: JobStatusName
    deduplicated: bool

    @classmethod
    def of(cls, job: Job, *, deduplicated: bool) -> CvDataIntroductionResponse:
        return cls.model_validate(
            {"jobId": job.job_id, "status": job.status.value, "deduplicated": deduplicated}
        )


class MediaSlot(_Answer):
    status: str
    has_audio: bool = Field(alias="hasAudio")
    error: str | None


class MediaOverview(_Answer):
    video: MediaSlot
    podcast: MediaSlot


class MediaStatusResponse(_Answer):
    """getMediaStatus({jobId}) of a CV job: the top-level fields the component renderer reads
    (componentRenderer.ts L240-249: provider, status, progress, currentStep, estimatedTime,
    qualityScore, error), and the original's per-medium overview (cvplus-multimedia
    mediaGeneration.ts L228-242) under ``media``: its ``status`` key holds the string the app
    reads (VideoIntroduction.tsx L614 calls status.charAt)."""

    success: Literal[True]
    status: Literal["queued", "processing", "completed", "failed"]
    progress: int
    current_step: str = Field(alias="currentStep")
    provider: str
    estimated_time: int | None = Field(alias="estimatedTime")  # seconds
    quality_score: float | None = Field(alias="qualityScore")
    error: str | None
    video_job_id: str | None = Field(alias="videoJobId")
    video_url: str | None = Field(alias="videoUrl")
    thumbnail_url: str | None = Field(alias="thumbnailUrl")
    media: MediaOverview

    @classmethod
    def of(cls, cv_job: Mapping[str, Any], job: Job | None, now: float) -> MediaStatusResponse:
        features = cv_job.get("enhancedFeatures") or {}
        podcast = features.get("careerPodcast") or {}
        pod = {
            "status": str(podcast.get("status") or "pending"),
            "hasAudio": bool((podcast.get("data") or {}).get("audioUrl")),
            "error": podcast.get("error") if isinstance(podcast.get("error"), str) else None,
        }
        if job is None:
            body: dict[str, Any] = {
                "status": "queued",
                "progress": 0,
                "currentStep": "No video asked for yet",
                "provider": "",
                "estimatedTime": None,
                "qualityScore": None,
                "error": None,
                "videoJobId": None,
                "videoUrl": None,
                "thumbnailUrl": None,
            }
            video_slot = {"status": "pending", "hasAudio": False, "error": None}
        else:
            current = userview.stage(job)
            failed = job.status in (JobStatus.FAILED, JobStatus.CANCELLED)
            error = userview.error_message(job.error.code if job.error else "") if failed else None
            body = {
                "status": userview.APP_JOB_STATUS[job.status],
                "progress": userview.progress(job),
                "currentStep": userview.STAGE_LABELS[current],
                "provider": job.provider_id or "",
                "estimatedTime": userview.remaining_s(job, now),
                "qualityScore": userview.quality_score(job),
                "error": error,
                "videoJobId": job.job_id,
                "videoUrl": job.result.video_url if job.result else None,
                "thumbnailUrl": job.result.thumbnail_url if job.result else None,
            }
            video_slot = {
                "status": userview.APP_STATUS[current],
                "hasAudio": job.status is JobStatus.COMPLETED,  # a talking video has audio
                "error": error,
            }
        return cls.model_validate(
            {"success": True, **body, "media": {"video": video_slot, "podcast": pod}}
        )


class GenerationResult(_Answer):
    url: str
    duration: float | None
    size: int | None  # bytes; not measured here (the client reads ``size || 0``)
    format: Literal["mp4"]


class GenerationError(_Answer):
    message: str
    code: str
    recoverable: bool


class GenerationStatusResponse(_Answer):
    """getGenerationStatus({jobId}) of a video job (MultimediaService.ts L353-366)."""

    job_id: str = Field(alias="jobId")
    status: JobStatusName
    progress: int
    stage: StageName
    estimated_time_remaining: int | None = Field(alias="estimatedTimeRemaining")  # seconds
    result: GenerationResult | None
    error: GenerationError | None
    degradation_notes: list[str] = Field(alias="degradationNotes")

    @classmethod
    def of(cls, job: Job, now: float) -> GenerationStatusResponse:
        r = job.result
        e = job.error
        return cls.model_validate(
            {
                "jobId": job.job_id,
                "status": job.status.value,
                "progress": userview.progress(job),
                "stage": userview.stage(job).value,
                "estimatedTimeRemaining": userview.remaining_s(job, now),
                "result": (
                    {
                        "url": r.video_url,
                        "duration": r.duration_s or orchestration.spoken_length_s(job),
                        "size": None,
                        "format": "mp4",
                    }
                    if r is not None and job.status is JobStatus.COMPLETED
                    else None
                ),
                "error": (
                    {
                        "message": userview.error_message(e.code),
                        "code": e.code,
                        "recoverable": e.retryable,
                    }
                    if e is not None
                    else None
                ),
                "degradationNotes": userview.degradation_notes(job),
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
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = Field(alias="aspectRatio")
    allow_fallback: bool = Field(alias="allowFallback")
    features: list[Literal["voice", "lip_sync", "custom_avatar"]]
    # Presentation (absent from jobs stored before it was kept): what the degradation notes
    # say of it when the provider that made the video could not honour it.
    background: Literal["office", "studio", "modern", "gradient", "virtual", "custom"] = "office"
    subtitles: bool = False  # WebVTT captions written beside the video (subtitlesUrl)
    name_card: bool = Field(False, alias="nameCard")


class JobErrorDoc(_Answer):
    code: str  # stable: cancelled, deadline_exceeded, no_provider_available, an error category
    message: str  # plain words for the user
    retryable: bool  # retryVideoJob may run it again (renders left to spend)


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
    # What of its presentation the provider that made it could not honour (said in the notes).
    unhonoured: list[Literal["background", "name card", "avatar style"]] = []
    degradation_notes: list[str] = Field(alias="degradationNotes")  # plain words
    # Our copies in Cloud Storage: a download URL that plays them, and the objects' gs:// paths.
    video_url: str | None = Field(alias="videoUrl")
    thumbnail_url: str | None = Field(alias="thumbnailUrl")
    storage_path: str | None = Field(alias="storagePath")
    thumbnail_storage_path: str | None = Field(alias="thumbnailStoragePath")
    subtitles_url: str | None = Field(None, alias="subtitlesUrl")  # WebVTT captions
    subtitles_storage_path: str | None = Field(None, alias="subtitlesStoragePath")
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
    "IntroductionVideo": IntroductionVideo,
    "CvDataIntroductionRequest": CvDataIntroductionRequest,
    "CvDataIntroductionResponse": CvDataIntroductionResponse,
    "CvJobRequest": CvJobRequest,
    "VideoStatusResponse": VideoStatusResponse,
    "MediaStatusResponse": MediaStatusResponse,
    "GenerationStatusResponse": GenerationStatusResponse,
    "VideoJobDocument": VideoJobDocument,
}

# The callables of the web app: name -> (request, response).
CALLABLES: dict[str, tuple[str, str]] = {
    "generateVideo": ("GenerateVideoRequest", "GenerateVideoResponse"),
    "cancelVideoJob": ("JobRequest", "JobAnswer"),
    "deleteVideo": ("JobRequest", "JobAnswer"),
    "retryVideoJob": ("JobRequest", "JobAnswer"),
    "getVideoQuota": ("QuotaRequest", "QuotaResponse"),
    "generateVideoIntroduction": ("IntroductionRequest", "IntroductionResponse"),
    "regenerateVideoIntroduction": ("IntroductionRequest", "IntroductionResponse"),
    "getVideoStatus": ("CvJobRequest", "VideoStatusResponse"),
    "getMediaStatus": ("CvJobRequest", "MediaStatusResponse"),
    "getGenerationStatus": ("JobRequest", "GenerationStatusResponse"),
    "cancelGeneration": ("JobRequest", "JobAnswer"),
}
