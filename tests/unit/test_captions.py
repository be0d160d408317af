"""The WebVTT file written from a script: every word in one cue, in order, timed at the spoken
rate without gaps or overlaps, escaped, and in the format a browser's <track> reads."""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from shared.core.captions import MAX_CUE_WORDS, cues, timestamp, webvtt
from shared.core.cv import WORDS_PER_SECOND

SCRIPT = (
    "Hi, I am Dana Levi. I build payment systems that stay up. "
    "For eight years I have led teams at Acme & Co, shipping services used by millions of people "
    "every single day. Let's talk!"
)
_TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse(vtt: str) -> list[tuple[float, float, str]]:
    """A strict reader of the subset we write: header, then numbered cues."""
    blocks = vtt.rstrip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    out = []
    for number, block in enumerate(blocks[1:], start=1):
        ident, timing, text = block.split("\n")
        assert ident == str(number)
        match = _TIMING.match(timing)
        assert match is not None, timing
        g = match.groups()
        out.append((_seconds(*g[:4]), _seconds(*g[4:]), text))
    return out


def test_the_cues_cover_the_script_word_for_word_at_the_spoken_rate() -> None:
    """Joined, the cues are the script; the last ends when 2.5 words a second would."""
    parsed = parse(webvtt(SCRIPT))
    words = SCRIPT.split()
    joined = " ".join(text for _, _, text in parsed).replace("&amp;", "&")
    assert joined == " ".join(words)
    assert parsed[0][0] == 0.0
    assert abs(parsed[-1][1] - len(words) / WORDS_PER_SECOND) < 0.002
    for (_, end, _), (start, _, _) in pairwise(parsed):
        assert start == end  # no gap, no overlap


def test_a_cue_never_runs_across_a_sentence_end() -> None:
    """ "Hi, I am Dana Levi." is a cue of its own; so is "Let's talk!"."""
    texts = [c.text for c in cues(SCRIPT)]
    assert texts[0] == "Hi, I am Dana Levi."
    assert texts[-1] == "Let's talk!"
    assert all(len(t.split()) <= MAX_CUE_WORDS for t in texts)


def test_the_cues_are_stretched_to_the_videos_own_length_when_it_is_plausible() -> None:
    """A 40 s video of a 30-word script (12 s spoken): too far off, the spoken rate stays;
    a 15 s one re-times the cues to end at 15 s."""
    words = len(SCRIPT.split())
    assert cues(SCRIPT, duration_s=15.0)[-1].end_s == 15.0
    far = cues(SCRIPT, duration_s=words / WORDS_PER_SECOND * 3)
    assert abs(far[-1].end_s - words / WORDS_PER_SECOND) < 0.002


def test_markup_in_a_script_is_escaped_and_cannot_fake_a_timing_line() -> None:
    """``<b>`` and ``-->`` arrive as text: the file has exactly one timing line per cue."""
    vtt = webvtt("I write <b>bold</b> code --> fast & safe.")
    assert "<b>" not in vtt
    assert "&lt;b&gt;bold&lt;/b&gt; code --&gt; fast &amp; safe." in vtt
    assert vtt.count("-->") == 1


def test_timestamps_carry_hours_minutes_seconds_and_milliseconds() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(61.25) == "00:01:01.250"
    assert timestamp(3725.0004) == "01:02:05.000"


def test_an_empty_script_makes_a_file_with_no_cues() -> None:
    assert webvtt("   ") == "WEBVTT\n"


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=300,
    )
)
def test_any_script_is_covered_in_order_by_contiguous_cues(words: list[str]) -> None:
    """Property: the words come back in order, each once; the cues tile [0, end]."""
    script = " ".join(words)
    made = cues(script)
    assert " ".join(c.text for c in made).split() == script.split()
    assert made[0].start_s == 0.0
    assert all(a.end_s == b.start_s for a, b in pairwise(made))
    assert all(c.end_s > c.start_s for c in made)
    parse(webvtt(script))  # and the file is well formed
