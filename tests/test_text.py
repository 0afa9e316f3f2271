"""Cleaning text's fast path gives exactly what the full path gives (issue 9 item 16).

A smaller pattern for ASCII text is a shortcut taken for speed: it must never change an answer,
so this compares it with the full patterns over every character.
"""

from __future__ import annotations

from pipeline.text import _LINE_BREAK, _SURROGATE, _UNSAFE, clean_text


def cleaned_the_long_way(text: str) -> str:
    return _UNSAFE.sub("", _SURROGATE.sub("\ufffd", _LINE_BREAK.sub("\n", text)))


def test_every_character_is_cleaned_as_the_full_pattern_would() -> None:
    # Alone, among ASCII, and beside a character beyond U+FFFF: each picks another scan.
    for point in range(0x110000):
        character = chr(point)
        for text in (character, f"Ann {character} Example", f"\U0001f600{character}"):
            assert clean_text(text) == cleaned_the_long_way(text), hex(point)
