"""The readers' fast paths give exactly what the full paths give (issue 9 item 16).

Each shortcut taken for speed (a smaller pattern for ASCII text, one match for a plain date)
must never change an answer: these compare them with the full path over every case they cover.
"""

from __future__ import annotations

import itertools

from pipeline.documents import dates
from pipeline.text import _LINE_BREAK, _SURROGATE, _UNSAFE, clean_text


def cleaned_the_long_way(text: str) -> str:
    return _UNSAFE.sub("", _SURROGATE.sub("\ufffd", _LINE_BREAK.sub("\n", text)))


def test_every_character_is_cleaned_as_the_full_pattern_would() -> None:
    # Alone, among ASCII, and beside a character beyond U+FFFF: each picks another scan.
    for point in range(0x110000):
        character = chr(point)
        for text in (character, f"Ann {character} Example", f"\U0001f600{character}"):
            assert clean_text(text) == cleaned_the_long_way(text), hex(point)


def test_a_plain_date_is_read_as_the_full_reader_reads_it() -> None:
    days = ("1", "01", "9", "29", "30", "31", "0", "00", "32")
    months = ("1", "01", "02", "12", "13", "0", "00")
    years = ("19", "69", "70", "2019", "1999", "2100", "0000")
    for day, month, year, (first, second) in itertools.product(
        days, months, years, itertools.product("/.-", repeat=2)
    ):
        written = f"{day}{first}{month}{second}{year}"
        assert dates.read_when(written) == dates._from_text(written), written
