"""videoJobTask: only the tasks' service account may invoke it, and whatever body reaches it
gets a precise 4xx (Cloud Tasks retries a 5xx, so a crash would be retried for 30 minutes)."""

from __future__ import annotations

import json

import pytest

from functions import runtime
from shared.adapters.tasks import task_token
from tests.support.harness import INTERNAL_SECRET, Harness

JOB = "vj_" + "a" * 32


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b'"vj_x"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"7", "not a JSON object"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"", "not JSON"),
        (b"[" * 2000 + b"]" * 2000, "not JSON"),
        (json.dumps({"jobId": JOB, "token": 12345}).encode(), "token"),
        (json.dumps({"jobId": JOB, "token": ["a"]}).encode(), "token"),
        (json.dumps({"jobId": JOB, "token": {"a": 1}}).encode(), "token"),
        (json.dumps({"jobId": JOB}).encode(), "token"),
        (json.dumps({"jobId": 7, "token": "x"}).encode(), "jobId"),
        (json.dumps({"jobId": "", "token": "x"}).encode(), "jobId"),
        (json.dumps({"jobId": "j" * 201, "token": "x"}).encode(), "jobId"),
        (json.dumps({"jobId": JOB, "token": "x", "reason": 5}).encode(), "reason"),
    ],
)
def test_a_malformed_task_body_is_a_400(harness: Harness, body: bytes, why: str) -> None:
    answer = harness.post("videoJobTask", body)
    assert answer.status == 400, answer.body
    assert why in answer.body.decode()


def test_a_huge_body_is_refused_unread(harness: Harness) -> None:
    assert harness.post("videoJobTask", b" " * 100_000).status == 413


def test_a_wrong_token_is_a_401_and_a_signed_task_runs(harness: Harness) -> None:
    wrong = json.dumps({"jobId": JOB, "token": "0" * 64}).encode()
    assert harness.post("videoJobTask", wrong).status == 401
    signed = {"jobId": JOB, "token": task_token(INTERNAL_SECRET.encode(), JOB), "reason": "t"}
    answer = harness.post("videoJobTask", json.dumps(signed).encode())
    assert answer.status == 200  # an unknown job: nothing to do, said plainly
    assert b"not due, taken or finished" in answer.body


def test_only_post(harness: Harness) -> None:
    assert harness.post("videoJobTask", b"", method="GET").status == 405


def test_the_deployed_function_is_invokable_only_by_the_tasks_service_account() -> None:
    from functions.jobs import videoJobTask

    trigger = videoJobTask.__firebase_endpoint__.httpsTrigger  # type: ignore[attr-defined]
    assert trigger.get("invoker") == [runtime.tasks_invoker(__import__("os").environ)]
    assert "public" not in trigger["invoker"]


def test_the_invoker_setting() -> None:
    """An account, or private in the emulator and tests; unset where it deploys or runs: refused."""
    account = "cvplus-tasks@demo-cvplus.iam.gserviceaccount.com"
    assert runtime.tasks_invoker({"CVPLUS_TASKS_SERVICE_ACCOUNT": account}) == account
    assert runtime.tasks_invoker({}) == "private"
    assert runtime.tasks_invoker({"CVPLUS_TASKS_SERVICE_ACCOUNT": "  "}) == "private"
    emulator = {"FUNCTIONS_EMULATOR": "true", "ADMIN_PORT": "8081", "K_SERVICE": "videoJobTask"}
    assert runtime.tasks_invoker(emulator) == "private"
    for deployed in ({"ADMIN_PORT": "8081"}, {"K_SERVICE": "videoJobTask"}):
        with pytest.raises(ValueError, match="CVPLUS_TASKS_SERVICE_ACCOUNT is unset"):
            runtime.tasks_invoker(deployed)
    for bad in ("public", "not an email", "allUsers"):
        with pytest.raises(ValueError, match="CVPLUS_TASKS_SERVICE_ACCOUNT"):
            runtime.tasks_invoker({"CVPLUS_TASKS_SERVICE_ACCOUNT": bad})
