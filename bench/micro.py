"""Micro-benchmark of the three hot decisions, in-process:

(a) ranking three providers with breakdown and reasoning   -> shared.core.scoring.rank
(b) one failover decision: classify a provider error, reselect without the failed provider,
    decide and apply the recovery                          -> shared.core.errors +
    shared.core.failover
(c) breaker admission with the state already cached        -> shared.core.breaker.admission

    python -m bench.micro [--write BENCHMARKS.md]

`rank_three`, `one_failover` and `cached_admission` below are the entry points, importable as
plain zero-argument functions so other tools can time them too.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from pathlib import Path

from bench.world import PROVIDERS
from shared.core import breaker as br
from shared.core import jobs
from shared.core.errors import ErrorCategory, ProviderError, Signal
from shared.core.failover import fail_over, selection_for
from shared.core.jobs import Job
from shared.core.model import VideoOptions
from shared.core.scoring import Candidate, ProviderStats, rank

NOW = 1_800_000_000.0

_STATS = {
    "heygen": ProviderStats(
        provider_id="heygen",
        calls_1h=120,
        successes_1h=117,
        calls_24h=2400,
        successes_24h=2350,
        latency_p50_s=58.0,
        latency_p95_s=80.0,
        quality=9.3,
        quality_samples=2350,
        consecutive_failures=0,
    ),
    "did": ProviderStats(
        provider_id="did",
        calls_1h=80,
        successes_1h=79,
        calls_24h=1700,
        successes_24h=1680,
        latency_p50_s=44.0,
        latency_p95_s=61.0,
        quality=8.9,
        quality_samples=1680,
    ),
    "runwayml": ProviderStats(provider_id="runwayml", calls_1h=3, successes_1h=3),
}

CANDIDATES = tuple(
    Candidate(
        capabilities=p.caps,
        stats=_STATS[p.caps.provider_id],
        breaker=br.BreakerState(provider_id=p.caps.provider_id),
        breaker_policy=br.POLICIES[p.caps.provider_id],
        in_flight=7,
    )
    for p in PROVIDERS
)
_JOB = jobs.begin_attempt(
    Job(job_id="job-123", created_at=NOW - 5, deadline_at=NOW + 1800, options=VideoOptions()),
    provider_id="heygen",
    options=VideoOptions(),
    degradations=(),
    reasoning=(),
    now=NOW - 2,
)
_REQUEST = selection_for(_JOB)
_SIGNAL = Signal(status=503)
_CACHED = br.BreakerState(provider_id="heygen")
_POLICY = br.POLICIES["heygen"]


def rank_three() -> object:
    """(a) Rank three providers for one job, with breakdown and reasons."""
    return rank(CANDIDATES, _REQUEST, now=NOW)


def one_failover() -> object:
    """(b) Classify a 503 from HeyGen, reselect without it, decide and apply the recovery."""
    error = ProviderError.from_signal(_SIGNAL, "HeyGen answered 503", provider_id="heygen")
    assert error.category is ErrorCategory.PROVIDER_OVERLOAD
    return fail_over(_JOB, error, CANDIDATES, now=NOW, rand=0.5)


def cached_admission() -> object:
    """(c) May this instance call HeyGen now, given its cached breaker state?"""
    return br.admission(_CACHED, NOW, _POLICY)


def _noop() -> object:
    return None


def median_us(fn: object, *, number: int, repeat: int = 7) -> float:
    timer = timeit.Timer(fn)  # type: ignore[arg-type]
    return statistics.median(t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number))


def measure() -> list[tuple[str, float, float]]:
    """(label, median µs per call, goal µs); (c) is reported net of an empty call."""
    best = rank_three()
    assert getattr(best, "best", None) is not None
    empty = median_us(_noop, number=200_000)
    return [
        ("(a) rank 3 providers, breakdown and reasons", median_us(rank_three, number=2000), 50),
        ("(b) failover: classify + reselect + decide", median_us(one_failover, number=2_000), 100),
        (
            "(c) breaker admission, cached state (net of an empty call)",
            median_us(cached_admission, number=200_000) - empty,
            1,
        ),
        ("    an empty Python call, for reference", empty, 0),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--write", type=Path, help="replace the micro section of this markdown file")
    args = ap.parse_args(argv)
    rows = measure()
    lines = ["| decision | median µs | goal µs | |", "|---|---|---|---|"]
    for label, us, goal in rows:
        verdict = "" if not goal else ("ok" if us <= goal else "MISSED")
        lines.append(f"| {label} | {us:.2f} | {goal or ''} | {verdict} |")
    out = "\n".join(lines)
    print(out)
    if args.write:
        from bench.report import write_section

        write_section(args.write, "micro", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
