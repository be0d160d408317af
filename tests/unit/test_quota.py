"""Per-user limits on new videos (shared/core/quota.py): calendar windows, the first limit reached
named, nothing counted on a refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core import quota
from shared.core.quota import QuotaExceededError

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
HOUR = quota.per_hour(3)
DAY = quota.per_day(5)


def test_a_first_job_starts_the_counts() -> None:
    doc = quota.admit(None, now=NOW, limits=[HOUR, DAY])
    assert doc["hourCount"] == doc["dayCount"] == 1
    assert doc["hourStart"] == HOUR.start(NOW) <= NOW < doc["hourStart"] + 3600


def test_the_limit_refuses_the_next_job_and_names_when_it_resets() -> None:
    doc = None
    for _ in range(3):
        doc = quota.admit(doc, now=NOW, limits=[HOUR])
    with pytest.raises(QuotaExceededError, match=r"3 videos .* limit is 3 per hour .* 09:00 UTC"):
        quota.admit(doc, now=NOW + 60, limits=[HOUR])


def test_a_new_period_counts_from_zero() -> None:
    doc = None
    for _ in range(3):
        doc = quota.admit(doc, now=NOW, limits=[HOUR, DAY])
    later = quota.admit(doc, now=NOW + 3600, limits=[HOUR, DAY])
    assert (later["hourCount"], later["dayCount"]) == (1, 4)


def test_the_day_limit_holds_across_hours() -> None:
    doc = None
    for hour in range(5):
        doc = quota.admit(doc, now=NOW + hour * 3600, limits=[HOUR, DAY])
    with pytest.raises(QuotaExceededError) as refused:
        quota.admit(doc, now=NOW + 5 * 3600, limits=[HOUR, DAY])
    assert refused.value.limit is DAY
    assert quota.remaining(doc, now=NOW + 5 * 3600, limits=[HOUR, DAY]) == {"hour": 3, "day": 0}


@given(
    steps=st.lists(st.floats(min_value=0, max_value=7200, allow_nan=False), max_size=40),
    limit=st.integers(min_value=1, max_value=6),
)
def test_no_period_ever_counts_more_than_its_limit(steps: list[float], limit: int) -> None:
    """Whatever the arrival times, admitted jobs per clock hour never exceed the limit; a job
    is refused exactly when the hour's count has reached it."""
    per_hour = quota.per_hour(limit)
    doc: dict[str, object] | None = None
    admitted: dict[float, int] = {}
    now = NOW
    for step in steps:
        now += step
        if quota.used(doc, per_hour, now=now) >= limit:
            with pytest.raises(QuotaExceededError):
                quota.admit(doc, now=now, limits=[per_hour])
            continue
        doc = quota.admit(doc, now=now, limits=[per_hour])
        admitted[per_hour.start(now)] = admitted.get(per_hour.start(now), 0) + 1
    assert all(count <= limit for count in admitted.values())
