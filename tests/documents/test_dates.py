"""The date reader's fast path gives exactly what the full path gives (issue 9 item 16).

One match for a plain date is a shortcut taken for speed: it must never change an answer, so
this compares it with the full reader over every case it covers.
"""

from __future__ import annotations

import itertools

from pipeline.documents import dates


def test_a_plain_date_is_read_as_the_full_reader_reads_it() -> None:
    days = ("1", "01", "9", "29", "30", "31", "0", "00", "32")
    months = ("1", "01", "02", "12", "13", "0", "00")
    years = ("19", "69", "70", "2019", "1999", "2100", "0000")
    for day, month, year, (first, second) in itertools.product(
        days, months, years, itertools.product("/.-", repeat=2)
    ):
        written = f"{day}{first}{month}{second}{year}"
        assert dates.read_when(written) == dates._from_text(written), written
