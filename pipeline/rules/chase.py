"""R13: when decision sheets are due after a meeting, and when the administrator is chased.

Each referrer gets the decision sheet within `decisions.sheet_days` of the meeting; while any
case heard there has no decision recorded, the administrator is chased on each of
`decisions.chase_days` (days after the meeting day) at 09:00 panel time, never once every
decision is in, and never after the sheets' due day. Pure: the step reads the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.rules.meetings import local_instant

CHASE_AT = time(9, 0)


@dataclass(frozen=True)
class Chase:
    """One chasing email to the administrator: which day after the meeting, when it is due,
    and when it no longer makes sense (the end of the sheets' due day)."""

    day: int
    due_at: datetime
    stale_after: datetime


def due_day(meeting_day: date, sheet_days: int) -> date:
    """The sheets' due day: "within 7 days" of a meeting is up to the end of the 7th day after
    its day, in the panel's time zone. The one definition: the chase, the sheets' audit,
    `masp status` and the quarterly figures all use it (through `sheets_due` or `on_time`)."""
    return meeting_day + timedelta(days=sheet_days)


def sheets_due(starts_at: datetime, tz: ZoneInfo, sheet_days: int) -> datetime:
    """The end of the sheets' due day: midnight after the day `sheet_days` after the meeting."""
    day = due_day(starts_at.astimezone(tz).date(), sheet_days) + timedelta(days=1)
    return local_instant(day, time(0, 0), tz)


def on_time(meeting_day: date, sent_day: date, sheet_days: int) -> bool:
    """Whether a sheet that reached the referrer on `sent_day` (panel time) was within
    `sheet_days` of the meeting: the same as being sent before `sheets_due`."""
    return sent_day <= due_day(meeting_day, sheet_days)


def chases(
    starts_at: datetime, tz: ZoneInfo, chase_days: Sequence[int], sheet_days: int
) -> list[Chase]:
    """Every chase of a meeting, each day after the meeting day at 09:00 panel time.

    A chase goes stale when the next one is due (the last at the end of the sheets' due day):
    a service back after an outage sends the latest chase once, not every one it missed.
    """
    day = starts_at.astimezone(tz).date()
    dues = [
        (n, local_instant(day + timedelta(days=n), CHASE_AT, tz)) for n in sorted(set(chase_days))
    ]
    ends = [due for _, due in dues[1:]] + [sheets_due(starts_at, tz, sheet_days)]
    return [Chase(n, due, end) for (n, due), end in zip(dues, ends, strict=True)]


def in_window(starts_at: datetime, now: datetime, tz: ZoneInfo, sheet_days: int) -> bool:
    """Whether a meeting has begun and its sheets' due day has not ended."""
    return starts_at <= now < sheets_due(starts_at, tz, sheet_days)


def days_left(starts_at: datetime, now: datetime, tz: ZoneInfo, sheet_days: int) -> int:
    """Whole days from `now`'s date to the sheets' due day (0 on the day itself)."""
    due = due_day(starts_at.astimezone(tz).date(), sheet_days)
    return max((due - now.astimezone(tz).date()).days, 0)


def to_chase(missing: Sequence[str], chase: Chase, now: datetime) -> bool:
    """Whether to chase now: a decision is missing, and the chase is due and not stale."""
    return bool(missing) and chase.due_at <= now < chase.stale_after
