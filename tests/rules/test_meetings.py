"""R1–R3: meeting dates, deadlines and target meetings, across BST/GMT changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.meetings import meeting_at, meeting_days, next_meeting, target_meeting, upcoming

LONDON = ZoneInfo("Europe/London")


def panel(**meetings: object) -> PanelConfig:
    spec = {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00", **meetings}
    return PanelConfig.model_validate({"id": "masp", "name": "Panel", "meetings": spec})


def test_second_tuesday_with_added_and_cancelled_dates() -> None:
    p = panel(add=["2027-01-19"], cancel=["2027-01-12"])
    days = [d for _, d in zip(range(4), meeting_days(p, date(2026, 12, 1)), strict=False)]
    assert days == [date(2026, 12, 8), date(2027, 1, 19), date(2027, 2, 9), date(2027, 3, 9)]


def test_deadline_is_noon_seven_days_before_in_local_time() -> None:
    meeting = meeting_at(panel(), date(2027, 4, 13), LONDON)
    assert meeting.starts_at == datetime(2027, 4, 13, 9, 0, tzinfo=UTC)  # 10:00 BST
    assert meeting.deadline == datetime(2027, 4, 6, 11, 0, tzinfo=UTC)  # noon BST
    winter = meeting_at(panel(), date(2027, 1, 12), LONDON)
    assert winter.deadline == datetime(2027, 1, 5, 12, 0, tzinfo=UTC)  # noon GMT


def test_deadline_across_the_clock_change() -> None:
    # The meeting is in BST; its deadline falls before the last Sunday of March, in GMT.
    meeting = meeting_at(panel(rrule="FREQ=MONTHLY;BYMONTHDAY=2"), date(2027, 4, 2), LONDON)
    assert meeting.deadline == datetime(2027, 3, 26, 12, 0, tzinfo=UTC)
    assert meeting.starts_at == datetime(2027, 4, 2, 9, 0, tzinfo=UTC)


def test_target_meeting_one_second_either_side_of_the_deadline() -> None:
    p = panel()
    deadline = meeting_at(p, date(2026, 12, 8), LONDON).deadline
    assert target_meeting(p, LONDON, deadline - timedelta(seconds=1)).day == date(2026, 12, 8)
    # Received at noon exactly is not "before 12:00 noon": it goes to the next meeting.
    assert target_meeting(p, LONDON, deadline).day == date(2027, 1, 12)


def test_next_meeting_and_upcoming() -> None:
    p = panel()
    first = meeting_at(p, date(2026, 12, 8), LONDON)
    assert next_meeting(p, LONDON, first).day == date(2027, 1, 12)
    now = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # the December meeting has started
    assert [m.day for m in upcoming(p, LONDON, now, 2)] == [date(2027, 1, 12), date(2027, 2, 9)]


@settings(max_examples=300, deadline=None)
@given(
    received=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    # From 2: the timeslot notice, at least a day before the meeting, must follow the deadline.
    days_before=st.integers(min_value=2, max_value=14),
    hour=st.integers(min_value=0, max_value=23),
)
def test_target_meeting_properties(received: datetime, days_before: int, hour: int) -> None:
    p = PanelConfig.model_validate(
        {
            "id": "masp",
            "name": "Panel",
            "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "time": "09:30"},
            "deadline": {"days_before": days_before, "time": f"{hour:02d}:00"},
            "slot_notice_days": 1,
        }
    )
    target = target_meeting(p, LONDON, received)
    # R3: its deadline is still ahead, and no earlier meeting's deadline is.
    assert received < target.deadline
    earlier = [
        d
        for d in meeting_days(p, received.astimezone(LONDON).date() - timedelta(days=30))
        if d < target.day
    ]
    for day in earlier:
        assert meeting_at(p, day, LONDON).deadline <= received
    # The deadline reads as the configured wall-clock time, the configured days before.
    local = target.deadline.astimezone(LONDON)
    assert local.time() == time(hour, 0) or _in_gap(local.date(), hour)
    assert (target.day - local.date()).days == days_before
    assert target.starts_at.astimezone(LONDON).time() == time(9, 30)


def _in_gap(day: date, hour: int) -> bool:
    """01:00 on the spring-forward Sunday does not exist in London."""
    naive = datetime.combine(day, time(hour, 0))
    return naive.replace(tzinfo=LONDON).astimezone(UTC).astimezone(LONDON).hour != hour
