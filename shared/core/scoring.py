"""Provider scoring and selection (DESIGN section 9): hard filters, seven capped components from
measured data (with priors for thin samples), normalised weights, load spreading, and for every
candidate a breakdown and the reasons behind it. Same inputs, same ranking."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from shared.core import degradation
from shared.core.breaker import Admission, BreakerPolicy, BreakerState, CircuitState, admission
from shared.core.model import Capabilities, QualityLevel, Tier, Urgency, VideoOptions

# Enum members as module constants: class attribute access is slow on 3.11, and this is hot.
_URGENT = (Urgency.HIGH, Urgency.CRITICAL)
_PREMIUM, _FREE = QualityLevel.PREMIUM, Tier.FREE
_CLOSED, _OPEN, _HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
_REJECT, _PROBE = Admission.REJECT, Admission.PROBE

COMPONENTS = ("base", "health", "performance", "cost", "reliability", "context", "business")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreWeights:
    """Raw weights; the seed's caps (75/30/25/15/15/10/10) are the defaults. ``normalised``
    scales them to sum to 1 after the ``prioritize_*`` boosts."""

    base: float = 75.0
    health: float = 30.0
    performance: float = 25.0
    cost: float = 15.0
    reliability: float = 15.0
    context: float = 10.0
    business: float = 10.0

    def normalised(self, *, speed: bool, quality: bool, cost: bool) -> tuple[float, ...]:
        return _normalised(self, speed, quality, cost)


@lru_cache(maxsize=64)
def _normalised(w: ScoreWeights, speed: bool, quality: bool, cost: bool) -> tuple[float, ...]:
    """The weights scaled to sum to 1 after the boosts (few distinct answers: cached)."""
    raw = (
        w.base,
        w.health,
        w.performance * (2.0 if speed or quality else 1.0),
        w.cost * (3.0 if cost else 1.0),
        w.reliability,
        w.context,
        w.business * (2.0 if quality else 1.0),
    )
    total = sum(raw)
    return tuple(x / total for x in raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Priors:
    """What we assume of a provider before its samples speak: each estimate is
    ``(observed + prior * weight) / (n + weight)``."""

    success_rate: float = 0.95
    success_weight: float = 20.0
    quality: float = 9.0
    quality_weight: float = 5.0
    satisfaction: float = 4.0  # owners' ratings, 1..5
    satisfaction_weight: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderStats:
    """Measured aggregates of one provider (``provider_stats``). Rates are fractions 0..1."""

    provider_id: str
    calls_1h: int = 0
    successes_1h: int = 0
    calls_24h: int = 0
    successes_24h: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    quality: float | None = None  # 0..10
    quality_samples: int = 0
    cost_per_video: float | None = None
    consecutive_failures: int = 0
    predicted_failure_rate: float | None = None
    user_satisfaction: float | None = None  # owners' mean rating, 1..5 (last 7 days)
    satisfaction_samples: int = 0
    # Generations in this hour of the day over the last 7 days, and their success rate.
    same_hour_calls: int = 0
    same_hour_success_rate: float | None = None
    # The predicted optimal concurrency (Little's law on the measured traffic and latency, shed
    # when failures are predicted); None before the first prediction.
    recommended_concurrency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    capabilities: Capabilities
    stats: ProviderStats
    breaker: BreakerState
    breaker_policy: BreakerPolicy = BreakerPolicy()
    in_flight: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessRules:
    quality_threshold: float = 8.5
    max_cost_per_video: float | None = None
    cost_optimization: bool = False
    prioritize_speed: bool = False
    prioritize_quality: bool = False
    target_render_s: float = 120.0
    spread_margin: float = 4.0  # candidates this close to the best share traffic
    # Share of jobs (that may fall back) sent as probes to a provider whose measured quality is
    # below the threshold, so it can prove itself again instead of staying out for a day.
    quality_probe_share: float = 0.05
    saturation: float = 0.8  # in-flight share of the concurrency limit where penalties start


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionRequest:
    job_key: str  # the job id: a stable seed for spreading near-equal candidates
    options: VideoOptions
    tier: Tier = Tier.FREE
    excluded: frozenset[str] = frozenset()
    prefer: str | None = None  # retry on the same provider when it still qualifies
    resting: Mapping[str, float] = field(default_factory=dict)  # provider -> not before
    spoken_s: float | None = None  # how long the script takes to speak (None: not known)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    provider_id: str
    score: float  # 0..100
    breakdown: Mapping[str, float]  # component -> points; they sum to ``score``
    reasons: tuple[str, ...]
    options: VideoOptions  # what to ask this provider for (degraded when it had to be)
    degradations: tuple[degradation.Degradation, ...]
    probe: bool  # the breaker is half-open: a probe permit must be acquired
    quality_probe: bool = False  # below the quality bar: this job checks whether it recovered
    cost: float | None = None  # USD per video: measured, else the list price


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """``until``: when waiting could make this provider eligible again (None: not for this job)."""

    provider_id: str
    reason: str
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranking:
    ranked: tuple[Scored, ...]
    rejected: tuple[Rejected, ...]

    @property
    def best(self) -> Scored | None:
        return self.ranked[0] if self.ranked else None

    def next_chance(self) -> float | None:
        """The earliest time a rejected provider may become eligible; None if none will."""
        times = [r.until for r in self.rejected if r.until is not None]
        return min(times) if times else None


LOAD_WAIT_S = 10.0  # how long a job waits for a provider at its concurrency limit

DEFAULT_WEIGHTS = ScoreWeights()
DEFAULT_PRIORS = Priors()
DEFAULT_RULES = BusinessRules()


def rank(
    candidates: Sequence[Candidate],
    request: SelectionRequest,
    *,
    now: float,
    rules: BusinessRules = DEFAULT_RULES,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
    priors: Priors = DEFAULT_PRIORS,
) -> Ranking:
    """Filter, score and order ``candidates`` for ``request``."""
    opts = request.options
    w = weights.normalised(
        speed=rules.prioritize_speed or opts.urgency in _URGENT,
        quality=rules.prioritize_quality or opts.quality_level is _PREMIUM,
        cost=rules.cost_optimization,
    )
    scored: list[Scored] = []
    rejected: list[Rejected] = []
    n = len(candidates)
    for c in candidates:
        pid = c.capabilities.provider_id
        verdict, why, until = _filter(c, request, rules, priors, now)
        if why is not None:
            rejected.append(Rejected(provider_id=pid, reason=why, until=until))
            continue
        assert verdict is not None
        scored.append(_score(c, request, verdict, w, rules, priors, n))
    scored, rejected = _last_resort(scored, rejected, candidates, request, now)
    # Providers that can serve the request as asked come first, whatever their score: a job is
    # degraded only when none of them can take it.
    # A quality probe goes first among them: the job is the provider's chance to prove itself.
    scored.sort(key=lambda s: (bool(s.degradations), not s.quality_probe, -s.score, s.provider_id))
    return Ranking(ranked=_spread(scored, request, rules), rejected=tuple(rejected))


def _last_resort(
    scored: list[Scored],
    rejected: list[Rejected],
    candidates: Sequence[Candidate],
    request: SelectionRequest,
    now: float,
) -> tuple[list[Scored], list[Rejected]]:
    """The ladder's last resort (a silent clip) is for providers that are out, not busy: while
    a provider that could do better is only at its concurrency limit, or resting after a
    passing failure on this job, the job waits for it rather than take the clip."""
    refused = {r.provider_id for r in rejected}
    back: dict[str, float] = {}
    for c in candidates:
        pid = c.capabilities.provider_id
        if pid not in refused:
            continue
        if c.in_flight >= c.capabilities.concurrency_limit:
            back[pid] = now + LOAD_WAIT_S
        if request.resting.get(pid, now) > now:
            back[pid] = max(back.get(pid, now), request.resting[pid])
    if not back:
        return scored, rejected
    until = min(back.values())
    held = [
        Rejected(
            provider_id=s.provider_id,
            reason=f"last resort, held while {', '.join(sorted(back))} is only busy",
            until=until,
        )
        for s in scored
        if _LAST_RESORT in s.degradations
    ]
    return [s for s in scored if _LAST_RESORT not in s.degradations], [*rejected, *held]


_LAST_RESORT = degradation.Degradation.SHORT_TO_CLIP
_Fit = tuple[VideoOptions, tuple[degradation.Degradation, ...], bool, bool]
_Verdict = tuple[_Fit | None, str | None, float | None]


def _filter(
    c: Candidate,
    request: SelectionRequest,
    rules: BusinessRules,
    priors: Priors,
    now: float,
) -> _Verdict:
    """(what to ask the provider, degradations, probe) or (None, why not, when to look again)."""
    caps = c.capabilities
    pid = caps.provider_id
    if pid in request.excluded:
        return None, "already failed on this job", None
    back = request.resting.get(pid)
    if back is not None and back > now:
        return None, "resting after a passing failure on this job", back
    gate = admission(c.breaker, now, c.breaker_policy)
    if gate is _REJECT:
        b = c.breaker
        # An open breaker's retry time, or the end of a maintenance window (a forced open
        # without one has none: no point waiting).
        until = b.next_attempt_at if b.state is _OPEN else None
        if b.state is _HALF_OPEN:
            until = now + c.breaker_policy.bucket_s
        return None, f"circuit {b.state.value}: {b.last_reason or 'not admitting'}", until
    if c.in_flight >= caps.concurrency_limit:
        return None, f"at its concurrency limit ({caps.concurrency_limit})", now + LOAD_WAIT_S
    if rules.max_cost_per_video is not None and caps.price_per_video > rules.max_cost_per_video:
        why = f"costs ${caps.price_per_video:.2f} > ${rules.max_cost_per_video:.2f}"
        return None, why, None
    quality = _shrink(
        c.stats.quality, c.stats.quality_samples, priors.quality, priors.quality_weight
    )
    quality_probe = quality < rules.quality_threshold
    if quality_probe and not _quality_probe(request, pid, rules):
        why = f"quality {quality:.1f} below threshold {rules.quality_threshold:g}"
        return None, why, None
    if gate is _PROBE and not request.options.allow_fallback:
        why = f"circuit {c.breaker.state.value}: probes are left to jobs that may fall back"
        return None, why, now + c.breaker_policy.bucket_s
    options = request.options
    steps: tuple[degradation.Degradation, ...] = ()
    missing = caps.missing_for(options, request.spoken_s)
    if missing:
        fitted = degradation.fit(options, caps) if options.allow_fallback else None
        if fitted is not None and caps.missing_for(fitted[0], request.spoken_s):
            fitted = None  # asking for less does not shorten what the script says
        if fitted is None:
            return None, "cannot do " + ", ".join(missing), None
        options, steps = fitted
    return (options, steps, gate is _PROBE, quality_probe), None, None


def _quality_probe(request: SelectionRequest, pid: str, rules: BusinessRules) -> bool:
    """Whether this job is one of the ``quality_probe_share`` (a stable draw on the job key)
    that try a provider below the quality bar, as a half-open breaker admits a few probes. Only
    jobs that may fall back: a failed quality check moves them to another provider."""
    if not request.options.allow_fallback or rules.quality_probe_share <= 0.0:
        return False
    u = zlib.crc32(f"{request.job_key}:{pid}:quality".encode()) / 4294967296.0
    return u < rules.quality_probe_share


def _score(
    c: Candidate,
    request: SelectionRequest,
    verdict: _Fit,
    w: tuple[float, ...],
    rules: BusinessRules,
    priors: Priors,
    n: int,
) -> Scored:
    caps, st = c.capabilities, c.stats
    options, steps, probe, quality_probe = verdict
    ok_1h = _shrink_rate(st.successes_1h, st.calls_1h, priors)
    ok_24h = _shrink_rate(st.successes_24h, st.calls_24h, priors)
    p50 = st.latency_p50_s if st.latency_p50_s is not None else caps.typical_render_s
    p95 = st.latency_p95_s if st.latency_p95_s is not None else p50 * 1.5
    quality = _shrink(st.quality, st.quality_samples, priors.quality, priors.quality_weight)
    cost = st.cost_per_video if st.cost_per_video is not None else caps.price_per_video
    # Load spreading measures load against the predicted optimal concurrency (never above the
    # plan's limit, which stays the hard filter), so a provider predicted to cope with less is
    # spared sooner.
    optimal = caps.concurrency_limit
    if st.recommended_concurrency is not None:
        optimal = max(1, min(caps.concurrency_limit, st.recommended_concurrency))
    load = c.in_flight / optimal
    speed = _clamp(1.0 - p50 / (2.0 * rules.target_render_s))
    breaker = 0.4 if probe else 1.0  # half-open, or open and due for a probe

    base = _clamp((n - caps.priority + 1) / n) if n else 1.0
    health = _clamp(
        0.6 * ok_1h + 0.25 * breaker + 0.15 * _clamp(1.0 - p95 / (3 * rules.target_render_s))
    )
    rating = _shrink(
        st.user_satisfaction,
        st.satisfaction_samples,
        priors.satisfaction,
        priors.satisfaction_weight,
    )
    # Owners' ratings count as the other measured inputs do: shrunk towards a prior.
    performance = _clamp(
        0.45 * ok_24h + 0.25 * speed + 0.15 * quality / 10.0 + 0.15 * (rating - 1.0) / 4.0
    )
    budget = (
        rules.max_cost_per_video if rules.max_cost_per_video is not None else 2.0 * max(cost, 0.01)
    )
    budget = max(budget, 0.01)
    cost_f = _clamp(1.0 - cost / budget)
    predicted = st.predicted_failure_rate if st.predicted_failure_rate is not None else 1 - ok_24h
    # Consistency: how close the slow calls stay to the typical one (p50 / p95; 1 = steady).
    consistency = _clamp(p50 / p95) if p95 > 0 else 1.0
    reliability = _clamp(
        0.5 * (1.0 - predicted) + 0.3 * 0.5**st.consecutive_failures + 0.2 * consistency
    )
    urgent = request.options.urgency in _URGENT
    headroom = _clamp((1.0 - load) / (1.0 - rules.saturation)) if load > rules.saturation else 1.0
    tier_fit = quality / 10.0 if request.tier is not _FREE else cost_f
    # Time of day: how the provider did at this hour of the day over the last week (a prior
    # while few calls fell in it).
    same_hour = (st.same_hour_calls * (st.same_hour_success_rate or 0.0), st.same_hour_calls)
    time_of_day = _shrink_rate(round(same_hour[0]), same_hour[1], priors)
    context = _clamp(
        0.45 * headroom + 0.25 * (speed if urgent else 1.0) + 0.15 * tier_fit + 0.15 * time_of_day
    )
    business = _clamp(
        0.5 * _clamp((quality - rules.quality_threshold) / max(10.0 - rules.quality_threshold, 0.1))
        + 0.5 * (1.0 if p95 <= rules.target_render_s else rules.target_render_s / p95)
    )
    if steps:  # a degraded video is worth less than the one asked for
        business *= 0.5

    factors = (base, health, performance, cost_f, reliability, context, business)
    points = {name: 100.0 * wi * f for name, wi, f in zip(COMPONENTS, w, factors, strict=True)}
    score = sum(points.values())
    # One line per concern, cheaply formatted: ranking runs on every submit (bench.micro).
    reasons = [
        f"priority {caps.priority} of {n}",
        f"success {100 * ok_1h:.0f}% last hour, {100 * ok_24h:.0f}% last day "
        f"({st.calls_24h} samples), {100 * time_of_day:.0f}% at this hour of day",
        f"p50 {p50:.0f} s, p95 {p95:.0f} s, consistency {consistency:.2f}",
        f"quality {quality:.1f}/10, rated {rating:.1f}/5, ${cost:.2f} per video",
        f"load {c.in_flight}/{optimal} (limit {caps.concurrency_limit})",
    ]
    if c.breaker.state is not _CLOSED:
        reasons.append(f"circuit {c.breaker.state.value}: probe call")
    if steps:
        reasons.append("degraded to fit: " + ", ".join(s.value for s in steps))
    if quality_probe:
        reasons.append(f"quality probe: below {rules.quality_threshold:g}, checking it recovered")
    return Scored(
        provider_id=caps.provider_id,
        score=score,
        breakdown=MappingProxyType(points),
        reasons=tuple(reasons),
        options=options,
        degradations=steps,
        probe=probe,
        quality_probe=quality_probe,
        cost=cost,
    )


def _spread(
    scored: list[Scored], request: SelectionRequest, rules: BusinessRules
) -> tuple[Scored, ...]:
    """Keep the preferred provider first when it qualifies; otherwise order the candidates within
    ``spread_margin`` of the best by a draw seeded with the job key and weighted by score
    (``u ** (1 / score)``): near-equal providers share traffic instead of all jobs taking one."""
    if not scored:
        return ()
    if scored[0].quality_probe and request.prefer is None:
        return tuple(scored)
    if request.prefer is not None:
        for i, s in enumerate(scored):
            if s.provider_id == request.prefer:
                return (s, *scored[:i], *scored[i + 1 :])
    top = scored[0].score
    degraded = bool(scored[0].degradations)
    band = [
        s
        for s in scored
        if top - s.score <= rules.spread_margin and bool(s.degradations) == degraded
    ]
    if len(band) < 2:
        return tuple(scored)

    def draw(s: Scored) -> float:
        u = (zlib.crc32(f"{request.job_key}:{s.provider_id}".encode()) + 1) / 4294967297.0
        return -float(u ** (1.0 / max(s.score, 1e-6)))

    band.sort(key=draw)
    return (*band, *scored[len(band) :])


def _shrink(observed: float | None, n: int, prior: float, weight: float) -> float:
    if observed is None or n <= 0:
        return prior
    return (observed * n + prior * weight) / (n + weight)


def _shrink_rate(successes: int, calls: int, priors: Priors) -> float:
    return (successes + priors.success_rate * priors.success_weight) / (
        calls + priors.success_weight
    )


def _clamp(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
