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
    Tag,
    model_validator,
)

from shared.core.model import Duration, Style
from shared.core.refusals import InvalidRequest
from shared.core.text import real_words, scrub_text

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


# The app's parser stores its model's JSON as it comes (CVPLUS functions/src/services/cvParser.ts
# L270-277, no post-processing; its prompt L170-250 asks for null where a field is not found):
# so any field may be null, a number where text is declared (a gpa of 3.8), text longer than
# ours, a string where a list of objects is declared ("languages": ["English"]). The reader
# takes what it can: null is empty, a number is its text, long text and long lists are cut,
# control characters are dropped, anything else unusable is empty. It never refuses a field.


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a space when one is near the end."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space > limit - 40 else cut


def _text_of(value: Any, limit: int) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        value = format(value, "g") if math.isfinite(value) else ""
    if not isinstance(value, str):
        return ""
    return _cut(" ".join(scrub_text(value).split(" ")).strip(), limit)


def _as_text(limit: int) -> BeforeValidator:
    def coerce(value: Any) -> str:
        return _text_of(value, limit)

    return BeforeValidator(coerce)


def _as_list(limit: int, *, text_item: str | None = None) -> BeforeValidator:
    """A list (a lone string is a list of one), without its nulls, cut to ``limit`` items.
    ``text_item``: for a list of objects, the field a bare string item fills (else dropped)."""

    def coerce(value: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            return ()
        items: list[Any] = []
        for item in value:
            if item is None:
                continue
            if text_item is not None:
                if isinstance(item, str) and not item.strip():
                    continue
                if isinstance(item, str):
                    item = {text_item: item}
                elif not isinstance(item, dict):
                    continue
            items.append(item)
            if len(items) == limit:
                break
        return tuple(items)

    return BeforeValidator(coerce)


def _as_object(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def _nonempty(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in items if i)


Short = Annotated[str, _as_text(200)]
Medium = Annotated[str, _as_text(1000)]
Long = Annotated[str, _as_text(5000)]


_Nonempty = AfterValidator(_nonempty)
Words = Annotated[tuple[Short, ...], _as_list(100), _Nonempty]
SkillList = Annotated[tuple[Short, ...], _as_list(200), _Nonempty]
Sentences = Annotated[tuple[Medium, ...], _as_list(50), _Nonempty]


def _age(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 150:
        return value
    return None


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
    age: Annotated[int | None, BeforeValidator(_age)] = None
    marital_status: Short = Field("", alias="maritalStatus")
    gender: Short = ""
    nationality: Short = ""
    # Not in the app's type, but what a headline is usually parsed into.
    title: Short = ""


class Experience(_Lenient):
    company: Short = ""
    position: Short = ""
    role: Short = ""  # the app's alias of position
    job_title: Short = Field("", alias="title")  # the multimedia service's CVData name
    duration: Short = ""
    start_date: Short = Field("", alias="startDate")
    end_date: Short = Field("", alias="endDate")  # empty: the current position
    description: Long = ""
    achievements: Sentences = ()
    technologies: Words = ()

    @property
    def title(self) -> str:
        return self.position or self.role or self.job_title

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
        for name in list(extra)[20:]:  # at most 20 categories
            del extra[name]
        for name, value in extra.items():
            if not isinstance(value, list | tuple):
                extra[name] = ()  # an unknown category not shaped as words: ignored
            else:
                texts = (_text_of(v, 200) for v in value[:100] if not isinstance(v, dict))
                extra[name] = tuple(t for t in texts if t)
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


def _sections(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in list(value.items())[:20] if isinstance(k, str) and v is not None}


def _skills_form(value: Any) -> str:
    """``skills`` is a list of words, or an object of categories of words."""
    return "object" if isinstance(value, dict | Skills) else "list"


class ParsedCV(_Lenient):
    personal_info: Annotated[PersonalInfo | None, BeforeValidator(_as_object)] = Field(
        None, alias="personalInfo"
    )
    # the app's alias of personalInfo
    personal: Annotated[PersonalInfo | None, BeforeValidator(_as_object)] = None
    experience: Annotated[tuple[Experience, ...], _as_list(50, text_item="position")] = ()
    education: Annotated[tuple[Education, ...], _as_list(20, text_item="institution")] = ()
    skills: Annotated[
        Annotated[SkillList, Tag("list")] | Annotated[Skills, Tag("object")],
        Discriminator(_skills_form),
    ] = ()
    achievements: Sentences = ()
    certifications: Annotated[tuple[Certification, ...], _as_list(50, text_item="name")] = ()
    projects: Annotated[tuple[Project, ...], _as_list(50, text_item="name")] = ()
    publications: Annotated[tuple[Publication, ...], _as_list(50, text_item="title")] = ()
    interests: Words = ()
    summary: Long = ""
    custom_sections: Annotated[dict[Short, Long], BeforeValidator(_sections)] = Field(
        default_factory=dict, alias="customSections"
    )
    # cvParser.ts asks for skills.languages as strings; a top-level list of strings is read too.
    languages: Annotated[tuple[Language, ...], _as_list(30, text_item="language")] = ()
    references: Annotated[tuple[Reference, ...], _as_list(20, text_item="name")] = ()

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


def unsaid(cv: ParsedCV) -> list[dict[str, str]]:
    """What an introduction is written from and ``cv`` lacks: [{field, message}]."""
    checks = (
        ("personalInfo.name", "name", cv.person.name),
        ("summary", "summary", cv.about),
        ("experience", "experience", any(j.title or j.company for j in cv.experience)),
        ("education", "education", any(e.institution for e in cv.education)),
        ("skills", "skills", cv.skill_list()),
        ("achievements", "achievements", cv.achievements),
        ("interests", "interests", cv.interests),
    )
    return [{"field": f, "message": m} for f, m, present in checks if not present]


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
    held = [job for job in cv.experience if job.title or job.company][:4]
    positions = [_position(job, i, headline) for i, job in enumerate(held)]
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
    for school in [s for s in cv.education if s.institution][:1]:
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
    if not spoken and isinstance(cv.skills, Skills):  # where cvParser.ts puts them (L216)
        spoken = list(cv.skills.languages[:4])
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
