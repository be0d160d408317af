"""Per-user limits on new videos, counted in one document per user (``user_quotas/{userId}``) and
checked in the same atomic write that creates the job: a burst of calls from one user can never
create more jobs than the limit (a count query before the create could: 50 simultaneous calls
with a limit of 10 made 50 jobs).

Windows are calendar periods (the clock hour, the UTC day), so a counter needs no history: a
count whose period start is not the current one is zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.refusals import LimitReached

HOUR_S = 3600.0
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # "hour", "day": also the counter's field names (hourStart, hourCount)
    period_s: float
    max_jobs: int

    def start(self, now: float) -> float:
        return math.floor(now / self.period_s) * self.period_s


def per_hour(max_jobs: int) -> Limit:
    return Limit("hour", HOUR_S, max_jobs)


def per_day(max_jobs: int) -> Limit:
    return Limit("day", DAY_S, max_jobs)


class QuotaExceededError(LimitReached):
    """A limit is reached; the message names it, the count and when it resets."""

    def __init__(self, limit: Limit, used: int, *, now: float) -> None:
        self.limit = limit
        self.used = used
        self.resets_at = limit.start(now) + limit.period_s
        resets = datetime.fromtimestamp(self.resets_at, UTC).strftime("%H:%M UTC")
        super().__init__(
            f"{used} videos asked for this {limit.name}; the limit is {limit.max_jobs} per "
            f"{limit.name} (it resets at {resets})",
            {"limit": limit.name, "max": limit.max_jobs, "resetsAt": self.resets_at},
        )


def used(doc: Mapping[str, Any] | None, limit: Limit, *, now: float) -> int:
    """Jobs counted in ``limit``'s current period."""
    if not doc or doc.get(f"{limit.name}Start") != limit.start(now):
        return 0
    return int(doc.get(f"{limit.name}Count") or 0)


def admit(doc: Mapping[str, Any] | None, *, now: float, limits: Sequence[Limit]) -> dict[str, Any]:
    """The counter document after one more job, or QuotaExceededError naming the first limit
    reached (nothing is counted then)."""
    counts = {limit.name: used(doc, limit, now=now) for limit in limits}
    for limit in limits:
        if counts[limit.name] >= limit.max_jobs:
            raise QuotaExceededError(limit, counts[limit.name], now=now)
    updated: dict[str, Any] = {"updatedAt": now}
    for limit in limits:
        updated[f"{limit.name}Start"] = limit.start(now)
        updated[f"{limit.name}Count"] = counts[limit.name] + 1
    return updated


def remaining(
    doc: Mapping[str, Any] | None, *, now: float, limits: Sequence[Limit]
) -> dict[str, int]:
    """What the user may still ask for, per limit."""
    return {limit.name: max(0, limit.max_jobs - used(doc, limit, now=now)) for limit in limits}
