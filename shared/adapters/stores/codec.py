"""Documents <-> domain values, for every store. Field names follow the seed's schemas (camelCase)
plus what DESIGN section 5 adds. Times are epoch seconds (numbers); rates are fractions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from shared.adapters.stores.base import (
    CV_JOBS,
    JOBS_INTERNAL,
    METRICS,
    RECOVERY_LOGS,
    SPEND,
    SideWrite,
)
from shared.core import spend, userview
from shared.core.breaker import (
    BreakerState,
    Bucket,
    CircuitState,
    ManualOverride,
    Override,
    Summary,
    Transition,
)
from shared.core.degradation import Degradation
from shared.core.jobs import (
    RETRYABLE,
    AppCall,
    AttemptRecord,
    Job,
    JobError,
    JobStatus,
    VideoResult,
    renders_left,
)
from shared.core.model import (
    AspectRatio,
    AvatarStyle,
    Background,
    Duration,
    Feature,
    QualityLevel,
    Resolution,
    Style,
    Tier,
    Urgency,
    VideoOptions,
)
from shared.core.presentation import Unhonoured
from shared.core.records import CvJobMirror, Internal, Metric, Record, RecoveryLog, Spend
from shared.core.scoring import ProviderStats
from shared.core.tracking import Aggregate

Doc = dict[str, Any]


def options_to_doc(o: VideoOptions) -> Doc:
    return {
        "duration": o.duration.value,
        "style": o.style.value,
        "avatarStyle": o.avatar_style.value,
        "urgency": o.urgency.value,
        "qualityLevel": o.quality_level.value,
        "resolution": o.resolution.value,
        "aspectRatio": o.aspect_ratio.value,
        "allowFallback": o.allow_fallback,
        "features": sorted(f.value for f in o.features),
        "background": o.background.value,
        "subtitles": o.subtitles,
        "nameCard": o.name_card,
    }


def options_from_doc(d: Mapping[str, Any]) -> VideoOptions:
    return VideoOptions(
        duration=Duration(d["duration"]),
        style=Style(d["style"]),
        avatar_style=AvatarStyle(d["avatarStyle"]),
        urgency=Urgency(d["urgency"]),
        quality_level=QualityLevel(d["qualityLevel"]),
        resolution=Resolution(d["resolution"]),
        aspect_ratio=AspectRatio(d["aspectRatio"]),
        allow_fallback=bool(d["allowFallback"]),
        features=frozenset(Feature(f) for f in d["features"]),
        # Absent from jobs stored before presentation options were kept: the defaults.
        background=Background(d.get("background") or Background.OFFICE.value),
        subtitles=bool(d.get("subtitles", False)),
        name_card=bool(d.get("nameCard", False)),
    )


# A video job is two documents (DESIGN section 5). ``enhanced_video_jobs/{id}``, which its owner
# reads: what the user is shown (status, stage, progress, ETA, the video, a stable error code
# with a plain message, degradations explained) and the plain state the worker runs on (attempt
# counters, provider ids, the attempts' timings and outcome categories, the lease).
# ``enhanced_video_jobs_internal/{id}``, admins only: what the user must not see - the
# providers' own error text, the selection reasoning (prices, load, manual overrides with their
# reasons), the request fingerprint. The internal document is merged, never replaced, and only
# what a version knows is written, so a job read without it loses nothing by being saved.


def job_to_doc(job: Job) -> Doc:
    """The ``enhanced_video_jobs`` document (without the lease, which the store owns)."""
    result = job.result
    current = userview.stage(job)
    return {
        "jobId": job.job_id,
        "userId": job.user_id,
        "requestId": job.request_id,
        "cvJobId": job.cv_job_id,
        "tier": job.tier.value,
        "status": job.status.value,
        "stage": current.value,
        "stageLabel": userview.STAGE_LABELS[current],
        "progress": userview.progress(job),
        "renderProgress": job.render_progress,
        "renderStartedAt": userview.render_started_at(job),
        "etaAt": None if job.terminal else job.eta_at,
        "script": job.script,
        "generationMethod": "enhanced",
        "options": options_to_doc(job.options),
        "providerId": job.provider_id,
        "providerJobId": job.provider_job_id,
        "preferredProvider": job.preferred_provider,
        "attempt": job.attempt,
        "maxAttempts": job.max_attempts,
        "keySeq": job.key_seq,
        "excludedProviders": sorted(job.excluded),
        "restingProviders": [{"providerId": p, "until": t} for p, t in job.resting],
        "providerHistory": [_attempt_to_doc(r) for r in job.history],
        "nextActionAt": job.next_action_at,
        "deadlineAt": job.deadline_at,
        "degraded": job.degraded,
        "degradations": [d.value for d in job.degradations],
        "unhonoured": [u.value for u in job.unhonoured],
        "degradationNotes": userview.degradation_notes(job),
        "videoUrl": result.video_url if result else None,
        "thumbnailUrl": result.thumbnail_url if result else None,
        "durationSeconds": result.duration_s if result else None,
        "storagePath": result.storage_path if result else None,
        "thumbnailStoragePath": result.thumbnail_path if result else None,
        "subtitlesUrl": result.subtitles_url if result else None,
        "subtitlesStoragePath": result.subtitles_path if result else None,
        "error": (
            {
                "code": job.error.code,
                "message": userview.error_message(job.error.code),
                # Whether retryVideoJob takes it: a failed or cancelled job with renders left.
                "retryable": job.status in RETRYABLE and renders_left(job) > 0,
            }
            if job.error
            else None
        ),
        "metadata": {
            "resolution": job.options.resolution.value,
            "format": "mp4",
            "generatedAt": job.updated_at if job.status is JobStatus.COMPLETED else None,
        },
        "retryOf": job.retry_of,
        "retries": job.retries,
        "appCall": job.app_call.value if job.app_call else None,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at if job.updated_at is not None else job.created_at,
        "estimatedCost": job.estimated_cost,
        "reservedUsd": job.reserved_usd,
    }


def internal_doc(job: Job) -> Doc:
    """What ``job`` knows of its ``enhanced_video_jobs_internal`` document (merged into it)."""
    doc: Doc = {"jobId": job.job_id, "userId": job.user_id}
    if job.request_fingerprint is not None:
        doc["requestFingerprint"] = job.request_fingerprint
    if job.selection_reasoning:
        doc["selectionReasoning"] = list(job.selection_reasoning)
    if job.error is not None:
        doc["error"] = {
            "code": job.error.code,
            "message": job.error.message,
            "retryable": job.error.retryable,
        }
    messages = {str(r.attempt): r.message for r in job.history if r.message}
    if messages:
        doc["attemptMessages"] = messages
    return doc


def encode(record: Record) -> SideWrite:
    """The write of one document a decision names (`shared.core.records`): its collection, id
    and fields."""
    match record:
        case Metric(snapshot):
            return SideWrite(METRICS, snapshot.to_doc())
        case Spend(day, billed_usd, released_usd):
            return SideWrite(SPEND, spend.increment(billed_usd, released_usd), day, increment=True)
        case RecoveryLog(job_id, entry):
            return SideWrite(RECOVERY_LOGS, entry, doc_id=job_id)
        case Internal(job):
            return SideWrite(JOBS_INTERNAL, internal_doc(job), doc_id=job.job_id, merge=True)
        case CvJobMirror(job):
            regenerated = job.app_call is AppCall.REGENERATE
            doc = userview.mirror_doc(job, regenerated=regenerated)
            return SideWrite(CV_JOBS, doc, doc_id=job.cv_job_id, merge=True)


def encode_all(records: Sequence[Record]) -> tuple[SideWrite, ...]:
    """The writes of ``records``, increments of one document folded into one write (a billed
    render and a released reservation of the same day: one document, written once)."""
    out: list[SideWrite] = []
    at: dict[tuple[str, str], int] = {}
    for write in map(encode, records):
        key = (write.collection, write.doc_id or "")
        if write.increment and write.doc_id is not None and key in at:
            first = out[at[key]]
            data = dict(first.data)
            for name, value in write.data.items():
                data[name] = data.get(name, 0) + value
            out[at[key]] = replace(first, data=data)
            continue
        if write.increment and write.doc_id is not None:
            at[key] = len(out)
        out.append(write)
    return tuple(out)


def job_from_doc(d: Mapping[str, Any], internal: Mapping[str, Any] | None = None) -> Job:
    """The job from its document and, when read, its internal document (without it, the
    internal fields are empty; the stores read it where they are needed)."""
    url = d.get("videoUrl")
    error = d.get("error")
    inside = internal or {}
    inside_error = inside.get("error") or {}
    messages = inside.get("attemptMessages") or {}
    call = d.get("appCall")
    return Job(
        job_id=d["jobId"],
        created_at=float(d["createdAt"]),
        deadline_at=float(d["deadlineAt"]),
        user_id=d.get("userId") or "",
        request_id=d.get("requestId"),
        request_fingerprint=inside.get("requestFingerprint"),
        cv_job_id=d.get("cvJobId"),
        script=d.get("script") or "",
        tier=Tier(d.get("tier") or "free"),
        options=options_from_doc(d["options"]),
        status=JobStatus(d["status"]),
        attempt=int(d.get("attempt") or 0),
        max_attempts=int(d.get("maxAttempts") or 4),
        key_seq=int(d.get("keySeq") or 0),
        excluded=frozenset(d.get("excludedProviders") or ()),
        resting=tuple(
            (str(r["providerId"]), float(r["until"])) for r in d.get("restingProviders") or ()
        ),
        history=tuple(_attempt_from_doc(r, messages) for r in d.get("providerHistory") or ()),
        provider_id=d.get("providerId"),
        provider_job_id=d.get("providerJobId"),
        preferred_provider=d.get("preferredProvider"),
        next_action_at=_opt_float(d.get("nextActionAt")),
        degradations=tuple(Degradation(x) for x in d.get("degradations") or ()),
        unhonoured=tuple(Unhonoured(x) for x in d.get("unhonoured") or ()),
        selection_reasoning=tuple(inside.get("selectionReasoning") or ()),
        result=(
            VideoResult(
                video_url=url,
                thumbnail_url=d.get("thumbnailUrl"),
                duration_s=_opt_float(d.get("durationSeconds")),
                storage_path=d.get("storagePath"),
                thumbnail_path=d.get("thumbnailStoragePath"),
                subtitles_url=d.get("subtitlesUrl"),
                subtitles_path=d.get("subtitlesStoragePath"),
            )
            if url
            else None
        ),
        error=(
            JobError(
                code=error["code"],
                message=inside_error.get("message") or error["message"],
                retryable=bool(inside_error.get("retryable", error["retryable"])),
            )
            if error
            else None
        ),
        updated_at=_opt_float(d.get("updatedAt")),
        render_progress=_opt_float(d.get("renderProgress")),
        eta_at=_opt_float(d.get("etaAt")),
        retry_of=d.get("retryOf"),
        retries=int(d.get("retries") or 0),
        app_call=AppCall(call) if call else None,
        estimated_cost=_opt_float(d.get("estimatedCost")),
        reserved_usd=float(d.get("reservedUsd") or 0.0),
    )


def with_internal(job: Job, internal: Mapping[str, Any] | None) -> Job:
    """``job`` (read from its own document alone) with what its internal document holds."""
    if not internal:
        return job
    messages = internal.get("attemptMessages") or {}
    error = job.error
    inside = internal.get("error") or {}
    if error is not None and inside.get("message"):
        retryable = bool(inside.get("retryable", error.retryable))
        error = replace(error, message=inside["message"], retryable=retryable)
    return replace(
        job,
        request_fingerprint=internal.get("requestFingerprint"),
        selection_reasoning=tuple(internal.get("selectionReasoning") or ()),
        error=error,
        history=tuple(
            replace(r, message=messages.get(str(r.attempt)) or r.message) for r in job.history
        ),
    )


def needs_internal(job: Job) -> bool:
    """Whether deciding about ``job`` may write what its internal document holds: a job that
    met failures writes their messages into its recovery log."""
    return any(r.outcome not in (None, "completed") for r in job.history)


def _attempt_to_doc(r: AttemptRecord) -> Doc:
    return {
        "providerId": r.provider_id,
        "attempt": r.attempt,
        "startedAt": r.started_at,
        "providerJobId": r.provider_job_id,
        "endedAt": r.ended_at,
        "outcome": r.outcome,
    }


def _attempt_from_doc(d: Mapping[str, Any], messages: Mapping[str, str]) -> AttemptRecord:
    return AttemptRecord(
        provider_id=d["providerId"],
        attempt=int(d["attempt"]),
        started_at=float(d["startedAt"]),
        provider_job_id=d.get("providerJobId"),
        ended_at=_opt_float(d.get("endedAt")),
        outcome=d.get("outcome"),
        message=messages.get(str(d["attempt"])) or d.get("message") or "",
    )


def summary_to_doc(s: Summary, *, window_s: float, now: float) -> Doc:
    """The original's summary fields of ``circuit_breaker_states/{providerId}``: the counts of
    the current window (since the last close or reset) and the latest outcome times."""
    doc: Doc = {
        "failureCount": s.failures,
        "successCount": s.successes,
        "metrics": {
            "totalRequests": s.calls,
            "successfulRequests": s.successes,
            "failedRequests": s.failures,
            "slowRequests": s.slow,
            "failureRate": s.failures / s.calls if s.calls else 0.0,
            "windowSeconds": window_s,
        },
        "updatedAt": now,
    }
    if s.last_failure_at is not None:
        doc["lastFailureTime"] = s.last_failure_at
    if s.last_success_at is not None:
        doc["lastSuccessTime"] = s.last_success_at
    return doc


def breaker_to_doc(s: BreakerState) -> Doc:
    """``circuit_breaker_states/{providerId}`` without the window, which lives in buckets, and
    without the summary fields (`summary_to_doc`), which are merged in apart; the latest
    outcome times are written only when known, so a reset never erases them."""
    o = s.override
    doc: Doc = {
        "providerId": s.provider_id,
        "state": s.state.value,
        "openedAt": s.opened_at,
        "nextAttemptTime": s.next_attempt_at,
        "openCount": s.open_count,
        "halfOpenPermits": list(s.permits),
        "probeSuccesses": s.probe_successes,
        "override": (
            {"mode": o.mode.value, "by": o.by, "reason": o.reason, "at": o.at, "until": o.until}
            if o
            else None
        ),
        "lastReason": s.last_reason,
        "countsSince": s.counts_since,
    }
    if s.last_failure_at is not None:
        doc["lastFailureTime"] = s.last_failure_at
    if s.last_success_at is not None:
        doc["lastSuccessTime"] = s.last_success_at
    return doc


def breaker_from_doc(provider_id: str, d: Mapping[str, Any] | None) -> BreakerState:
    if not d:
        return BreakerState(provider_id=provider_id)
    o = d.get("override")
    return BreakerState(
        provider_id=provider_id,
        state=CircuitState(d.get("state") or "closed"),
        opened_at=_opt_float(d.get("openedAt")),
        next_attempt_at=_opt_float(d.get("nextAttemptTime")),
        open_count=int(d.get("openCount") or 0),
        permits=tuple(float(t) for t in d.get("halfOpenPermits") or ()),
        probe_successes=int(d.get("probeSuccesses") or 0),
        override=(
            ManualOverride(
                mode=Override(o["mode"]),
                by=o["by"],
                reason=o["reason"],
                at=float(o["at"]),
                until=_opt_float(o.get("until")),
            )
            if o
            else None
        ),
        last_failure_at=_opt_float(d.get("lastFailureTime")),
        last_success_at=_opt_float(d.get("lastSuccessTime")),
        last_reason=d.get("lastReason") or "",
        counts_since=_opt_float(d.get("countsSince")),
    )


def transition_to_doc(t: Transition) -> Doc:
    return {
        "providerId": t.provider_id,
        "from": t.from_state.value,
        "to": t.to_state.value,
        "reason": t.reason,
        "at": t.at,
        "by": t.by,
    }


def transition_from_doc(d: Mapping[str, Any]) -> Transition:
    return Transition(
        provider_id=d["providerId"],
        from_state=CircuitState(d["from"]),
        to_state=CircuitState(d["to"]),
        reason=d["reason"],
        at=float(d["at"]),
        by=d.get("by"),
    )


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


# Provider stats (provider_stats/{providerId}), refreshed by the health check.


def stats_doc(agg: Aggregate, *, in_flight: int) -> dict[str, object]:
    s = agg.stats
    return {
        "providerId": s.provider_id,
        "calls1h": s.calls_1h,
        "successes1h": s.successes_1h,
        "calls24h": s.calls_24h,
        "successes24h": s.successes_24h,
        "successRate1h": s.successes_1h / s.calls_1h if s.calls_1h else None,
        "successRate24h": s.successes_24h / s.calls_24h if s.calls_24h else None,
        "successRate7d": agg.success_rate_7d,
        "samples7d": agg.samples_7d,
        "latencyP50": s.latency_p50_s,
        "latencyP95": s.latency_p95_s,
        "quality": s.quality,
        "qualitySamples": s.quality_samples,
        "costPerVideo": s.cost_per_video,
        "consecutiveFailures": s.consecutive_failures,
        "userSatisfaction": s.user_satisfaction,
        "satisfactionSamples": s.satisfaction_samples,
        "sameHourCalls": s.same_hour_calls,
        "sameHourSuccessRate": s.same_hour_success_rate,
        "inFlight": in_flight,
        "trends": [
            {
                "metric": t.metric.value,
                "window": t.window.value,
                "direction": t.direction.value,
                "slopePerHour": t.slope_per_hour,
                "changePercent": t.change_percent,
                "confidence": t.confidence,
                "samples": t.samples,
            }
            for t in agg.trends
        ],
        "hourly": [
            {
                "start": h.start,
                "calls": h.calls,
                "successRate": h.success_rate,
                "latency": h.latency_s,
            }
            for h in agg.hourly
        ],
        "prediction": {
            "failureRateNextHour": s.predicted_failure_rate,
            "responseTimeNextHour": agg.predicted_response_time_s,
            "recommendedConcurrency": agg.recommended_concurrency,
        },
        "computedAt": agg.computed_at,
    }


def stats_from_doc(pid: str, d: Mapping[str, object]) -> ProviderStats:
    def num(key: str) -> float | None:
        v = d.get(key)
        return float(v) if isinstance(v, (int, float)) else None

    def count(key: str) -> int:
        v = d.get(key)
        return int(v) if isinstance(v, (int, float)) else 0

    prediction = d.get("prediction")
    predicted = prediction.get("failureRateNextHour") if isinstance(prediction, dict) else None
    return ProviderStats(
        provider_id=pid,
        calls_1h=count("calls1h"),
        successes_1h=count("successes1h"),
        calls_24h=count("calls24h"),
        successes_24h=count("successes24h"),
        latency_p50_s=num("latencyP50"),
        latency_p95_s=num("latencyP95"),
        quality=num("quality"),
        quality_samples=count("qualitySamples"),
        cost_per_video=num("costPerVideo"),
        consecutive_failures=count("consecutiveFailures"),
        predicted_failure_rate=float(predicted) if isinstance(predicted, (int, float)) else None,
        user_satisfaction=num("userSatisfaction"),
        satisfaction_samples=count("satisfactionSamples"),
        same_hour_calls=count("sameHourCalls"),
        same_hour_success_rate=num("sameHourSuccessRate"),
        recommended_concurrency=_recommended(d.get("prediction")),
    )


def _recommended(prediction: object) -> int | None:
    if isinstance(prediction, Mapping):
        value = prediction.get("recommendedConcurrency")
        if isinstance(value, int) and value >= 1:
            return value
    return None


def sum_shards(docs: Sequence[Mapping[str, Any]]) -> tuple[Bucket, ...]:
    """Bucket shard documents summed per bucket start, oldest first."""
    sums: dict[float, list[int]] = {}
    lasts: dict[float, list[float | None]] = {}
    for d in docs:
        start = float(d["start"])
        acc = sums.setdefault(start, [0, 0, 0])
        acc[0] += int(d.get("calls") or 0)
        acc[1] += int(d.get("failures") or 0)
        acc[2] += int(d.get("slow") or 0)
        last = lasts.setdefault(start, [None, None])
        for i, key in enumerate(("lastFailureAt", "lastSuccessAt")):
            t = d.get(key)
            if t is not None and (last[i] is None or float(t) > (last[i] or 0.0)):
                last[i] = float(t)
    return tuple(
        Bucket(start, acc[0], acc[1], acc[2], lasts[start][0], lasts[start][1])
        for start, acc in sorted(sums.items())
    )
