"""Subtitles written from the script: a WebVTT file (W3C WebVTT, https://www.w3.org/TR/webvtt1/)
timed at the spoken rate (`shared.core.cv.WORDS_PER_SECOND`), for a video whose provider gives
none we can use. Pure: the script in, the file's text out.

    webvtt(script)                      # timed at 2.5 words a second
    webvtt(script, duration_s=58.2)     # stretched to the video's own length

Cues are whole words in reading order, at most ``MAX_CUE_WORDS`` each and never across a
sentence's end, so every word of the script is in exactly one cue and the cues follow each other
without a gap or an overlap. Cue text is escaped (``&``, ``<``, ``>``), so a script cannot
inject markup or a ``-->`` into the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.cv import WORDS_PER_SECOND

MAX_CUE_WORDS = 10  # about 4 s of speech: two short lines on a phone
_SENTENCE_ENDS = (".", "!", "?", "\u2026", "\u3002", "\uff01", "\uff1f")  # … 。 full-width ! ?
# A video's own length is trusted to re-time the cues only when close to the spoken estimate:
# a provider's padding or a wrong duration must not stretch the words off the speech.
_STRETCH_BOUNDS = (0.5, 2.0)


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def cues(script: str, *, duration_s: float | None = None) -> list[Cue]:
    """The script's cues, each word ``1 / WORDS_PER_SECOND`` long, or stretched so the last
    ends at ``duration_s`` when that is within `_STRETCH_BOUNDS` of the spoken estimate."""
    words = script.split()
    if not words:
        return []
    per_word = 1.0 / WORDS_PER_SECOND
    if duration_s is not None and duration_s > 0:
        stretch = duration_s / (len(words) * per_word)
        if _STRETCH_BOUNDS[0] <= stretch <= _STRETCH_BOUNDS[1]:
            per_word *= stretch
    out: list[Cue] = []
    group: list[str] = []
    first = 0
    for index, word in enumerate(words):
        group.append(word)
        if len(group) == MAX_CUE_WORDS or word.endswith(_SENTENCE_ENDS) or index == len(words) - 1:
            start, end = first * per_word, (index + 1) * per_word
            out.append(Cue(round(start, 3), round(end, 3), " ".join(group)))
            group, first = [], index + 1
    return out


def webvtt(script: str, *, duration_s: float | None = None) -> str:
    """The WebVTT file of ``script``'s cues (`cues`)."""
    blocks = ["WEBVTT"]
    for number, cue in enumerate(cues(script, duration_s=duration_s), start=1):
        blocks.append(
            f"{number}\n{timestamp(cue.start_s)} --> {timestamp(cue.end_s)}\n{_escape(cue.text)}"
        )
    return "\n\n".join(blocks) + "\n"


def timestamp(seconds: float) -> str:
    """``hh:mm:ss.ttt`` (WebVTT's timestamp with hours, which every reader accepts)."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
