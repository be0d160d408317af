"""The CVPlus web app's parsed CV (its ``ParsedCV`` type, as the app publishes it) and the spoken
introduction written from it. Pure: no I/O.

    cv = parse_cv(data)                       # pydantic ValidationError on a bad field
    script = script_from_cv(cv, Duration.MEDIUM, Style.FRIENDLY)

What the app declares is accepted as it spells it: ``personalInfo`` or its alias ``personal``,
``experience[].position`` or its alias ``role``, ``skills`` as a list or as an object of
categories. Fields the app may add later are ignored, not refused (the app and this backend are
deployed apart). Every text is cleaned like a script (NFC, no control or invisible formatting
character) and every text and list is capped, so a whole CV stays far below a callable's limit.

The script reads like the person introducing themselves, in a fixed order - who, what they do
now, what they did before, what they are good at, something personal, a closing line - and fits
the requested duration at about 2.5 spoken words a second (WORD_BUDGET). A sentence that does not
fit is left out whole; same CV, duration and style, same script.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from shared.core.model import Duration, Style
from shared.core.refusals import InvalidRequest
from shared.core.text import clean_text, real_words

# About 2.5 spoken words per second: 30/60/90 s -> 75/150/225 words.
WORDS_PER_SECOND = 2.5
WORD_BUDGET = {d: int(d.seconds * WORDS_PER_SECOND) for d in Duration}
# A script may run this much over its duration's budget (people speak at different speeds, and
# a sentence is not cut in half); past it, it is refused: a longer script is a longer video,
# billed by the second, that the tier did not pay for.
SCRIPT_SLACK = 0.10
WORD_LIMIT = {d: math.ceil(n * (1 + SCRIPT_SLACK)) for d, n in WORD_BUDGET.items()}


class ScriptTooLongError(InvalidRequest):
    """A script with more words than its duration allows (`WORD_LIMIT`)."""

    def __init__(self, duration: Duration, words: int) -> None:
        limit = WORD_LIMIT[duration]
        super().__init__(
            f"the script has {words} words; a {duration.value} video "
            f"({duration.seconds} s) allows {limit} ({WORD_BUDGET[duration]} words "
            f"+ {SCRIPT_SLACK:.0%})",
            {"field": "script", "words": words, "budget": limit},
        )


def check_length(script: str, duration: Duration) -> None:
    """ScriptTooLongError when ``script`` has more spoken words than ``duration`` allows."""
    words = real_words(script)
    if words > WORD_LIMIT[duration]:
        raise ScriptTooLongError(duration, words)


_Clean = AfterValidator(clean_text)


_Trim = StringConstraints(strip_whitespace=True, strict=True, max_length=200)
Short = Annotated[str, _Trim, _Clean]
_Trim1k = StringConstraints(strip_whitespace=True, strict=True, max_length=1000)
_Trim5k = StringConstraints(strip_whitespace=True, strict=True, max_length=5000)
Medium = Annotated[str, _Trim1k, _Clean]
Long = Annotated[str, _Trim5k, _Clean]
_NoneIsEmpty = BeforeValidator(lambda v: () if v is None else v)  # the app writes null sections
Words = Annotated[tuple[Short, ...], Field(max_length=100), _NoneIsEmpty]


class _Lenient(BaseModel):
    """Fields the app may add later are ignored; the ones declared are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class PersonalInfo(_Lenient):
    name: Short = ""
    email: Short = ""
    phone: Short = ""
    address: Medium = ""
    summary: Long = ""
    linkedin: Short = ""
    github: Short = ""
    website: Short = ""
    photo: Medium = ""
    age: Annotated[int, Field(ge=0, le=150, strict=True)] | None = None
    marital_status: Short = Field("", alias="maritalStatus")
    gender: Short = ""
    nationality: Short = ""
    # Not in the app's type, but what a headline is usually parsed into.
    title: Short = ""


class Experience(_Lenient):
    company: Short = ""
    position: Short = ""
    role: Short = ""  # the app's alias of position
    duration: Short = ""
    start_date: Short = Field("", alias="startDate")
    end_date: Short = Field("", alias="endDate")  # empty: the current position
    description: Long = ""
    achievements: Annotated[tuple[Medium, ...], Field(max_length=50), _NoneIsEmpty] = ()
    technologies: Words = ()

    @property
    def title(self) -> str:
        return self.position or self.role

    @property
    def current(self) -> bool:
        return not self.end_date or self.end_date.lower() in ("present", "current", "now")


class Education(_Lenient):
    institution: Short = ""
    degree: Short = ""
    field: Short = ""
    graduation_date: Short = Field("", alias="graduationDate")
    start_date: Short = Field("", alias="startDate")
    end_date: Short = Field("", alias="endDate")
    gpa: Short = ""
    honors: Words = ()
    description: Long = ""


class Skills(_Lenient):
    """The object form of ``skills``: named categories of skills. Categories the app adds
    later (it already reads frontend, backend, cloud ...) are kept, as lists of words."""

    model_config = ConfigDict(extra="allow", frozen=True)
    technical: Words = ()
    soft: Words = ()
    languages: Words = ()
    tools: Words = ()

    @model_validator(mode="after")
    def _extra_categories(self) -> Skills:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > 20:
            raise ValueError("at most 20 skill categories")
        for name, value in extra.items():
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                extra[name] = ()  # an unknown category not shaped as words: ignored
            else:
                extra[name] = tuple(clean_text(v.strip())[:200] for v in value[:100] if v.strip())
        return self

    def ordered(self) -> tuple[str, ...]:
        """Every skill once, technical ones first, then the other categories, soft last."""
        extra = self.__pydantic_extra__ or {}
        groups = [self.technical, *(tuple(v) for v in extra.values()), self.tools, self.soft]
        return _unique(s for group in groups for s in group)


class Certification(_Lenient):
    name: Short = ""
    issuer: Short = ""
    date: Short = ""
    credential_id: Short = Field("", alias="credentialId")


class Project(_Lenient):
    name: Short = ""
    description: Long = ""
    technologies: Words = ()
    url: Medium = ""


class Publication(_Lenient):
    title: Medium = ""
    publication: Short = ""
    date: Short = ""
    url: Medium = ""


class Language(_Lenient):
    language: Short = ""
    proficiency: Short = ""


class Reference(_Lenient):
    name: Short = ""
    title: Short = ""
    position: Short = ""
    company: Short = ""
    email: Short = ""
    phone: Short = ""
    contact: Short = ""


def _skills_form(value: Any) -> str:
    """``skills`` is a list of words, or an object of categories of words."""
    return "object" if isinstance(value, dict | Skills) else "list"


class ParsedCV(_Lenient):
    personal_info: PersonalInfo | None = Field(None, alias="personalInfo")
    personal: PersonalInfo | None = None  # the app's alias of personalInfo
    experience: Annotated[tuple[Experience, ...], Field(max_length=50), _NoneIsEmpty] = ()
    education: Annotated[tuple[Education, ...], Field(max_length=20), _NoneIsEmpty] = ()
    skills: Annotated[
        Annotated[Annotated[tuple[Short, ...], Field(max_length=200), _NoneIsEmpty], Tag("list")]
        | Annotated[Skills, Tag("object")],
        Discriminator(_skills_form),
    ] = ()
    achievements: Annotated[tuple[Medium, ...], Field(max_length=50), _NoneIsEmpty] = ()
    certifications: Annotated[tuple[Certification, ...], Field(max_length=50), _NoneIsEmpty] = ()
    projects: Annotated[tuple[Project, ...], Field(max_length=50), _NoneIsEmpty] = ()
    publications: Annotated[tuple[Publication, ...], Field(max_length=50), _NoneIsEmpty] = ()
    interests: Words = ()
    summary: Long = ""
    custom_sections: Annotated[dict[Short, Long], Field(max_length=20)] = Field(
        default_factory=dict, alias="customSections"
    )
    languages: Annotated[tuple[Language, ...], Field(max_length=30), _NoneIsEmpty] = ()
    references: Annotated[tuple[Reference, ...], Field(max_length=20), _NoneIsEmpty] = ()

    @property
    def person(self) -> PersonalInfo:
        return self.personal_info or self.personal or PersonalInfo.model_validate({})

    @property
    def about(self) -> str:
        return self.summary or self.person.summary

    def skill_list(self) -> tuple[str, ...]:
        if isinstance(self.skills, Skills):
            return self.skills.ordered()
        return _unique(self.skills)


def parse_cv(data: Any) -> ParsedCV:
    """The app's parsed CV; pydantic's ValidationError names a declared field that is wrong."""
    return ParsedCV.model_validate(data)


def _unique(items: Any) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return tuple(seen.values())


# ---------------------------------------------------------------------------------------------
# The script: whole sentences in a fixed order, each kept only if it fits the budget.

_GREETING = {
    Style.PROFESSIONAL: "Hello, I'm {name}",
    Style.FRIENDLY: "Hi there, I'm {name}",
    Style.ENERGETIC: "Hey! I'm {name}",
}
_ANONYMOUS = {
    Style.PROFESSIONAL: "Hello",
    Style.FRIENDLY: "Hi there",
    Style.ENERGETIC: "Hey there",
}
_CLOSING = {
    Style.PROFESSIONAL: "Thank you for watching; I look forward to connecting.",
    Style.FRIENDLY: "Thanks for watching, and I'd love to hear from you!",
    Style.ENERGETIC: "Thanks for watching, let's build something great together!",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def script_from_cv(cv: ParsedCV, duration: Duration, style: Style = Style.PROFESSIONAL) -> str:
    """A spoken first-person introduction of at most WORD_BUDGET[duration] words; empty when
    the CV says nothing to introduce.

    Order: greeting with name and headline, the summary's sentences (up to the first that does
    not fit, so it never skips ahead), the current position, earlier positions, the highest
    degree, the skills, one achievement, languages spoken, interests, a closing line. Only a
    greeting longer than the whole budget is cut.
    """
    budget = WORD_BUDGET[duration]
    closing = _CLOSING[style]
    reserve = len(closing.split())
    parts: list[str] = []
    used = 0

    def add(sentence: str) -> bool:
        nonlocal used
        words = len(sentence.split())
        if not words or used + words + reserve > budget:
            return False
        parts.append(sentence)
        used += words
        return True

    greeting = _greeting(cv, style)
    if len(greeting.split()) + reserve > budget:
        greeting = " ".join(greeting.split()[: budget - reserve])
    about = [_terminated(s) for s in _SENTENCE_END.split(" ".join(cv.about.split())) if s]
    headline = _headline(cv)
    positions = [_position(job, i, headline) for i, job in enumerate(cv.experience[:4])]
    body = [*positions, _education(cv), _achievement(cv), _languages(cv), _interests(cv)]
    if not any((about, any(body), cv.skill_list(), cv.person.name, _headline(cv))):
        return ""
    add(greeting)
    for sentence in about:
        if not add(sentence):
            break
    for sentence in positions:
        add(sentence)
    add(_education(cv))
    skills = _skills(cv.skill_list(), budget - used - reserve)
    add(skills)
    for sentence in (_achievement(cv), _languages(cv), _interests(cv)):
        add(sentence)
    parts.append(closing)
    return " ".join(parts)


def _headline(cv: ParsedCV) -> str:
    if cv.person.title:
        return cv.person.title
    for job in cv.experience[:1]:
        if job.current and job.title:
            return job.title
    return ""


def _greeting(cv: ParsedCV, style: Style) -> str:
    name = cv.person.name
    headline = _headline(cv)
    opening = _GREETING[style].format(name=name) if name else _ANONYMOUS[style]
    if headline and name:
        return f"{opening}, {_article(headline)} {headline}."
    if headline:
        return f"{opening}, I'm {_article(headline)} {headline}."
    return f"{opening}."


def _position(job: Experience, index: int, headline: str = "") -> str:
    if not job.title and not job.company:
        return ""
    if index == 0 and job.current and job.company and job.title == headline:
        since = f", where I've worked since {job.start_date}" if job.start_date else ""
        return f"Right now I'm at {job.company}{since}."
    role = job.title or "part of the team"
    if job.title:
        role = f"{_article(job.title)} {job.title}" if index else job.title
    where = f" at {job.company}" if job.company else ""
    if index == 0 and job.current:
        since = f" since {job.start_date}" if job.start_date else ""
        return f"Right now I work as {role}{where}{since}."
    if index == 0:
        return f"Most recently I worked as {role}{where}."
    return f"Before that I was {role}{where}."


def _education(cv: ParsedCV) -> str:
    for school in cv.education[:1]:
        if school.degree and school.institution:
            subject = f" in {school.field}" if school.field else ""
            return f"I studied at {school.institution}, where I earned my {school.degree}{subject}."
        if school.institution:
            return f"I studied at {school.institution}."
    return ""


def _skills(skills: tuple[str, ...], room: int) -> str:
    """The longest prefix of the skills (at most eight) that fits in ``room`` words."""
    for count in range(min(len(skills), 8), 0, -1):
        listed = list(skills[:count])
        joined = listed[0] if count == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"
        sentence = f"I work with {joined}."
        if len(sentence.split()) <= room:
            return sentence
    return ""


def _achievement(cv: ParsedCV) -> str:
    for job in cv.experience[:1]:
        for done in job.achievements[:1]:
            return f"One thing I'm proud of: {_lower_first(_terminated(done))}"
    for done in cv.achievements[:1]:
        return f"One thing I'm proud of: {_lower_first(_terminated(done))}"
    return ""


def _languages(cv: ParsedCV) -> str:
    spoken = [lang.language for lang in cv.languages[:4] if lang.language]
    if len(spoken) < 2:
        return ""
    return f"I speak {', '.join(spoken[:-1])} and {spoken[-1]}."


def _interests(cv: ParsedCV) -> str:
    liked = [_lower_first(i) for i in cv.interests[:3]]
    if not liked:
        return ""
    joined = liked[0] if len(liked) == 1 else f"{', '.join(liked[:-1])} and {liked[-1]}"
    return f"Outside work, I enjoy {joined}."


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _lower_first(text: str) -> str:
    # Keep acronyms and proper nouns ("AWS", "London") as they are.
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _terminated(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if not sentence or sentence[-1] in ".!?" else f"{sentence}."
