"""generateVideo probed as an attacker would: odd claims, scripts built to slip past a human
reader (NUL, ESC, bidi overrides, zero-width text), and a requestId reused for another video.
Each gets a precise answer; nothing reaches a provider."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from shared.core.jobs import Job
from shared.core.model import Tier
from tests.support.harness import SCRIPT, Harness


def _job(harness: Harness, job_id: str) -> Job:
    job = harness.shell.ports.jobs.get(job_id)
    assert job is not None
    return job


def _stored_jobs(harness: Harness) -> int:
    return harness.shell.ports.docs.count("enhanced_video_jobs", where=[])


@pytest.mark.parametrize(
    "claim",
    [["premium"], {"tier": "premium"}, 3, None, "platinum"],
    ids=["list", "dict", "number", "null", "unknown"],
)
def test_a_malformed_tier_claim_is_the_free_tier_not_a_500(harness: Harness, claim: Any) -> None:
    answer = harness.call("generateVideo", {"script": SCRIPT}, claims={"tier": claim})
    assert answer.status == 200, answer.body
    assert _job(harness, answer.json["result"]["jobId"]).tier is Tier.FREE


def test_a_good_tier_claim_is_kept(harness: Harness) -> None:
    answer = harness.call("generateVideo", {"script": SCRIPT}, claims={"tier": "premium"})
    assert _job(harness, answer.json["result"]["jobId"]).tier is Tier.PREMIUM


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (SCRIPT[:40] + "\x00" + SCRIPT[40:], "contains U+0000"),
        ("\x1b[31m" + SCRIPT, "contains U+001B"),
        (SCRIPT[:30] + "\u202e" + SCRIPT[30:], "contains U+202E"),
        (SCRIPT + "\u2066hidden\u2069", "contains U+2066"),
        ("\u200b" * 40, "contains U+200B"),
        ("\ufeff" + SCRIPT, "contains U+FEFF"),
        (SCRIPT + "\ud800", "Input should be a valid string"),
        ("\u200c\u200d" * 20, "must hold at least 5 words"),
        ("!!!! ???? .... ---- ,,,, ;;;;", "must hold at least 5 words"),
        ("Hello there friend!!!!!!!", "must hold at least 5 words"),
    ],
    ids=[
        "NUL",
        "ESC",
        "RLO",
        "isolate",
        "zero-width-only",
        "BOM",
        "lone-surrogate",
        "joiners-only",
        "punctuation",
        "three-words",
    ],
)
def test_a_script_with_hidden_or_no_words_is_invalid_argument(
    harness: Harness, script: str, message: str
) -> None:
    answer = harness.call("generateVideo", {"script": script}, claims={})
    assert answer.status == 400, answer.body
    error = answer.error
    assert error["status"] == "INVALID_ARGUMENT"
    details = {d["field"]: d["message"] for d in error["details"]}
    assert details["script"].startswith(message), details
    assert _stored_jobs(harness) == 0


def test_cv_fields_never_carry_hidden_characters_to_a_provider(harness: Harness) -> None:
    """A CV is read, not refused: its control and bidi characters are dropped."""
    cv = {"personalInfo": {"name": "Ada\u202e Lovelace"}, "skills": ["Py\x00thon", "Go"]}
    answer = harness.call("generateVideo", {"parsedCV": cv}, claims={})
    assert answer.status == 200, answer.body
    script = _job(harness, answer.json["result"]["jobId"]).script
    assert "Ada Lovelace" in script
    assert "Python" in script
    assert "\u202e" not in script
    assert "\x00" not in script


def test_a_script_is_stored_in_nfc_and_line_breaks_are_fine(harness: Harness) -> None:
    decomposed = "Cafe\u0301 owner turned engineer.\nI build\treliable data pipelines."
    answer = harness.call("generateVideo", {"script": decomposed}, claims={})
    assert answer.status == 200, answer.body
    script = _job(harness, answer.json["result"]["jobId"]).script
    assert script.startswith("Café owner")
    assert unicodedata.is_normalized("NFC", script)


def test_scripts_in_other_languages_are_welcome(harness: Harness) -> None:
    for script in (
        "こんにちは、私はエイダです。データ基盤を作っています。",
        "سلام، من آدا هستم و می\u200cخواهم درباره کارم صحبت کنم.",  # noqa: RUF001 - Persian, on purpose
        "Привет, я Ада, инженер данных из Лондона.",
    ):
        answer = harness.call("generateVideo", {"script": script}, claims={})
        assert answer.status == 200, (script, answer.body)


def test_a_reused_request_id_with_another_script_is_already_exists_naming_the_job(
    harness: Harness,
) -> None:
    first = harness.call("generateVideo", {"script": SCRIPT, "requestId": "req-000001"}, {})
    job_id = first.json["result"]["jobId"]
    again = harness.call("generateVideo", {"script": SCRIPT, "requestId": "req-000001"}, {})
    assert again.json["result"] == {"jobId": job_id, "status": "queued", "deduplicated": True}

    other = SCRIPT.replace("Ada", "Eve")
    answer = harness.call("generateVideo", {"script": other, "requestId": "req-000001"}, {})
    assert answer.status == 409, answer.body
    error = answer.error
    assert error["status"] == "ALREADY_EXISTS"
    assert job_id in error["message"]
    assert error["details"] == {"jobId": job_id, "field": "requestId"}
    assert _job(harness, job_id).script == SCRIPT

    options = {"script": SCRIPT, "requestId": "req-000001", "options": {"duration": "short"}}
    assert harness.call("generateVideo", options, {}).status == 409


def test_a_reused_request_id_is_checked_at_the_hourly_limit_too(harness: Harness) -> None:
    harness.choose(user_jobs_per_hour=1)
    harness.call("generateVideo", {"script": SCRIPT, "requestId": "req-000002"}, {})
    same = harness.call("generateVideo", {"script": SCRIPT, "requestId": "req-000002"}, {})
    assert same.status == 200
    other = SCRIPT + " Thanks."
    answer = harness.call("generateVideo", {"script": other, "requestId": "req-000002"}, {})
    assert answer.error["status"] == "ALREADY_EXISTS"


def test_the_same_request_id_from_another_user_is_another_job(harness: Harness) -> None:
    data = {"script": SCRIPT, "requestId": "req-000003"}
    mine = harness.call("generateVideo", data, {"uid": "user-a"}).json["result"]
    theirs = harness.call(
        "generateVideo", {**data, "script": SCRIPT + " Bye."}, {"uid": "user-b"}
    ).json["result"]
    assert mine["jobId"] != theirs["jobId"]
    assert not theirs["deduplicated"]


@pytest.mark.parametrize("name", ["generateVideo", "systemDashboard", "setCircuitState"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"data":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"data": {"script": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}}",
    ],
    ids=["array", "object"],
)
def test_deeply_nested_json_to_a_callable_is_invalid_argument(
    harness: Harness, name: str, body: bytes
) -> None:
    """The firebase-functions wrapper answered these 500 INTERNAL."""
    answer = harness.post(name, body, headers={"Authorization": "Bearer none"})
    assert answer.status == 400, answer.body
    assert answer.error == {"status": "INVALID_ARGUMENT", "message": "JSON nested too deeply"}
    assert _stored_jobs(harness) == 0


def test_the_guard_keeps_what_deployment_reads() -> None:
    from functions.admin import setCircuitState
    from functions.generate import generateVideo

    for fn in (generateVideo, setCircuitState):
        endpoint = fn.__firebase_endpoint__  # type: ignore[attr-defined]
        assert endpoint.callableTrigger is not None
