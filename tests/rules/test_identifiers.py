"""The minimal identifiers a digest shows: initials, and an age on the meeting's day."""

from __future__ import annotations

from datetime import date

from pipeline.rules.identifiers import age_on, initials


def test_minimal_identifiers() -> None:
    assert initials("Robin  de Testcase") == "R.D.T." and initials(None) == "—"
    meeting = date(2026, 12, 8)
    assert age_on("2016-12-08", meeting) == "age 10"
    assert age_on("2016-12-09", meeting) == "age 9"
    assert age_on("2026-03-20", meeting) == "age 8 months"
    assert age_on("2027-02-01", meeting) == "unborn"
    assert age_on(None, meeting) == "age unknown"
