"""The generateVideo request: what is accepted, every rejection with its field, defaults, the
conversion to VideoOptions, and the deterministic script template."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api.requests import (
    InvalidRequestError,
    ParsedCV,
    parse_generate_video,
    script_from_cv,
)
from shared.core.model import (
    AspectRatio,
    AvatarStyle,
    Duration,
    QualityLevel,
    Resolution,
    Style,
    Urgency,
    VideoOptions,
)

SCRIPT = "Hello, I build reliable video pipelines for CVPlus."
CV: dict[str, Any] = {
    "personalInfo": {"name": "Ada Lovelace", "email": "ada@example.org"},
    "summary": "I design analytical engines. I turn numbers into poetry.",
    "skills": ["Python", "Mathematics", "Leadership"],
    "experience": [
        {"position": "Lead Engineer", "company": "Babbage Ltd", "startDate": "2019"},
        {"role": "Analyst", "company": "Royal Society", "startDate": "2015", "endDate": "2019"},
    ],
}


def _details(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as caught:
        parse_generate_video(data)
    return {d["field"]: d["message"] for d in caught.value.details}


def test_a_script_alone_is_a_complete_request_with_every_default() -> None:
    """Only a script: options take the defaults of DESIGN section 3, fallback allowed."""
    request = parse_generate_video({"script": SCRIPT})
    assert request.effective_script() == SCRIPT
    assert request.request_id is None
    assert request.cv_job_id is None
    assert request.video_options() == VideoOptions()


def test_every_option_converts_to_the_domain_value() -> None:
    """Each camelCase option lands in VideoOptions as its enum."""
    request = parse_generate_video(
        {
            "requestId": "req_2026-11-29",
            "cvJobId": "cv-42",
            "script": SCRIPT,
            "options": {
                "duration": "long",
                "style": "energetic",
                "avatarStyle": "illustrated",
                "urgency": "critical",
                "qualityLevel": "premium",
                "resolution": "720p",
                "aspectRatio": "9:16",
                "allowFallback": False,
            },
        }
    )
    assert request.request_id == "req_2026-11-29"
    assert request.cv_job_id == "cv-42"
    assert request.video_options() == VideoOptions(
        duration=Duration.LONG,
        style=Style.ENERGETIC,
        avatar_style=AvatarStyle.ILLUSTRATED,
        urgency=Urgency.CRITICAL,
        quality_level=QualityLevel.PREMIUM,
        resolution=Resolution.P720,
        aspect_ratio=AspectRatio.PORTRAIT,
        allow_fallback=False,
    )


def test_a_script_is_trimmed() -> None:
    """Surrounding whitespace is not part of what the avatar says."""
    assert parse_generate_video({"script": f"  {SCRIPT}\n"}).effective_script() == SCRIPT


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (None, "data", "must be an object"),
        ([], "data", "must be an object"),
        ({}, "script", "either script or parsedCV is required"),
        ({"options": {"duration": "short"}}, "script", "either script or parsedCV is required"),
        ({"script": "x" * 19}, "script", "String should have at least 20 characters"),
        ({"script": " " * 30}, "script", "String should have at least 20 characters"),
        ({"script": "x" * 5001}, "script", "String should have at most 5000 characters"),
        ({"script": 12345678901234567890}, "script", "Input should be a valid string"),
        ({"script": SCRIPT, "requestId": "short"}, "requestId", "must be 8-128 characters"),
        ({"script": SCRIPT, "requestId": "x" * 129}, "requestId", "must be 8-128 characters"),
        ({"script": SCRIPT, "requestId": "has space"}, "requestId", "must be 8-128 characters"),
        ({"script": SCRIPT, "requestId": "ünïcödé-id"}, "requestId", "must be 8-128 characters"),
        ({"script": SCRIPT, "requestId": 123456789}, "requestId", "Input should be a valid string"),
        ({"script": SCRIPT, "cvJobId": ""}, "cvJobId", "String should have at least 1 character"),
        ({"script": SCRIPT, "userId": "someone-else"}, "userId", "unknown field"),
        ({"script": SCRIPT, "options": {"speed": 2}}, "options.speed", "unknown field"),
        ({"script": SCRIPT, "options": "fast"}, "options", "must be an object"),
        (
            {"script": SCRIPT, "options": {"duration": "90"}},
            "options.duration",
            "Input should be 'short', 'medium' or 'long'",
        ),
        (
            {"script": SCRIPT, "options": {"resolution": "4k"}},
            "options.resolution",
            "Input should be '720p' or '1080p'",
        ),
        (
            {"script": SCRIPT, "options": {"allowFallback": "yes"}},
            "options.allowFallback",
            "Input should be a valid boolean",
        ),
        (
            {"script": SCRIPT, "options": {"allow_fallback": False}},
            "options.allow_fallback",
            "unknown field",
        ),
        (
            {"parsedCV": {"skills": [], "experience": []}},
            "parsedCV",
            "parsedCV holds too little to write a script from",
        ),
    ],
)
def test_a_bad_request_names_the_field_and_the_reason(data: Any, field: str, message: str) -> None:
    """Each rejection carries {field, message} as the client spells the field."""
    details = _details(data)
    assert field in details, details
    assert details[field].startswith(message)


def test_every_bad_field_is_reported_together() -> None:
    """Three mistakes at three levels: three details, in one answer."""
    data = {
        "script": SCRIPT,
        "requestId": "bad id",
        "options": {"urgency": "asap", "duration": 5},
    }
    assert set(_details(data)) == {"requestId", "options.urgency", "options.duration"}


def test_details_never_echo_the_input() -> None:
    """A rejected request's contents do not travel back in the error (or into logs)."""
    with pytest.raises(InvalidRequestError) as caught:
        parse_generate_video({"parsedCV": CV, "script": "+44 20 7946 0958 \x00 a b c d e"})
    assert "7946" not in str(caught.value.details)
    assert all(set(d) == {"field", "message"} for d in caught.value.details)


def test_a_parsed_cv_without_script_gets_the_template_script() -> None:
    """No script: the one written from parsedCV for the requested duration and style."""
    request = parse_generate_video({"parsedCV": CV, "options": {"duration": "short"}})
    assert request.effective_script() == script_from_cv(
        ParsedCV.model_validate(CV), Duration.SHORT, Style.PROFESSIONAL
    )


def test_a_sent_script_wins_over_the_parsed_cv() -> None:
    """Both given: the user's own words are used."""
    assert parse_generate_video({"script": SCRIPT, "parsedCV": CV}).effective_script() == SCRIPT


def test_the_request_is_immutable() -> None:
    """A parsed request is a value: handlers cannot change it on the way."""
    request = parse_generate_video({"script": SCRIPT})
    with pytest.raises(ValueError, match="frozen"):
        request.script = "changed"  # type: ignore[misc]
