"""The daily cap's figures: reservations taken under the cap and the per-minute brake, the
submit check, the release when a job ends, and one write per spend document."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.adapters.stores.base import SPEND
from shared.adapters.stores.codec import encode_all
from shared.core import jobs, spend
from shared.core.jobs import Job
from shared.core.records import Spend, derived

NOW = 1_800_000_000.0


def test_a_reservation_past_the_cap_is_refused_and_one_under_it_is_added() -> None:
    """Billed + reserved + the estimate may reach the cap, never pass it."""
    doc = {"billedUsd": 40.0, "reservedUsd": 8.0}
    taken = spend.reserve(doc, estimate_usd=2.0, cap_usd=50.0, jobs_per_minute=None, now=NOW)
    assert taken["reservedUsd"] == 10.0
    with pytest.raises(spend.SpendCapReachedError):
        spend.reserve(doc, estimate_usd=2.5, cap_usd=50.0, jobs_per_minute=None, now=NOW)


def test_the_per_minute_brake_counts_jobs_within_their_minute() -> None:
    """The brake refuses the job past the limit in one minute and starts again the next."""
    doc: dict[str, float] = {}
    for _ in range(3):
        doc = {
            **doc,
            **spend.reserve(doc, estimate_usd=1.0, cap_usd=None, jobs_per_minute=3, now=NOW),
        }
    with pytest.raises(spend.JobsPerMinuteError):
        spend.reserve(doc, estimate_usd=1.0, cap_usd=None, jobs_per_minute=3, now=NOW)
    later = spend.reserve(doc, estimate_usd=1.0, cap_usd=None, jobs_per_minute=3, now=NOW + 60)
    assert later["minuteJobs"] == 1


def test_a_submit_is_allowed_while_billed_and_reserved_stay_within_the_cap() -> None:
    assert spend.may_submit({"billedUsd": 45.0, "reservedUsd": 5.0}, cap_usd=50.0)
    assert not spend.may_submit({"billedUsd": 45.5, "reservedUsd": 5.0}, cap_usd=50.0)
    assert spend.may_submit({"billedUsd": 1e9}, cap_usd=None)


def test_a_job_that_ends_releases_its_reservation_once() -> None:
    """The write that makes a job terminal releases what it reserved, on its creation day;
    a later version of the terminal job releases nothing more."""
    job = Job(job_id="j", created_at=NOW, deadline_at=NOW + 1800, reserved_usd=6.0)
    done = jobs.fail(job, error=jobs.JobError(code="x", message="m", retryable=True), now=NOW)
    released = [r for r in derived(job, done) if isinstance(r, Spend)]
    assert released == [Spend(spend.day_key(NOW), 0.0, released_usd=6.0)]
    assert [
        r for r in derived(done, replace(done, updated_at=NOW + 1)) if isinstance(r, Spend)
    ] == []


def test_a_billed_render_and_a_release_of_the_same_day_are_one_write() -> None:
    """Firestore writes a document once per commit: the increments are folded together."""
    day = spend.day_key(NOW)
    (write,) = encode_all([Spend(day, 6.0), Spend(day, 0.0, released_usd=6.0)])
    assert (write.collection, write.doc_id, write.increment) == (SPEND, day, True)
    assert write.data == {"billedUsd": 6.0, "renders": 1, "reservedUsd": -6.0}
