"""The global daily spend cap: what the providers billed today (UTC), counted in
``daily_spend/{YYYY-MM-DD}`` by an increment in the same write as the billed job, and checked
before a new job is accepted. Without a cap (the default) nothing is refused; the figure is
still counted and shown on the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.core.refusals import LimitReached

DAY_S = 86_400.0


def day_key(now: float) -> str:
    """The spend document of the UTC day holding ``now``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def spent(doc: Mapping[str, Any] | None) -> float:
    return float((doc or {}).get("billedUsd") or 0.0)


class SpendCapReachedError(LimitReached):
    """Today's billed total reached the cap: new videos are refused until the next UTC day."""

    def __init__(self, cap_usd: float, spent_usd: float, *, now: float) -> None:
        self.cap_usd = cap_usd
        self.spent_usd = spent_usd
        self.resets_at = (now // DAY_S + 1) * DAY_S
        super().__init__(
            f"the daily spend cap of ${cap_usd:,.2f} is reached (${spent_usd:,.2f} billed "
            "today); new videos are accepted again from 00:00 UTC"
        )


def check(doc: Mapping[str, Any] | None, *, cap_usd: float | None, now: float) -> None:
    """Raise SpendCapReachedError when today's spend is at or past the cap (None: no cap)."""
    if cap_usd is not None and spent(doc) >= cap_usd:
        raise SpendCapReachedError(cap_usd, spent(doc), now=now)


def increment(billed_usd: float) -> dict[str, float]:
    """The fields added to today's document for one billed render."""
    return {"billedUsd": billed_usd, "renders": 1}
