"""The global daily spend cap: what the providers billed today (UTC), counted in
``daily_spend/{YYYY-MM-DD}`` by an increment in the same write as the billed job, and what the
jobs not yet finished may still bill (``reservedUsd``). Each new job reserves its estimate in
the conditional write that creates it (`reserve`), so a burst cannot reserve past the cap;
every submit checks billed + reserved first (`may_submit`); a job's reservation is released in
the write that finishes it (`records.derived`). The same document carries a global brake on
new jobs per minute."""

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


def reserved(doc: Mapping[str, Any] | None) -> float:
    """What the day's unfinished jobs reserved: what they may still bill."""
    return max(0.0, float((doc or {}).get("reservedUsd") or 0.0))


def committed(doc: Mapping[str, Any] | None) -> float:
    """Billed and reserved: what the day's spend may reach with the jobs accepted so far."""
    return spent(doc) + reserved(doc)


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


def increment(billed_usd: float, released_usd: float = 0.0) -> dict[str, float]:
    """The fields added to a day's document for one billed render and/or a job's released
    reservation."""
    fields: dict[str, float] = {}
    if billed_usd:
        fields.update(billedUsd=billed_usd, renders=1)
    if released_usd:
        fields["reservedUsd"] = -released_usd
    return fields


class JobsPerMinuteError(LimitReached):
    """The service-wide brake on new jobs per minute is reached: try again in a minute."""

    def __init__(self, limit: int, *, now: float) -> None:
        self.limit = limit
        self.retry_after_s = 60.0 - now % 60.0
        super().__init__(
            f"the service accepts at most {limit} new videos a minute; "
            f"try again in {self.retry_after_s:.0f} s",
            {"limit": limit, "retryAfterSeconds": round(self.retry_after_s)},
        )


def reserve(
    doc: Mapping[str, Any] | None,
    *,
    estimate_usd: float,
    cap_usd: float | None,
    jobs_per_minute: int | None,
    now: float,
) -> dict[str, Any]:
    """The fields of the day's document once a new job reserves ``estimate_usd`` (None caps:
    none). SpendCapReachedError when billed + reserved + the estimate would pass the cap,
    JobsPerMinuteError past the brake; the store writes them only if the document did not
    change since it was read, so concurrent jobs cannot both take the last of the cap."""
    minute = int(now // 60)
    started = jobs_this_minute(doc, now=now)
    if jobs_per_minute is not None and started >= jobs_per_minute:
        raise JobsPerMinuteError(jobs_per_minute, now=now)
    if cap_usd is not None and committed(doc) + estimate_usd > cap_usd + 1e-9:
        raise SpendCapReachedError(cap_usd, committed(doc), now=now)
    return {
        "reservedUsd": round(reserved(doc) + estimate_usd, 6),
        "minute": minute,
        "minuteJobs": started + 1,
    }


def jobs_this_minute(doc: Mapping[str, Any] | None, *, now: float) -> int:
    """New jobs counted against the per-minute brake in the minute holding ``now``."""
    if int((doc or {}).get("minute") or -1) != int(now // 60):
        return 0
    return int((doc or {}).get("minuteJobs") or 0)


def may_submit(doc: Mapping[str, Any] | None, *, cap_usd: float | None) -> bool:
    """Whether a job (whose reservation is in ``doc``) may submit a render now: billed and
    reserved stay within the cap (an earlier render of it, billed, is counted twice until the
    job ends: a job that needs more renders than it reserved waits for tomorrow's cap)."""
    return cap_usd is None or committed(doc) <= cap_usd + 1e-9
