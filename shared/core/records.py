"""The documents a decision writes beside its job, named as values. The adapters give each its
collection and its encoding (``shared/adapters/stores/codec.py``); nothing else is written.

    Metric        one metrics snapshot (provider_metrics)
    Spend         what a render billed, added to its day's total (daily_spend)
    RecoveryLog   a finished job's recovery log (error_recovery_logs, one per job)
    Internal      the job's admin-only document: provider error text, selection reasoning
    CvJobMirror   the web app's CV job (jobs/{cvJobId}), for a job made by the app's callables
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core import spend, userview
from shared.core.jobs import Job
from shared.core.tracking import MetricsSnapshot


@dataclass(frozen=True, slots=True)
class Metric:
    snapshot: MetricsSnapshot


@dataclass(frozen=True, slots=True)
class Spend:
    """An increment of a day's spend: a billed render, and/or a job's released reservation."""

    day: str
    billed_usd: float
    released_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class RecoveryLog:
    job_id: str
    entry: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Internal:
    job: Job


@dataclass(frozen=True, slots=True)
class CvJobMirror:
    job: Job


Record = Metric | Spend | RecoveryLog | Internal | CvJobMirror


def _internal_key(job: Job) -> tuple[object, ...]:
    """What the internal document holds of ``job``: it is written when this changes."""
    messages = tuple((r.attempt, r.message) for r in job.history if r.message)
    return (job.request_fingerprint, job.selection_reasoning, job.error, messages)


def derived(before: Job | None, job: Job) -> tuple[Record, ...]:
    """The job's own other documents that change with this version: its internal document when
    it knows more than ``before`` did (None: a new job, or its previous version is unknown),
    the web app's CV job when the status or stage it shows changes, and the release of its
    spend reservation when it ends."""
    out: list[Record] = []
    if before is None or _internal_key(before) != _internal_key(job):
        out.append(Internal(job))
    if job.reserved_usd and job.terminal and (before is None or not before.terminal):
        # The job is over: what it reserved of its day's spend cap is free again.
        out.append(Spend(spend.day_key(job.created_at), 0.0, released_usd=job.reserved_usd))
    mirrored = job.app_call is not None and bool(job.cv_job_id)
    if mirrored and (before is None or userview.mirror_key(before) != userview.mirror_key(job)):
        out.append(CvJobMirror(job))
    return tuple(out)
