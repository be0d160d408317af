"""The web app's ParsedCV as it publishes it, and the introduction written from it: realistic
CVs read as a person introducing themselves and fit the duration; any CV stays in budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.cv import WORD_BUDGET, ParsedCV, parse_cv, script_from_cv, unsaid
from shared.core.model import Duration, Style
from tests.support.cvplus import PARSER_CV

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
    ("data", "read"),
    [
        ({"personalInfo": {"age": "36"}}, lambda cv: cv.person.age == 36),
        ({"summary": "x" * 5001}, lambda cv: len(cv.summary) == 5000),
        ({"experience": [{}] * 51}, lambda cv: len(cv.experience) == 50),
        ({"skills": ["s"] * 201}, lambda cv: len(cv.skills) == 200),
        ({"interests": ["bad\x1b[31m"]}, lambda cv: cv.interests == ("bad[31m",)),
        ({"personalInfo": {"name": "A\u202eda"}}, lambda cv: cv.person.name == "Ada"),
    ],
)
def test_declared_fields_are_capped_and_cleaned_not_refused(
    data: dict[str, Any], read: Any
) -> None:
    """Over-long text and lists are cut, control characters dropped: the CV is still read."""
    assert read(parse_cv(data))


def test_a_cv_as_the_apps_parser_writes_it_is_read() -> None:
    cv = parse_cv(PARSER_CV)
    job = cv.experience[0]
    assert job.current  # "endDate": null is the current position
    assert len(job.position) <= 200
    assert job.position.startswith("Principal Engineer")
    assert cv.education[0].gpa == "3.8"
    assert cv.education[0].start_date == "2012"
    assert cv.person.phone == ""
    assert [lang.language for lang in cv.languages] == ["English", "Yoruba"]
    script = script_from_cv(cv, Duration.MEDIUM)
    assert script.startswith("Hello, I'm Amara Okafor, a Principal Engineer")
    assert "University of Lagos" in script
    assert "English and Yoruba" in script


def test_only_a_cv_with_nothing_to_say_is_found_wanting() -> None:
    empty = parse_cv({"personalInfo": {"name": None}, "experience": None, "skills": None})
    assert script_from_cv(empty, Duration.SHORT) == ""
    assert {m["field"] for m in unsaid(empty)} >= {"personalInfo.name", "experience", "skills"}
    assert unsaid(parse_cv(PARSER_CV))[0]["field"] == "summary"


_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_value = st.one_of(st.none(), st.integers(-5, 5000), st.floats(0, 5), st.text(max_size=400))


def _section(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, _value)).flatmap(
        lambda d: st.dictionaries(st.text(max_size=8), _junk, max_size=2).map(
            lambda extra: {**extra, **d}
        )
    )


_items = lambda keys: st.one_of(  # noqa: E731
    st.none(), st.lists(st.one_of(st.none(), st.text(max_size=30), _section(keys)), max_size=8)
)
_strings = st.one_of(st.none(), st.lists(st.one_of(st.none(), _value), max_size=30))
_parser_cvs = st.fixed_dictionaries(
    {},
    optional={
        "personalInfo": st.one_of(
            st.none(),
            _section(["name", "email", "phone", "location", "linkedin", "github", "website"]),
        ),
        "summary": _value,
        "experience": _items(
            ["company", "position", "duration", "startDate", "endDate", "location", "description"]
        ),
        "education": _items(
            ["institution", "degree", "field", "startDate", "endDate", "graduationDate", "gpa"]
        ),
        "skills": st.one_of(
            _strings,
            st.fixed_dictionaries(
                {}, optional={"technical": _strings, "soft": _strings, "languages": _strings}
            ),
        ),
        "certifications": _items(["name", "issuer", "date", "credentialId"]),
        "projects": _items(["name", "description", "link"]),
        "achievements": _strings,
        "references": _items(["name", "position", "company", "contact"]),
        "languages": _strings,
        "somethingTheParserInvented": _junk,
    },
)


@settings(max_examples=400, deadline=None)
@given(data=_parser_cvs, duration=st.sampled_from(list(Duration)))
def test_whatever_the_parser_writes_is_read_capped_and_fits_the_video(
    data: dict[str, Any], duration: Duration
) -> None:
    """Parser-shaped input (nulls, numbers, long text, strings in lists of objects, unknown
    fields) is never refused; every text is capped and the script fits the duration."""
    cv = parse_cv(data)
    assert all(len(job.position) <= 200 and len(job.description) <= 5000 for job in cv.experience)
    assert len(cv.summary) <= 5000
    assert len(cv.person.name) <= 200
    script = script_from_cv(cv, duration)
    assert len(script.split()) <= WORD_BUDGET[duration]
    assert bool(script) or len(unsaid(cv)) == 7
    assert script == script_from_cv(parse_cv(data), duration)


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
