"""The pure rules behind the handlers' answers: what counts as a word, which characters are
refused, what makes two requests the same, what a task body must be."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from shared.adapters.tasks import InvalidTaskError, parse_task
from shared.api.requests import clean_text, real_words, tier_from_claim
from shared.core.jobs import Job, RequestReusedError, request_fingerprint, same_request
from shared.core.model import Duration, Feature, VideoOptions


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, I am Ada.", 4),
        ("!!! ??? ...", 0),
        ("In 2019 I moved", 4),
        ("データ基盤", 5),
        ("私は Ada です", 5),
        ("\u200c\u200d \u200d", 0),
        ("", 0),
    ],
)
def test_real_words(text: str, words: int) -> None:
    assert real_words(text) == words


def test_clean_text_composes_to_nfc() -> None:
    assert clean_text("Cafe\u0301") == "Café"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\u202e", "\u200b", "\ue000"])
def test_clean_text_names_the_refused_character(char: str) -> None:
    with pytest.raises(PydanticCustomError) as refused:
        clean_text(f"abc{char}def")
    assert f"U+{ord(char):04X}" in str(refused.value)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"])))
def test_clean_text_accepts_any_letters_digits_punctuation_and_spaces(text: str) -> None:
    import unicodedata

    assert clean_text(text) == unicodedata.normalize("NFC", text)


def test_the_fingerprint_is_stable_and_sees_every_field() -> None:
    base = request_fingerprint("a script", VideoOptions(), "cv-1")
    assert base == request_fingerprint("a script", VideoOptions(), "cv-1")
    reordered = VideoOptions(features=frozenset([Feature.LIP_SYNC, Feature.VOICE]))
    assert base == request_fingerprint("a script", reordered, "cv-1")
    others = [
        request_fingerprint("a script!", VideoOptions(), "cv-1"),
        request_fingerprint("a script", VideoOptions(duration=Duration.LONG), "cv-1"),
        request_fingerprint("a script", VideoOptions(allow_fallback=False), "cv-1"),
        request_fingerprint("a script", VideoOptions(), None),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


def test_same_request() -> None:
    job = Job(job_id="vj_1", created_at=0, deadline_at=1, request_id="r" * 8)
    assert same_request(job, "anything") is job  # made before fingerprints were kept
    kept = Job(**{**_fields(job), "request_fingerprint": "sha256:a"})
    assert same_request(kept, "sha256:a") is kept
    with pytest.raises(RequestReusedError, match="vj_1"):
        same_request(kept, "sha256:b")


def _fields(job: Job) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(job, f.name) for f in fields(job)}


@pytest.mark.parametrize(
    ("claim", "tier"),
    [("premium", "premium"), ("free", "free"), ("gold", None), (["premium"], None), ({}, None)],
)
def test_tier_from_claim(claim: object, tier: str | None) -> None:
    found = tier_from_claim(claim)
    assert (found.value if found else None) == tier


def test_parse_task_keeps_a_good_body() -> None:
    task = parse_task(b'{"jobId": "vj_1", "token": "t", "reason": "poll", "extra": 1}')
    assert (task.job_id, task.token, task.reason) == ("vj_1", "t", "poll")


@given(st.binary(max_size=300))
def test_parse_task_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(InvalidTaskError):
        parse_task(raw)
