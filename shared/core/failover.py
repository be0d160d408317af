"""One failover decision, as the job processor makes it: with a classified provider error in
hand, reselect without the failed provider, decide the recovery, and apply it to the job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.core.cv import WORDS_PER_SECOND
from shared.core.errors import ProviderError
from shared.core.jobs import Job
from shared.core.model import Feature
from shared.core.recovery import Decision, RecoveryPolicy, recover
from shared.core.scoring import (
    DEFAULT_RULES,
    BusinessRules,
    Candidate,
    Ranking,
    SelectionRequest,
    rank,
)
from shared.core.text import real_words

DEFAULT_RECOVERY = RecoveryPolicy()


@dataclass(frozen=True, slots=True, kw_only=True)
class Failover:
    job: Job
    decision: Decision
    ranking: Ranking  # the providers that could take the job next, best first


def selection_for(job: Job) -> SelectionRequest:
    """What to ask the scorer for this job's next attempt."""
    return SelectionRequest(
        job_key=job.job_id,
        options=job.options,
        tier=job.tier,
        excluded=job.excluded,
        prefer=job.preferred_provider,
        resting=dict(job.resting),
        spoken_s=spoken_s(job),
    )


def spoken_s(job: Job) -> float | None:
    """How long the job's script takes to speak, which selection holds providers to (None: no
    script, or nothing spoken)."""
    if not job.script or Feature.VOICE not in job.options.features:
        return None
    return real_words(job.script) / WORDS_PER_SECOND


def fail_over(
    job: Job,
    error: ProviderError,
    candidates: Sequence[Candidate],
    *,
    now: float,
    rand: float,
    rules: BusinessRules = DEFAULT_RULES,
    policy: RecoveryPolicy = DEFAULT_RECOVERY,
) -> Failover:
    """Rank the other providers, then let the recovery policy decide with that knowledge."""
    others = SelectionRequest(
        job_key=job.job_id,
        options=job.options,
        tier=job.tier,
        excluded=job.excluded | {error.provider_id},
        spoken_s=spoken_s(job),
    )
    ranking = rank(candidates, others, now=now, rules=rules)
    after, decision = recover(
        job,
        error,
        now=now,
        policy=policy,
        alternatives=ranking.best is not None,
        as_asked=any(not s.degradations for s in ranking.ranked),
        rand=rand,
    )
    return Failover(job=after, decision=decision, ranking=ranking)
