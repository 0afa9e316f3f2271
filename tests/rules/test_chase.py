"""R13: which chases of the administrator a meeting calls for, and when."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.rules.chase import chases, days_left, in_window, sheets_due, to_chase

LONDON = ZoneInfo("Europe/London")
# Tuesday 8 December 2026, 10:00 in London (GMT).
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def test_chases_fall_on_the_days_after_the_meeting_at_nine() -> None:
    found = chases(MEETING, LONDON, (6, 3), 7)
    assert [(c.day, c.due_at) for c in found] == [
        (3, datetime(2026, 12, 11, 9, 0, tzinfo=UTC)),
        (6, datetime(2026, 12, 14, 9, 0, tzinfo=UTC)),
    ]
    # Each is stale once the next is due; the last at the end of the sheets' due day.
    assert [c.stale_after for c in found] == [
        datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 16, 0, 0, tzinfo=UTC),
    ]


def test_nine_oclock_is_panel_time_in_summer() -> None:
    summer = datetime(2026, 6, 9, 9, 0, tzinfo=UTC)  # 10:00 BST
    [chase] = chases(summer, LONDON, (3,), 7)
    assert chase.due_at == datetime(2026, 6, 12, 8, 0, tzinfo=UTC)
    assert sheets_due(summer, LONDON, 7) == datetime(2026, 6, 16, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("missing", "now", "chased"),
    [
        (["MASP-2026-0001"], datetime(2026, 12, 11, 9, 0, tzinfo=UTC), True),
        (["MASP-2026-0001"], datetime(2026, 12, 11, 8, 59, tzinfo=UTC), False),
        ([], datetime(2026, 12, 11, 9, 0, tzinfo=UTC), False),
        (["MASP-2026-0001"], datetime(2026, 12, 14, 8, 59, tzinfo=UTC), True),
        (["MASP-2026-0001"], datetime(2026, 12, 14, 9, 0, tzinfo=UTC), False),
    ],
)
def test_to_chase(missing: list[str], now: datetime, chased: bool) -> None:
    [chase, _] = chases(MEETING, LONDON, (3, 6), 7)
    assert to_chase(missing, chase, now) is chased


@pytest.mark.parametrize(
    ("now", "chased"),
    [
        (datetime(2026, 12, 15, 23, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 16, 0, 0, tzinfo=UTC), False),
    ],
)
def test_the_last_chase_lasts_until_the_sheets_due_day_ends(now: datetime, chased: bool) -> None:
    [_, chase] = chases(MEETING, LONDON, (3, 6), 7)
    assert to_chase(["MASP-2026-0001"], chase, now) is chased


@pytest.mark.parametrize(
    ("now", "inside", "left"),
    [
        (datetime(2026, 12, 8, 9, 59, tzinfo=UTC), False, 7),
        (datetime(2026, 12, 8, 10, 0, tzinfo=UTC), True, 7),
        (datetime(2026, 12, 11, 9, 0, tzinfo=UTC), True, 4),
        (datetime(2026, 12, 14, 9, 0, tzinfo=UTC), True, 1),
        (datetime(2026, 12, 15, 23, 0, tzinfo=UTC), True, 0),
        (datetime(2026, 12, 16, 0, 0, tzinfo=UTC), False, 0),
    ],
)
def test_window_and_days_left(now: datetime, inside: bool, left: int) -> None:
    assert in_window(MEETING, now, LONDON, 7) is inside
    assert days_left(MEETING, now, LONDON, 7) == left
