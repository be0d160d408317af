"""The `generateVideo` request (DESIGN section 3) as a strict pydantic model, the per-field error
details for an `invalid-argument` HttpsError, and the deterministic script template.

    request = parse_generate_video(data)      # InvalidRequestError: .details [{field, message}]
    options = request.video_options()         # shared.model.VideoOptions
    script = request.effective_script()       # the script, or one written from parsedCV

Unknown fields are rejected at every level. Bounds the design leaves open (lengths of CV fields,
list sizes) are ours, sized so a whole request stays far below the callable's payload limit.

Every text is normalised to NFC and refused if it holds a control character (NUL, ESC...; tab
and line breaks are fine) or an invisible formatting one (bidi overrides such as U+202E, zero-width
spaces; ZWNJ and ZWJ are kept, they are part of spelling in several scripts): such text would be
sent as is to paid providers. A script must also hold at least SCRIPT_MIN_WORDS real words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.model import (
    AspectRatio,
    AvatarStyle,
    Duration,
    QualityLevel,
    Resolution,
    Style,
    Tier,
    Urgency,
    VideoOptions,
)

SCRIPT_MIN_CHARS = 20
SCRIPT_MAX_CHARS = 5000
SCRIPT_MIN_WORDS = 5
# About 2.5 spoken words per second: 30/60/90 s -> 75/150/225 words.
WORD_BUDGET = {Duration.SHORT: 75, Duration.MEDIUM: 150, Duration.LONG: 225}

# Line breaks and tabs are whitespace in a script; ZWNJ and ZWJ join letters (Persian, Hindi,
# emoji sequences). Every other control (Cc), format (Cf), surrogate (Cs) or private-use (Co)
# character is refused.
_ALLOWED_CONTROLS = frozenset("\t\n\r\u200c\u200d")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# Scripts written without spaces between words: each of these characters counts as a word.
_IDEOGRAPHIC = ("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA")


def clean_text(value: str) -> str:
    """``value`` in NFC; PydanticCustomError ``text_control`` naming the first character that
    is a control or invisible formatting character."""
    value = unicodedata.normalize("NFC", value)
    for char in value:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise PydanticCustomError(
                "text_control",
                "contains {char}, a control or invisible formatting character",
                {"char": f"U+{ord(char):04X}"},
            )
    return value


def real_words(text: str) -> int:
    """Words with something to say: whitespace-separated tokens holding a letter or a digit
    (punctuation alone is not a word); in Chinese and Japanese, each ideograph or kana."""
    count = 0
    for token in text.split():
        ideographs = sum(1 for c in token if unicodedata.name(c, "").startswith(_IDEOGRAPHIC))
        if ideographs:
            count += ideographs
        elif any(c.isalnum() for c in token):
            count += 1
    return count


def _spoken(value: str) -> str:
    if real_words(value) < SCRIPT_MIN_WORDS:
        raise PydanticCustomError(
            "script_words", "must hold at least {min} words", {"min": SCRIPT_MIN_WORDS}
        )
    return value


_Clean = AfterValidator(clean_text)

Text = Annotated[str, StringConstraints(strip_whitespace=True, strict=True), _Clean]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, strict=True, max_length=200), _Clean
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, strict=True, max_length=5000), _Clean
]
RequestId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]{8,128}$")]
CvJobId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, strict=True, min_length=1, max_length=128),
    _Clean,
]
Script = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        strict=True,
        min_length=SCRIPT_MIN_CHARS,
        max_length=SCRIPT_MAX_CHARS,
    ),
    _Clean,
    AfterValidator(_spoken),
]
Skill = Annotated[
    str,
    StringConstraints(strip_whitespace=True, strict=True, min_length=1, max_length=100),
    _Clean,
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Experience(_Strict):
    """One position on the CV."""

    title: ShortText = ""
    company: ShortText = ""
    start_date: ShortText = Field("", alias="startDate")
    end_date: ShortText = Field("", alias="endDate")  # empty: the current position
    description: LongText = ""


class ParsedCV(_Strict):
    name: ShortText = ""
    title: ShortText = ""
    summary: LongText = ""
    skills: tuple[Skill, ...] = Field((), max_length=100)
    experience: tuple[Experience, ...] = Field((), max_length=50)


class Options(_Strict):
    duration: Literal["short", "medium", "long"] = "medium"
    style: Literal["professional", "friendly", "energetic"] = "professional"
    avatar_style: Literal["realistic", "corporate", "illustrated"] = Field(
        "realistic", alias="avatarStyle"
    )
    urgency: Literal["low", "normal", "high", "critical"] = "normal"
    quality_level: Literal["standard", "premium"] = Field("standard", alias="qualityLevel")
    resolution: Literal["720p", "1080p"] = "1080p"
    aspect_ratio: Literal["16:9", "9:16"] = Field("16:9", alias="aspectRatio")
    allow_fallback: StrictBool = Field(True, alias="allowFallback")


class GenerateVideoRequest(_Strict):
    request_id: RequestId | None = Field(None, alias="requestId")
    cv_job_id: CvJobId | None = Field(None, alias="cvJobId")
    script: Script | None = None
    parsed_cv: ParsedCV | None = Field(None, alias="parsedCV")
    options: Options = Options.model_validate({})

    @model_validator(mode="after")
    def _needs_something_to_say(self) -> GenerateVideoRequest:
        if self.script is None and self.parsed_cv is None:
            raise PydanticCustomError("script_or_cv", "either script or parsedCV is required")
        if self.script is None and self.parsed_cv is not None:
            written = script_from_cv(self.parsed_cv, _duration(self.options), _style(self.options))
            if len(written) < SCRIPT_MIN_CHARS:
                raise PydanticCustomError(
                    "cv_too_thin", "parsedCV holds too little to write a script from"
                )
            if len(written) > SCRIPT_MAX_CHARS:  # only with absurdly long words
                raise PydanticCustomError(
                    "cv_script", "parsedCV yields a script over 5000 characters"
                )
        return self

    def video_options(self) -> VideoOptions:
        o = self.options
        return VideoOptions(
            duration=_duration(o),
            style=_style(o),
            avatar_style=AvatarStyle(o.avatar_style),
            urgency=Urgency(o.urgency),
            quality_level=QualityLevel(o.quality_level),
            resolution=Resolution(o.resolution),
            aspect_ratio=AspectRatio(o.aspect_ratio),
            allow_fallback=o.allow_fallback,
        )

    def effective_script(self) -> str:
        """The script as sent, or the template's script from parsedCV for the duration."""
        if self.script is not None:
            return self.script
        assert self.parsed_cv is not None  # the validator guarantees one of the two
        return script_from_cv(self.parsed_cv, _duration(self.options), _style(self.options))


def _duration(options: Options) -> Duration:
    return Duration(options.duration)


def _style(options: Options) -> Style:
    return Style(options.style)


class InvalidRequestError(ValueError):
    """The request is malformed; `details` is the HttpsError `invalid-argument` details list."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))


def parse_generate_video(data: Any) -> GenerateVideoRequest:
    """Validate the callable's ``data``; `InvalidRequestError` has one detail per bad field."""
    try:
        return GenerateVideoRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequestError(error_details(exc)) from None


# Root-level errors belong to a field the user can fix.
_ROOT_FIELD = {"script_or_cv": "script", "cv_too_thin": "parsedCV", "cv_script": "parsedCV"}


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    """[{field, message}] for each error, fields as the client spells them ("options.duration",
    "parsedCV.skills.2"). Never echoes the input (it may be a whole CV)."""
    details: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=True):
        loc = [str(part) for part in error["loc"]]
        if error["type"] in _ROOT_FIELD and not loc:
            loc = [_ROOT_FIELD[error["type"]]]
        field = ".".join(loc) if loc else "data"
        details.append({"field": field, "message": _message(error["type"], error["msg"])})
    return details


def tier_from_claim(claim: object) -> Tier | None:
    """The tier a ``tier`` custom claim names, or None when it names none: absent, an unknown
    name, or not a string at all (a list or an object set by mistake)."""
    if isinstance(claim, str) and claim in Tier._value2member_map_:
        return Tier(claim)
    return None


def _message(kind: str, pydantic_message: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "model_type":
        return "must be an object"
    if kind == "string_pattern_mismatch":  # only requestId has a pattern
        return "must be 8-128 characters of A-Z, a-z, 0-9, _ or -"
    return pydantic_message


# ---------------------------------------------------------------------------------------------
# The script template: whole sentences in a fixed order, each kept only if it fits the budget.

_OPENING = {
    Style.PROFESSIONAL: "Hello, I'm {name}",
    Style.FRIENDLY: "Hi there, I'm {name}",
    Style.ENERGETIC: "Hey! I'm {name}",
}
_CLOSING = {
    Style.PROFESSIONAL: "Thank you for watching; I look forward to connecting.",
    Style.FRIENDLY: "Thanks for watching, and I'd love to hear from you!",
    Style.ENERGETIC: "Thanks for watching, let's build something great together!",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def script_from_cv(cv: ParsedCV, duration: Duration, style: Style = Style.PROFESSIONAL) -> str:
    """A spoken introduction from ``cv`` of at most WORD_BUDGET[duration] words.

    Order: who (name, title), the summary's sentences, the current then earlier positions, the
    skills, a closing line. A sentence that does not fit is left out whole (a summary stops at
    its first sentence that does not fit, so it never skips ahead); only an opening longer than
    the whole budget is cut. Same CV, duration and style: same script.
    """
    budget = WORD_BUDGET[duration]
    closing = _CLOSING[style]
    parts: list[str] = []
    used = 0

    def add(sentence: str, reserve: int = 0) -> bool:
        nonlocal used
        words = len(sentence.split())
        if not words or used + words + reserve > budget:
            return False
        parts.append(sentence)
        used += words
        return True

    reserve = len(closing.split())
    opening = _opening(cv, style)
    if opening:
        if len(opening.split()) + reserve > budget:
            opening = " ".join(opening.split()[: budget - reserve])
        add(opening, reserve)
    for sentence in _SENTENCE_END.split(" ".join(cv.summary.split())):
        if not add(_terminated(sentence), reserve):
            break
    for index, job in enumerate(cv.experience):
        add(_position(job, first=index == 0), reserve)
    _add_skills(cv.skills, budget - used - reserve, parts)
    if not parts:
        return ""
    parts.append(closing)
    return " ".join(parts)


def _opening(cv: ParsedCV, style: Style) -> str:
    if not cv.name and not cv.title:
        return ""
    if not cv.name:
        return f"Hello, I'm a {cv.title}."
    opening = _OPENING[style].format(name=cv.name)
    return f"{opening}, {_article(cv.title)} {cv.title}." if cv.title else f"{opening}."


def _position(job: Experience, *, first: bool) -> str:
    if not job.title and not job.company:
        return ""
    role = job.title or "a role"
    where = f" at {job.company}" if job.company else ""
    current = first and not job.end_date
    since = f" since {job.start_date}" if current and job.start_date else ""
    if current:
        lead = "I currently work as"
    else:
        lead = "Most recently I worked as" if first else "Before that I was"
    return f"{lead} {role}{where}{since}."


def _add_skills(skills: tuple[str, ...], room: int, parts: list[str]) -> None:
    """The longest prefix of the skills list that fits in ``room`` words, as one sentence."""
    for count in range(len(skills), 0, -1):
        listed = list(skills[:count])
        joined = listed[0] if count == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"
        sentence = f"My key skills include {joined}."
        if len(sentence.split()) <= room:
            parts.append(sentence)
            return


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _terminated(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if not sentence or sentence[-1] in ".!?" else f"{sentence}."
