"""R15: how a quarter is spelled, which is the default, and the twelve months of demand."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.rules.quarterly import BadQuarter, Quarter, demand, last_complete


@pytest.mark.parametrize("text", ["2027Q1", "2027q1", " 2027-Q1 "])
def test_a_quarter_is_read_as_people_write_it(text: str) -> None:
    quarter = Quarter.parse(text)
    assert (quarter.label, quarter.start, quarter.end) == (
        "2027Q1",
        date(2027, 1, 1),
        date(2027, 4, 1),
    )


@pytest.mark.parametrize("text", ["2027Q5", "2027Q0", "Q1 2027", "2027", "", "1999Q1"])
def test_a_bad_quarter_says_how_to_write_one(text: str) -> None:
    with pytest.raises(BadQuarter, match=r"2027Q1|year"):
        Quarter.parse(text)


def test_the_default_is_the_last_complete_quarter() -> None:
    assert last_complete(date(2027, 4, 1)) == Quarter(2027, 1)
    assert last_complete(date(2027, 3, 31)) == Quarter(2026, 4)
    assert Quarter(2026, 4).next() == Quarter(2027, 1)


def test_demand_covers_the_twelve_months_ending_with_the_quarter() -> None:
    counted = demand(
        Quarter(2026, 4),
        [date(2025, 12, 31), date(2026, 1, 1), date(2026, 12, 31), date(2026, 12, 1)],
    )
    assert [label for label, _ in counted] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert dict(counted)["2026-01"] == 1 and dict(counted)["2026-12"] == 2
