"""Text as this backend accepts it from a client: NFC, no control or invisible formatting
character, and a count of the words in it that say something. Pure."""

from __future__ import annotations

import unicodedata

from pydantic_core import PydanticCustomError

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


def scrub_text(value: str) -> str:
    """``value`` in NFC without its control and invisible formatting characters (those
    clean_text refuses): for text read from a stored document, which is not the caller's to
    fix."""
    value = unicodedata.normalize("NFC", value)
    return "".join(
        c
        for c in value
        if c in _ALLOWED_CONTROLS or unicodedata.category(c) not in _REFUSED_CATEGORIES
    )
