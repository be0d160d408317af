"""The simulated world of the chaos benchmark: three providers with their own latency, price and
capabilities, and the fault scenarios that strike them, all in virtual time (seconds)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from shared.adapters.providers import did, heygen, runwayml
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.model import Capabilities

HOUR = 3600.0


Z_99 = 2.326  # the standard normal's 99th percentile


@dataclass(frozen=True, slots=True, kw_only=True)
class SimProvider:
    """A provider of the simulated world. Its render times are lognormal, from the figures
    its adapter declares (cited there): the median is ``typical_render_s`` and the 99th
    percentile ``worst_render_s`` (HeyGen: 10 and 20 minutes, as HeyGen documents; D-ID's and
    RunwayML's are estimates, their documentation gives none)."""

    caps: Capabilities
    submit_s: float  # how long a healthy submit call takes
    quality: float  # 0..10, the score of a good video from this provider

    @property
    def render_sigma(self) -> float:
        return math.log(self.caps.worst_render_s / self.caps.typical_render_s) / Z_99

    def render_s(self, rng: random.Random) -> float:
        return self.caps.typical_render_s * rng.lognormvariate(0.0, self.render_sigma)


# The adapters' declared capabilities and prices, with concurrency limits of a larger plan than
# the adapters assume (those are plan-dependent): the benchmark pushes about one job every 2 s,
# and a HeyGen render takes about ten minutes, so some 300 are out at once.
PLAN_CONCURRENCY = {"heygen": 400, "did": 60, "runwayml": 20}

PROVIDERS: tuple[SimProvider, ...] = (
    SimProvider(
        caps=replace(heygen.CAPABILITIES, concurrency_limit=PLAN_CONCURRENCY["heygen"]),
        submit_s=0.8,
        quality=9.3,
    ),
    SimProvider(
        caps=replace(did.CAPABILITIES, concurrency_limit=PLAN_CONCURRENCY["did"]),
        submit_s=0.6,
        quality=8.9,
    ),
    SimProvider(
        caps=replace(runwayml.CAPABILITIES, concurrency_limit=PLAN_CONCURRENCY["runwayml"]),
        submit_s=0.5,
        quality=8.7,
    ),
)

READ_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """What a provider does to a submit while a fault is active.

    ``accepted`` means the provider took (and bills) the render although the caller sees an
    error — the case of an answer lost to a timeout."""

    category: ErrorCategory
    probability: float = 1.0
    status: int | None = None
    retry_after: float | None = None
    latency_s: float = 0.05
    accepted: bool = False
    at_render: bool = False  # the submit succeeds; the render fails later


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    providers: frozenset[str]
    start: float
    end: float
    faults: tuple[Fault, ...]
    down: bool = True  # counts as "not up" for the success-among-servable figure


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """``jobs`` / ``interarrival_s``: this scenario's own traffic (None: the run's); ``abuse``:
    the share of requests from abusive users (over-long scripts, cancel/retry loops, scripts
    every provider refuses); ``cap_usd``: a daily spend cap every strategy applies."""

    name: str
    title: str
    windows: tuple[Window, ...] = ()
    jobs: int | None = None
    interarrival_s: float | None = None
    abuse: float = 0.0
    cap_usd: float | None = None
    background: tuple[Fault, ...] = field(
        default=(
            Fault(category=ErrorCategory.TRANSIENT, probability=0.004, status=502),
            Fault(category=ErrorCategory.PROCESSING_ERROR, probability=0.001, at_render=True),
        )
    )

    def faults(self, provider_id: str, t: float) -> tuple[Fault, ...]:
        active: tuple[Fault, ...] = ()
        for w in self.windows:
            if provider_id in w.providers and w.start <= t < w.end:
                active = active + w.faults
        return active + self.background

    def up(self, provider_id: str, t: float) -> bool:
        return not any(
            w.down and provider_id in w.providers and w.start <= t < w.end for w in self.windows
        )

    def up_within(self, provider_id: str, start: float, end: float) -> bool:
        """Whether the provider is up at some time in [start, end): at ``start``, or when one
        of its outages ends within the span."""
        ends = [w.end for w in self.windows if provider_id in w.providers and start < w.end < end]
        return any(self.up(provider_id, t) for t in (start, *ends))


ALL = frozenset(p.caps.provider_id for p in PROVIDERS)
PRIMARY = frozenset({"heygen"})
TALKING_HEADS = frozenset({"heygen", "did"})  # the two that spoke before RunwayML's avatars
T0 = 2 * HOUR

_RANDOM_10 = (
    Fault(category=ErrorCategory.TRANSIENT, probability=0.05, status=502),
    Fault(category=ErrorCategory.NETWORK_ERROR, probability=0.02),
    Fault(category=ErrorCategory.PROVIDER_OVERLOAD, probability=0.01, status=503),
    Fault(category=ErrorCategory.PROCESSING_ERROR, probability=0.015, at_render=True),
    Fault(category=ErrorCategory.QUALITY_FAILURE, probability=0.005, at_render=True),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(name="healthy", title="all healthy"),
    Scenario(
        name="primary_down",
        title="primary down 30 min",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=T0 + 1800,
                faults=(Fault(category=ErrorCategory.NETWORK_ERROR),),
            ),
        ),
    ),
    Scenario(
        name="rate_limit_storm",
        title="429 storm on primary (30 min)",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=T0 + 1800,
                faults=(
                    Fault(
                        category=ErrorCategory.RATE_LIMIT,
                        probability=0.9,
                        status=429,
                        retry_after=30.0,
                    ),
                ),
            ),
        ),
    ),
    Scenario(
        name="random_10pct",
        title="10 % random failures everywhere",
        background=_RANDOM_10,
    ),
    Scenario(
        name="primary_slow",
        title="primary slow: submits time out (30 min)",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=T0 + 1800,
                faults=(
                    Fault(
                        category=ErrorCategory.TIMEOUT,
                        latency_s=READ_TIMEOUT_S,
                        accepted=True,
                    ),
                ),
            ),
        ),
    ),
    Scenario(
        name="primary_bad_renders",
        title="primary accepts, then fails every render (30 min; extra)",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=T0 + 1800,
                faults=(Fault(category=ErrorCategory.PROCESSING_ERROR, at_render=True),),
                down=False,  # it answers; only the charged renders fail
            ),
        ),
    ),
    Scenario(
        name="primary_quota",
        title="primary quota exhausted (rest of the run)",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=1e12,
                faults=(Fault(category=ErrorCategory.QUOTA_EXCEEDED, status=402),),
            ),
        ),
    ),
    Scenario(
        name="primary_key_revoked",
        title="primary key revoked (rest of the run)",
        windows=(
            Window(
                providers=PRIMARY,
                start=T0,
                end=1e12,
                faults=(Fault(category=ErrorCategory.AUTHENTICATION, status=401),),
            ),
        ),
    ),
    Scenario(
        name="lost_answers",
        title="5 % of submit answers lost everywhere (accepted and billed; extra)",
        background=(
            Fault(
                category=ErrorCategory.TIMEOUT,
                probability=0.05,
                latency_s=READ_TIMEOUT_S,
                accepted=True,
            ),
        ),
    ),
    Scenario(
        name="two_down",
        title="HeyGen and D-ID both down 30 min (RunwayML's avatar speaks alone)",
        windows=(
            Window(
                providers=TALKING_HEADS,
                start=T0,
                end=T0 + 1800,
                faults=(Fault(category=ErrorCategory.NETWORK_ERROR),),
            ),
        ),
    ),
    Scenario(
        name="all_down_5m",
        title="all providers down 5 min, then back",
        windows=(
            Window(
                providers=ALL,
                start=T0,
                end=T0 + 300,
                faults=(Fault(category=ErrorCategory.NETWORK_ERROR),),
            ),
        ),
    ),
)


# A few jobs, every provider refusing every call (503) for 10 minutes from the first arrival:
# the case where traffic is too thin to open the breakers before the jobs' budgets ran out.
LOW_TRAFFIC_OUTAGE = Scenario(
    name="low_traffic_outage",
    title="low traffic (6 jobs, 1 every 20 s), every provider refusing (503) for 10 min",
    jobs=6,
    interarrival_s=20.0,
    windows=(
        Window(
            providers=ALL,
            start=0.0,
            end=600.0,
            faults=(Fault(category=ErrorCategory.PROVIDER_OVERLOAD, status=503),),
        ),
    ),
)
# 15 % of the requests from abusive users, in equal parts: a 615-word script asked as a short
# video, a cancel/retry loop (cancelled as soon as the render is out, retried, up to 6 times),
# a script every provider refuses (a 400 about the request). Every strategy applies a daily cap
# of $55,000, which the honest traffic alone (about $48,700 for the default 10,000 requests)
# stays under: the baselines check it at intake against what was billed (as this project did
# before reservations), this project reserves each job's estimate and checks before a submit.
ABUSIVE_USERS = Scenario(
    name="abusive_users",
    title="abusive users (15 % of requests; $55k daily cap)",
    abuse=0.15,
    cap_usd=55_000.0,
)
SCENARIOS = (*SCENARIOS, LOW_TRAFFIC_OUTAGE, ABUSIVE_USERS)


def roll(faults: tuple[Fault, ...], rng: random.Random) -> Fault | None:
    """The fault (if any) that strikes one submit: each active fault has its own chance."""
    for fault in faults:
        if fault.probability >= 1.0 or rng.random() < fault.probability:
            return fault
    return None


def error_for(fault: Fault, provider_id: str, *, charged: bool) -> ProviderError:
    return ProviderError(
        fault.category,
        f"simulated {fault.category.value}",
        provider_id=provider_id,
        status=fault.status,
        retry_after=fault.retry_after,
        charged=charged,
    )


Clock = Callable[[], float]
