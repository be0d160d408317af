"""Chaos benchmark: the real pure core (scoring, breaker, recovery, jobs) against simulated
providers in virtual time, under fault scenarios, beside two baselines.

    python -m bench.chaos [--jobs 10000] [--seed 1] [--write BENCHMARKS.md]

Figures per scenario and strategy: success rate; success among jobs for which a capable
provider was up at arrival ("servable"); provider submissions per successful job; p50/p95
failover delay (from a failure being seen to the submission to another provider) and p95 of
detection plus failover (from the start of the failed call, so a 30 s timeout counts); wasted
spend (what providers billed for renders that were never delivered), also per 1000 delivered
videos; p95 time from request to finished video; degraded jobs; jobs left non-terminal.

The providers are the adapters' declared capabilities and prices (shared.providers), with
concurrency limits of a larger plan (bench.world.PLAN_CONCURRENCY). Every job draws its faults
and render times from a stream of its own, so all strategies meet the same luck.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.world import (
    HOUR,
    PROVIDERS,
    SCENARIOS,
    Fault,
    Scenario,
    SimProvider,
    error_for,
    roll,
)
from shared import breaker as br
from shared import degradation, jobs
from shared.errors import ErrorCategory, ProviderError
from shared.failover import fail_over, selection_for
from shared.jobs import Job, VideoResult
from shared.model import Duration, Feature, Resolution, Urgency, VideoOptions
from shared.recovery import STRATEGIES, Action
from shared.scoring import Candidate, ProviderStats, rank

JOB_DEADLINE_S = 1800.0
HEALTH_CHECK_S = 60.0
STATS_WINDOW_S = HOUR


@dataclass(slots=True)
class Render:
    provider_job_id: str
    done_at: float
    fault: Fault | None
    charged: float


@dataclass(slots=True)
class Figures:
    jobs: int = 0
    completed: int = 0
    servable: int = 0
    servable_completed: int = 0
    submissions: int = 0
    spend: float = 0.0
    useful_spend: float = 0.0
    failover_delays: list[float] = field(default_factory=list)
    detect_failover_delays: list[float] = field(default_factory=list)
    completion_times: list[float] = field(default_factory=list)
    degraded: int = 0
    transitions: int = 0
    stuck: int = 0

    @property
    def wasted(self) -> float:
        return self.spend - self.useful_spend


class World:
    """Providers as the outside world sees them: faults, latencies, idempotent billing."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.streams: dict[str, random.Random] = {}
        self.by_id: dict[str, SimProvider] = {p.caps.provider_id: p for p in PROVIDERS}
        self.renders: dict[tuple[str, str], Render] = {}
        self.figures = Figures()

    def stream(self, job_id: str) -> random.Random:
        """Each job draws its faults and render times from its own stream, so every strategy
        meets the same luck for a job's n-th submission (common random numbers)."""
        rng = self.streams.get(job_id)
        if rng is None:
            rng = self.streams[job_id] = random.Random(f"{self.seed}:{job_id}")
        return rng

    def submit(
        self, provider_id: str, key: str, job_id: str, now: float
    ) -> tuple[float, Render | None, ProviderError | None]:
        """(seconds until the caller hears back, the render, the error the caller sees)."""
        p = self.by_id[provider_id]
        rng = self.stream(job_id)
        fault = roll(self.scenario.faults(provider_id, now), rng)
        took = rng.lognormvariate(0.0, 0.25) * p.render_mean_s
        self.figures.submissions += 1
        known = self.renders.get((provider_id, key))
        if fault is not None and not fault.at_render:
            if fault.accepted and known is None:
                self.renders[(provider_id, key)] = self._render(p, key, now + took, None)
            return fault.latency_s, None, error_for(fault, provider_id, charged=fault.accepted)
        if known is None:
            known = self._render(p, key, now + took, fault)
            self.renders[(provider_id, key)] = known
        return p.submit_s, known, None

    def _render(self, p: SimProvider, key: str, done_at: float, fault: Fault | None) -> Render:
        price = p.caps.price_per_video
        self.figures.spend += price
        return Render(f"{p.caps.provider_id}:{key}", done_at, fault, price)

    def probe(self, provider_id: str, now: float) -> bool:
        """A cheap authenticated read (for HeyGen, the remaining-quota endpoint): it fails while
        the provider is down, slow, out of credits or our key is revoked; reads are not
        rate-limited."""
        return all(
            f.category is ErrorCategory.RATE_LIMIT
            for w in self.scenario.windows
            if provider_id in w.providers and w.start <= now < w.end
            for f in w.faults
        )

    def capable(self, options: VideoOptions, provider_id: str) -> bool:
        caps = self.by_id[provider_id].caps
        if not caps.missing_for(options):
            return True
        return options.allow_fallback and degradation.fit(options, caps) is not None


Event = tuple[float, int, Callable[..., None], tuple[object, ...]]


class Engine:
    """A discrete-event loop in virtual time, shared by all strategies."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[Event] = []
        self._seq = 0

    def at(self, t: float, fn: Callable[..., None], *args: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (max(t, self.now), self._seq, fn, args))

    def run(self, until: float) -> None:
        while self._queue and self._queue[0][0] <= until:
            t, _, fn, args = heapq.heappop(self._queue)
            self.now = t
            fn(*args)


class Strategy:
    """Shared bookkeeping: jobs, in-flight renders, arrivals and the figures."""

    name = "base"

    def __init__(self, world: World, engine: Engine, rand: random.Random) -> None:
        self.world = world
        self.engine = engine
        self.rand = rand
        self.jobs: dict[str, Job] = {}
        self.arrived: dict[str, float] = {}
        self.in_flight: Counter[str] = Counter()
        # job -> (when the failed call started, when its failure was seen)
        self.switched_at: dict[str, tuple[float, float]] = {}

    @property
    def figures(self) -> Figures:
        return self.world.figures

    def arrive(self, job: Job) -> None:
        now = self.engine.now
        self.jobs[job.job_id] = job
        self.arrived[job.job_id] = now
        f = self.figures
        f.jobs += 1
        if any(
            self.world.capable(job.options, pid) and self.world.scenario.up(pid, now)
            for pid in self.world.by_id
        ):
            f.servable += 1
            self.servable.add(job.job_id)
        self.attempt(job.job_id)

    servable: set[str]

    def attempt(self, job_id: str) -> None:
        raise NotImplementedError

    def submit(self, job: Job, provider_id: str, options: VideoOptions, **kw: object) -> None:
        now = self.engine.now
        job = jobs.begin_attempt(
            job,
            provider_id=provider_id,
            options=options,
            degradations=kw.get("degradations", ()),  # type: ignore[arg-type]
            reasoning=(),
            now=now,
        )
        switched = self.switched_at.pop(job.job_id, None)
        if switched is not None:
            self.figures.failover_delays.append(now - switched[1])
            self.figures.detect_failover_delays.append(now - switched[0])
        self.jobs[job.job_id] = job
        self.in_flight[provider_id] += 1
        latency, render, error = self.world.submit(
            provider_id, job.idempotency_key, job.job_id, now
        )
        self.engine.at(now + latency, self.answered, job.job_id, render, error, kw.get("permit"))

    def answered(
        self, job_id: str, render: Render | None, error: ProviderError | None, permit: object
    ) -> None:
        job = self.jobs[job_id]
        if error is not None:
            self.in_flight[job.provider_id or ""] -= 1
            self.failed(job, error, _permit(permit), self.engine.now - job.history[-1].started_at)
            return
        assert render is not None
        self.jobs[job_id] = jobs.submitted(
            job,
            provider_job_id=render.provider_job_id,
            follow_up_at=render.done_at,
            now=self.engine.now,
        )
        self.on_submit_ok(job, _permit(permit))
        self.engine.at(render.done_at, self.rendered, job_id, render)

    def rendered(self, job_id: str, render: Render) -> None:
        job = self.jobs[job_id]
        pid = job.provider_id or ""
        self.in_flight[pid] -= 1
        if render.fault is not None:
            error = error_for(render.fault, pid, charged=True)
            self.failed(job, error, False, 0.0)
            return
        now = self.engine.now
        result = VideoResult(video_url=f"https://videos.example/{render.provider_job_id}.mp4")
        self.jobs[job_id] = jobs.complete(job, result=result, now=now)
        f = self.figures
        f.completed += 1
        f.useful_spend += render.charged
        f.completion_times.append(now - self.arrived[job_id])
        f.degraded += job.degraded
        if job_id in self.servable:
            f.servable_completed += 1
        self.on_render_ok(pid, now - job.history[-1].started_at, self.world.by_id[pid].quality)

    def on_submit_ok(self, job: Job, permit: float | None) -> None:
        pass

    def on_render_ok(self, provider_id: str, took: float, quality: float) -> None:
        pass

    def failed(self, job: Job, error: ProviderError, permit: float | None, took: float) -> None:
        raise NotImplementedError


class Fallback(Strategy):
    """This project: scoring on measured stats, shared breakers, the recovery table."""

    name = "fallback (this project)"

    def __init__(self, world: World, engine: Engine, rand: random.Random) -> None:
        super().__init__(world, engine, rand)
        self.servable = set()
        self.breakers = {pid: br.BreakerState(provider_id=pid) for pid in world.by_id}
        self.policies = {pid: br.POLICIES.get(pid, br.BreakerPolicy()) for pid in world.by_id}
        self.log: dict[str, deque[tuple[float, bool, float, float]]] = {
            pid: deque() for pid in world.by_id
        }
        self.stats = {pid: ProviderStats(provider_id=pid) for pid in world.by_id}
        self.engine.at(HEALTH_CHECK_S, self.health_check)

    def candidates(self) -> list[Candidate]:
        return [
            Candidate(
                capabilities=p.caps,
                stats=self.stats[pid],
                breaker=self.breakers[pid],
                breaker_policy=self.policies[pid],
                in_flight=self.in_flight[pid],
            )
            for pid, p in self.world.by_id.items()
        ]

    def attempt(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if job.terminal:
            return
        now = self.engine.now
        ranking = rank(self.candidates(), selection_for(job), now=now)
        for choice in ranking.ranked:
            permit = None
            if choice.probe:
                grant = br.acquire(
                    self.breakers[choice.provider_id],
                    now=now,
                    policy=self.policies[choice.provider_id],
                )
                self.apply(grant.step)
                if not grant.granted:
                    continue
                permit = grant.permit
            self.submit(
                job,
                choice.provider_id,
                choice.options,
                degradations=choice.degradations,
                permit=permit,
            )
            return
        until = ranking.next_chance()
        reason = "; ".join(f"{r.provider_id}: {r.reason}" for r in ranking.rejected)
        if until is None:
            error = jobs.JobError(code="no_capable_provider", message=reason, retryable=False)
            self.jobs[job_id] = jobs.fail(job, error=error, now=now)
            return
        self.jobs[job_id] = job = jobs.wait_for_provider(job, until=until, reason=reason, now=now)
        if not job.terminal:
            self.engine.at(until, self.attempt, job_id)

    def apply(self, step: br.Step) -> None:
        self.breakers[step.state.provider_id] = step.state
        if step.transition is not None:
            self.figures.transitions += 1

    def record(self, pid: str, outcome: br.Outcome) -> None:
        now = self.engine.now
        self.apply(br.record(self.breakers[pid], outcome, now=now, policy=self.policies[pid]))

    def on_submit_ok(self, job: Job, permit: float | None) -> None:
        pid = job.provider_id or ""
        took = self.engine.now - job.history[-1].started_at
        outcome = br.Outcome(success=True, duration_s=took, probe=permit is not None, permit=permit)
        self.record(pid, outcome)

    def on_render_ok(self, provider_id: str, took: float, quality: float) -> None:
        self.log[provider_id].append((self.engine.now, True, took, quality))

    def failed(self, job: Job, error: ProviderError, permit: float | None, took: float) -> None:
        now = self.engine.now
        pid = error.provider_id
        counts = STRATEGIES[error.category].counts_against_breaker
        self.record(
            pid,
            br.Outcome(
                success=False,
                duration_s=took,
                category=error.category,
                counts=counts,
                probe=permit is not None,
                permit=permit,
            ),
        )
        self.log[pid].append((now, False, took, 0.0))
        fo = fail_over(job, error, self.candidates(), now=now, rand=self.rand.random())
        self.jobs[job.job_id] = after = fo.job
        if after.terminal:
            return
        if fo.decision.action is Action.SWITCH_PROVIDER:
            self.switched_at[job.job_id] = (job.history[-1].started_at, now)
        self.engine.at(after.next_action_at or now, self.attempt, job.job_id)

    def health_check(self) -> None:
        """Every minute: probe providers whose breaker wants a probe, refresh the stats."""
        now = self.engine.now
        for pid in self.world.by_id:
            policy = self.policies[pid]
            while br.admission(self.breakers[pid], now, policy) is br.Admission.PROBE:
                grant = br.acquire(self.breakers[pid], now=now, policy=policy)
                self.apply(grant.step)
                if not grant.granted:
                    break
                ok = self.world.probe(pid, now)
                outcome = br.Outcome(
                    success=ok,
                    duration_s=0.2,
                    category=None if ok else ErrorCategory.NETWORK_ERROR,
                    probe=True,
                    permit=grant.permit,
                )
                self.record(pid, outcome)
            self.stats[pid] = self.refresh(pid, now)
        self.engine.at(now + HEALTH_CHECK_S, self.health_check)

    def refresh(self, pid: str, now: float) -> ProviderStats:
        log = self.log[pid]
        while log and log[0][0] < now - STATS_WINDOW_S:
            log.popleft()
        calls = len(log)
        oks = [e for e in log if e[1]]
        times = sorted(e[2] for e in oks)
        trailing = 0
        for e in reversed(log):
            if e[1]:
                break
            trailing += 1
        return ProviderStats(
            provider_id=pid,
            calls_1h=calls,
            successes_1h=len(oks),
            calls_24h=calls,
            successes_24h=len(oks),
            latency_p50_s=times[len(times) // 2] if times else None,
            latency_p95_s=times[int(len(times) * 0.95)] if times else None,
            quality=statistics.fmean(e[3] for e in oks) if oks else None,
            quality_samples=len(oks),
            consecutive_failures=trailing,
        )


class SingleProvider(Strategy):
    """Baseline: always the primary provider, 3 retries with exponential backoff."""

    name = "baseline: single provider, 3 retries"
    provider = "heygen"
    retries = 3

    def __init__(self, world: World, engine: Engine, rand: random.Random) -> None:
        super().__init__(world, engine, rand)
        self.servable = set()

    def attempt(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if not job.terminal:
            self.submit(job, self.provider, job.options)

    def failed(self, job: Job, error: ProviderError, permit: float | None, took: float) -> None:
        now = self.engine.now
        job = jobs.record_failure(job, category=error.category.value, message="", now=now)
        if job.attempt > self.retries:
            err = jobs.JobError(code=error.category.value, message="retries used", retryable=True)
            self.jobs[job.job_id] = jobs.fail(job, error=err, now=now)
            return
        self.jobs[job.job_id] = job
        self.engine.at(now + 2.0 * 2 ** (job.attempt - 1), self.attempt, job.job_id)


class PriorityChain(Strategy):
    """Baseline: a fixed chain heygen -> did -> runwayml, next on any error; no breaker, no
    scoring, no degradation."""

    name = "baseline: fixed priority chain"
    chain = ("heygen", "did", "runwayml")

    def __init__(self, world: World, engine: Engine, rand: random.Random) -> None:
        super().__init__(world, engine, rand)
        self.servable = set()

    def attempt(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if job.terminal:
            return
        for pid in self.chain:
            if pid not in job.excluded and not self.world.by_id[pid].caps.missing_for(job.options):
                self.submit(job, pid, job.options)
                return
        err = jobs.JobError(code="chain_exhausted", message="every provider failed", retryable=True)
        self.jobs[job_id] = jobs.fail(job, error=err, now=self.engine.now)

    def failed(self, job: Job, error: ProviderError, permit: float | None, took: float) -> None:
        now = self.engine.now
        job = jobs.record_failure(job, category=error.category.value, message="", now=now)
        job = replace(job, excluded=job.excluded | {error.provider_id})
        self.jobs[job.job_id] = job
        self.switched_at[job.job_id] = (job.history[-1].started_at, now)
        self.engine.at(now, self.attempt, job.job_id)


def _permit(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


STRATEGY_TYPES: tuple[type[Strategy], ...] = (Fallback, SingleProvider, PriorityChain)


def make_jobs(n: int, seed: int, interarrival_s: float) -> list[tuple[float, Job]]:
    """The same arrivals and requests for every strategy of a scenario."""
    rng = random.Random(seed)
    t = 0.0
    out: list[tuple[float, Job]] = []
    for i in range(n):
        t += rng.expovariate(1.0 / interarrival_s)
        features = {Feature.VOICE, Feature.LIP_SYNC}
        if rng.random() < 0.1:
            features.add(Feature.CUSTOM_AVATAR)
        options = VideoOptions(
            duration=rng.choices(list(Duration), weights=(3, 5, 2))[0],
            resolution=Resolution.P1080 if rng.random() < 0.8 else Resolution.P720,
            urgency=rng.choices(list(Urgency), weights=(2, 6, 1.5, 0.5))[0],
            allow_fallback=rng.random() < 0.95,
            features=frozenset(features),
        )
        job = Job(
            job_id=f"job-{i:05d}", created_at=t, deadline_at=t + JOB_DEADLINE_S, options=options
        )
        out.append((t, job))
    return out


def simulate(
    scenario: Scenario, kind: type[Strategy], arrivals: list[tuple[float, Job]], seed: int
) -> Figures:
    engine = Engine()
    world = World(scenario, seed)
    strategy = kind(world, engine, random.Random(seed * 104729 + 3))
    for t, job in arrivals:
        engine.at(t, strategy.arrive, job)
    end = arrivals[-1][0] + 4 * JOB_DEADLINE_S
    engine.run(end)
    world.figures.stuck = sum(1 for j in strategy.jobs.values() if not j.terminal)
    return world.figures


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt_s(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


@dataclass(frozen=True, slots=True)
class Row:
    scenario: Scenario
    strategy: str
    figures: Figures
    seconds: float

    def cells(self) -> list[str]:
        f = self.figures
        success = f.completed / f.jobs if f.jobs else 0.0
        servable = f.servable_completed / f.servable if f.servable else 0.0
        subs = f.submissions / f.completed if f.completed else float("inf")
        return [
            self.scenario.title,
            self.strategy,
            f"{100 * success:.2f}",
            f"{100 * servable:.2f} ({f.servable})",
            f"{subs:.3f}",
            f"{fmt_s(pct(f.failover_delays, 0.5))} / {fmt_s(pct(f.failover_delays, 0.95))}",
            fmt_s(pct(f.detect_failover_delays, 0.95)),
            f"{f.wasted:.2f}",
            f"{1000 * f.wasted / f.completed:.2f}" if f.completed else "-",
            fmt_s(pct(f.completion_times, 0.95)),
            str(f.degraded),
            str(f.stuck),
        ]


HEADER = [
    "scenario",
    "strategy",
    "success %",
    "success among servable % (n)",
    "submissions / success",
    "failover p50 / p95 s",
    "detect + failover p95 s",
    "wasted $",
    "wasted $ per 1000 delivered",
    "p95 completion s",
    "degraded",
    "not terminal",
]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def goals(rows: list[Row]) -> list[tuple[str, bool]]:
    """The issue's goals, checked against the figures (printed, never asserted in tests)."""
    ours = {r.scenario.name: r for r in rows if r.strategy == Fallback.name}
    checks: list[tuple[str, bool]] = []
    for name, r in ours.items():
        f = r.figures
        rate = f.servable_completed / f.servable if f.servable else 1.0
        checks.append(
            (f"{name}: success among servable {100 * rate:.2f} % >= 99.9 %", rate >= 0.999)
        )
        p95 = pct(f.failover_delays, 0.95)
        checks.append((f"{name}: p95 failover {fmt_s(p95)} s <= 5 s", p95 is None or p95 <= 5.0))
        checks.append((f"{name}: {f.stuck} jobs not terminal", f.stuck == 0))
    rnd = ours["random_10pct"].figures
    subs = rnd.submissions / rnd.completed
    checks.append((f"random_10pct: {subs:.3f} submissions per success <= 1.15", subs <= 1.15))
    for name, r in ours.items():
        if name == "healthy":
            continue
        for base in (SingleProvider.name, PriorityChain.name):
            b = next(x for x in rows if x.scenario.name == name and x.strategy == base).figures
            f = r.figures
            checks.append(
                (
                    f"{name}: more successes than '{base}' ({f.completed} vs {b.completed})",
                    f.completed > b.completed,
                )
            )
            checks.append(
                (
                    f"{name}: less waste than '{base}' (${f.wasted:.2f} vs ${b.wasted:.2f})",
                    round(f.wasted, 2) < round(b.wasted, 2),
                )
            )
    return checks


def run(n_jobs: int, seed: int, interarrival_s: float, only: str | None) -> tuple[list[Row], float]:
    rows: list[Row] = []
    started = time.perf_counter()
    for scenario in SCENARIOS:
        if only and scenario.name != only:
            continue
        arrivals = make_jobs(n_jobs, seed, interarrival_s)
        for kind in STRATEGY_TYPES:
            t0 = time.perf_counter()
            figures = simulate(scenario, kind, arrivals, seed)
            rows.append(Row(scenario, kind.name, figures, time.perf_counter() - t0))
            print(
                f"  {scenario.name:<20} {kind.name:<40} {rows[-1].seconds:5.1f} s", file=sys.stderr
            )
    return rows, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--interarrival", type=float, default=2.0, help="mean seconds between jobs")
    ap.add_argument("--scenario", help="run one scenario only")
    ap.add_argument("--write", type=Path, help="replace the chaos section of this markdown file")
    args = ap.parse_args(argv)
    rows, took = run(args.jobs, args.seed, args.interarrival, args.scenario)
    out = table(rows)
    checks = goals(rows) if not args.scenario else []
    ours = [r.seconds for r in rows if r.strategy == Fallback.name]
    summary = (
        f"{args.jobs} jobs per scenario, seed {args.seed}, one job every {args.interarrival:g} s "
        f"on average; slowest scenario (this project) {max(ours):.1f} s; whole run {took:.1f} s."
    )
    print(out)
    print()
    print(summary)
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    if args.write:
        from bench.report import write_section

        body = "\n".join(
            [out, "", summary, "", *(f"- [{'ok' if ok else 'MISSED'}] {t}" for t, ok in checks)]
        )
        write_section(args.write, "chaos", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
