"""The per-user limit cannot be outrun by a burst: 50 simultaneous generateVideo calls from one
user with a limit of 10 create exactly 10 jobs (before: all 50, the count was read before the
creates). The same race on Google's emulator is in tests/contract/test_stores.py."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from shared.adapters.stores.base import JOBS, QUOTAS
from tests.support.harness import SCRIPT, Harness


def test_a_burst_of_fifty_calls_from_one_user_creates_exactly_the_limit(
    harness: Harness,
) -> None:
    harness.choose(user_jobs_per_hour=10)
    harness.tokens["burst"] = {"uid": "burst-user"}
    gate = threading.Barrier(50)

    def one(i: int) -> tuple[int, str]:
        body = json.dumps({"data": {"script": SCRIPT, "requestId": f"burst-{i:04d}"}}).encode()
        gate.wait()
        answer = harness.post("generateVideo", body, headers={"Authorization": "Bearer burst"})
        return answer.status, "" if answer.status == 200 else answer.error["message"]

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))

    assert sum(status == 200 for status, _ in answers) == 10
    refused = [message for status, message in answers if status == 429]
    assert len(refused) == 40
    assert all("the limit is 10 per hour" in message for message in refused)
    jobs = [d for d in harness.db.coll(JOBS).values() if d["userId"] == "burst-user"]
    assert len(jobs) == 10
    assert harness.db.coll(QUOTAS)["burst-user"]["hourCount"] == 10


def test_the_refusal_says_when_the_limit_resets(harness: Harness) -> None:
    harness.choose(user_jobs_per_hour=1)
    assert harness.call("generateVideo", {"script": SCRIPT}, {"uid": "u2"}).status == 200
    refused = harness.call("generateVideo", {"script": SCRIPT + " Again."}, {"uid": "u2"})
    assert refused.error["status"] == "RESOURCE_EXHAUSTED"
    assert "resets at" in refused.error["message"]
