"""The web client's types cannot drift from the backend: the committed web/client/api.ts is what
the pydantic models generate now, the user's job document the codec writes and the answers the
handlers give validate against those models (extra fields refused), and, where Node is
installed, tsc accepts the client with them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from shared.adapters.stores import codec
from shared.api.webapi import JobAnswer, QuotaResponse, VideoJobDocument
from shared.core import jobs, tiers
from shared.core.degradation import Degradation
from shared.core.jobs import AppCall, Job, JobError, VideoResult
from shared.core.model import Tier
from tools import ts_types

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0


def _jobs() -> list[Job]:
    queued = Job(job_id="vj_1", created_at=NOW, deadline_at=NOW + 1800, user_id="u1")
    begun = jobs.begin_attempt(
        queued,
        provider_id="runwayml",
        options=queued.options,
        degradations=(Degradation.RESOLUTION_1080P_TO_720P,),
        reasoning=("runwayml: 70",),
        now=NOW,
    )
    rendering = jobs.submitted(
        begun, provider_job_id="task-1", follow_up_at=NOW + 10, now=NOW, eta_at=NOW + 60
    )
    polled = jobs.submitted(
        rendering, provider_job_id="task-1", follow_up_at=NOW + 20, now=NOW + 10, progress=0.4
    )
    done = jobs.complete(
        polled, result=VideoResult(video_url="https://v/1.mp4", duration_s=30.0), now=NOW + 50
    )
    failed = jobs.fail(
        jobs.record_failure(begun, category="api_failure", message="boom", now=NOW),
        error=JobError(code="api_failure", message="HeyGen 500: trace", retryable=True),
        now=NOW,
    )
    cancelled = jobs.cancel(rendering, now=NOW)
    again = jobs.again(failed, job_id="vj_1-r1", now=NOW, deadline_at=NOW + 1800, budget=4)
    app = replace(queued, cv_job_id="cv-1", app_call=AppCall.REGENERATE, tier=Tier.PREMIUM)
    return [queued, begun, rendering, polled, done, failed, cancelled, again, app]


def test_the_committed_client_types_are_what_the_models_generate() -> None:
    assert ts_types.TARGET.read_text() == ts_types.generate(), (
        "web/client/api.ts is stale: run venv/bin/python -m tools.ts_types"
    )


@pytest.mark.parametrize("job", _jobs(), ids=lambda j: f"{j.job_id}-{j.status.value}")
def test_the_users_job_document_is_the_documented_type(job: Job) -> None:
    doc = {**codec.job_to_doc(job), "lease": {"owner": "i1", "expiresAt": NOW}}
    VideoJobDocument.model_validate(doc)
    VideoJobDocument.model_validate({**doc, "lease": None})


@pytest.mark.parametrize("job", _jobs(), ids=lambda j: f"{j.job_id}-{j.status.value}")
def test_the_job_answers_are_the_documented_type(job: Job) -> None:
    JobAnswer.model_validate(JobAnswer.of(job, providerCancelled=False).answer())
    JobAnswer.model_validate(JobAnswer.of(job, deduplicated=True).answer())


@pytest.mark.parametrize("tier", list(Tier))
def test_the_quota_answer_is_the_documented_type(tier: Tier) -> None:
    q = tiers.Quota(tier=tier, per_hour=10, per_day=20, used_hour=3, used_day=4)
    QuotaResponse.model_validate(QuotaResponse.of(q).answer())


def test_tsc_accepts_the_client() -> None:
    tsc = ROOT / "tools" / "node_modules" / ".bin" / "tsc"
    if shutil.which("node") is None or not tsc.exists():
        pytest.skip("needs node and tools/node_modules (make install); make typecheck runs it")
    done = subprocess.run(
        [str(tsc), "-p", str(ROOT / "web" / "client" / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
