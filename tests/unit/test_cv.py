"""The web app's ParsedCV as it publishes it, and the introduction written from it: realistic
CVs read as a person introducing themselves and fit the duration; any CV stays in budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.core.cv import WORD_BUDGET, ParsedCV, parse_cv, script_from_cv
from shared.core.model import Duration, Style

ENGINEER: dict[str, Any] = {
    "personalInfo": {
        "name": "Amara Okafor",
        "email": "amara@example.org",
        "phone": "+234 800 000 0000",
        "age": 34,
        "summary": "I build payment systems that stay up when traffic doubles overnight.",
    },
    "experience": [
        {
            "company": "Ledgerly",
            "position": "Senior Backend Engineer",
            "duration": "3 years",
            "startDate": "2021",
            "achievements": ["Cut settlement latency by 60% while volume tripled"],
            "technologies": ["Python", "Kafka"],
        },
        {
            "company": "Paystack",
            "role": "Backend Engineer",
            "duration": "2 years",
            "startDate": "2019",
            "endDate": "2021",
        },
    ],
    "education": [
        {
            "institution": "University of Lagos",
            "degree": "BSc",
            "field": "Computer Science",
            "graduationDate": "2016",
        }
    ],
    "skills": {
        "technical": ["Python", "Go"],
        "soft": ["Mentoring"],
        "cloud": ["GCP"],
        "databases": ["PostgreSQL"],
    },
    "languages": [
        {"language": "English", "proficiency": "native"},
        {"language": "Yoruba", "proficiency": "native"},
    ],
    "interests": ["Chess", "Long-distance running"],
}
DESIGNER: dict[str, Any] = {
    "personal": {"name": "Lukas Brandt", "website": "https://lukas.example"},
    "summary": (
        "I design tools people enjoy using every day. I test with real users early and often. "
        "I believe good design is mostly careful listening."
    ),
    "experience": [
        {
            "company": "Figmatic",
            "position": "Product Designer",
            "duration": "4y",
            "startDate": "2020",
            "endDate": "Present",
        },
        {
            "company": "Studio Nord",
            "position": "UX Designer",
            "duration": "3y",
            "startDate": "2017",
            "endDate": "2020",
        },
    ],
    "skills": ["Figma", "Prototyping", "User research", "Design systems"],
    "certifications": [{"name": "NN/g UX", "issuer": "Nielsen Norman Group", "date": "2019"}],
    "projects": [{"name": "Atlas", "description": "A design system", "technologies": ["Figma"]}],
    "customSections": {"Volunteering": "I teach design at a community school."},
}
GRADUATE: dict[str, Any] = {
    "personalInfo": {"name": "Priya Raman"},
    "education": [
        {
            "institution": "TU Delft",
            "degree": "MSc",
            "field": "Data Science",
            "graduationDate": "2024",
        }
    ],
    "skills": {"technical": ["Python", "SQL", "PyTorch"], "soft": ["Writing"]},
    "achievements": ["Won the Delft data challenge"],
    "publications": [{"title": "Sparse forecasting", "publication": "arXiv", "date": "2024"}],
    "references": [{"name": "Dr. Vos", "company": "TU Delft", "position": "Professor"}],
}
REALISTIC = {"engineer": ENGINEER, "designer": DESIGNER, "graduate": GRADUATE}


@pytest.mark.parametrize("name", sorted(REALISTIC))
@pytest.mark.parametrize("duration", list(Duration))
def test_a_realistic_cv_gives_a_first_person_introduction_within_the_duration(
    name: str, duration: Duration
) -> None:
    script = script_from_cv(parse_cv(REALISTIC[name]), duration, Style.PROFESSIONAL)
    words = script.split()
    assert len(words) <= WORD_BUDGET[duration]
    assert script.startswith("Hello, I'm ")
    assert script.endswith("I look forward to connecting.")
    assert " I " in f" {script} "  # spoken in the first person
    assert "@" not in script
    assert "+234" not in script


def test_the_engineer_introduction_reads_in_order() -> None:
    script = script_from_cv(parse_cv(ENGINEER), Duration.MEDIUM, Style.FRIENDLY)
    assert script == (
        "Hi there, I'm Amara Okafor, a Senior Backend Engineer. I build payment systems that "
        "stay up when traffic doubles overnight. Right now I'm at Ledgerly, where I've worked "
        "since 2021. Before that I was a Backend Engineer at Paystack. I studied at University "
        "of Lagos, where I earned my BSc in Computer Science. I work with Python, Go, GCP, "
        "PostgreSQL and Mentoring. One thing I'm proud of: cut settlement latency by 60% while "
        "volume tripled. I speak English and Yoruba. Outside work, I enjoy chess and "
        "long-distance running. Thanks for watching, and I'd love to hear from you!"
    )


def test_a_short_introduction_keeps_the_most_important_sentences() -> None:
    short = script_from_cv(parse_cv(ENGINEER), Duration.SHORT)
    assert "Amara Okafor" in short
    assert "Ledgerly" in short
    assert "Outside work" not in short  # the personal note goes first when time is short


def test_the_aliases_mean_the_same_cv() -> None:
    """``personal`` for ``personalInfo`` and ``role`` for ``position``, as the app allows."""
    a = parse_cv({"personalInfo": {"name": "Ada"}, "experience": [{"position": "CTO"}]})
    b = parse_cv({"personal": {"name": "Ada"}, "experience": [{"role": "CTO"}]})
    assert script_from_cv(a, Duration.SHORT) == script_from_cv(b, Duration.SHORT)
    assert a.experience[0].title == b.experience[0].title == "CTO"


def test_skills_as_a_list_or_as_categories() -> None:
    listed = parse_cv({"skills": ["Go", "go", "SQL"]})
    grouped = parse_cv(
        {"skills": {"technical": ["Go"], "soft": ["Teamwork"], "expertise": ["SQL"]}}
    )
    assert listed.skill_list() == ("Go", "SQL")
    assert grouped.skill_list() == ("Go", "SQL", "Teamwork")


def test_fields_the_app_adds_later_are_ignored() -> None:
    cv = parse_cv(
        {
            "personalInfo": {"name": "Ada", "pronouns": "she/her"},
            "experience": [{"position": "CTO", "salary": 1}],
            "skills": {"technical": ["Go"], "newCategory": "not a list"},
            "videoPreferences": {"x": 1},
        }
    )
    assert cv.person.name == "Ada"
    assert cv.skill_list() == ("Go",)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"personalInfo": {"age": "36"}}, ("personalInfo", "age")),
        ({"summary": "x" * 5001}, ("summary",)),
        ({"experience": [{}] * 51}, ("experience",)),
        ({"skills": ["s"] * 201}, ("skills", "list")),
        ({"interests": ["bad\x1b[31m"]}, ("interests", 0)),
        ({"personalInfo": {"name": "A\u202eda"}}, ("personalInfo", "name")),
    ],
)
def test_declared_fields_are_checked_and_capped(
    data: dict[str, Any], where: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_cv(data)
    assert any(tuple(e["loc"][: len(where)]) == where for e in caught.value.errors())


def test_an_empty_cv_gives_no_script() -> None:
    assert script_from_cv(parse_cv({}), Duration.LONG) == ""
    assert script_from_cv(parse_cv({"experience": None, "skills": None}), Duration.LONG) == ""


def test_a_rich_cv_fills_most_of_a_long_video() -> None:
    rich = {
        **ENGINEER,
        "summary": " ".join(f"Sentence {i} says one more thing about my work." for i in range(40)),
    }
    words = len(script_from_cv(parse_cv(rich), Duration.LONG).split())
    assert WORD_BUDGET[Duration.LONG] - 15 <= words <= WORD_BUDGET[Duration.LONG]


_word = st.text(alphabet="abcdefghij", min_size=1, max_size=15)
_phrase = st.lists(_word, min_size=0, max_size=12).map(" ".join)  # under 200 chars
_cvs = st.fixed_dictionaries(
    {},
    optional={
        "personalInfo": st.fixed_dictionaries({}, optional={"name": _phrase, "title": _phrase}),
        "summary": st.lists(_phrase, max_size=20).map(". ".join),
        "experience": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "company": _phrase,
                    "position": _phrase,
                    "endDate": st.sampled_from(["", "2020", "Present"]),
                    "achievements": st.lists(_phrase, max_size=3),
                },
            ),
            max_size=6,
        ),
        "skills": st.one_of(
            st.lists(_word, max_size=40),
            st.fixed_dictionaries({"technical": st.lists(_word, max_size=20)}),
        ),
        "interests": st.lists(_phrase, max_size=5),
        "languages": st.lists(st.fixed_dictionaries({"language": _word}), max_size=5),
    },
)


@settings(max_examples=300, deadline=None)
@given(data=_cvs, duration=st.sampled_from(list(Duration)), style=st.sampled_from(list(Style)))
def test_any_cv_stays_within_the_budget_and_is_deterministic(
    data: dict[str, Any], duration: Duration, style: Style
) -> None:
    cv = parse_cv(data)
    script = script_from_cv(cv, duration, style)
    assert len(script.split()) <= WORD_BUDGET[duration]
    assert script == script_from_cv(ParsedCV.model_validate(data), duration, style)
    if script:
        assert script.endswith(("connecting.", "from you!", "together!"))
