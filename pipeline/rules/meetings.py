"""R1–R3: meeting date-times from an RRULE plus added and cancelled dates, their deadlines,
and which meeting a referral received at a given instant targets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from pipeline.config import PanelConfig
from pipeline.errors import ConfigError

# The RRULE is anchored here; the rule itself (BYDAY, BYMONTHDAY …) decides the dates.
ANCHOR = date(2020, 1, 1)
# No panel meets less than once a year: searching further than this means the rule is empty.
HORIZON_DAYS = 800


@dataclass(frozen=True)
class Meeting:
    """One sitting of a panel; every instant is timezone-aware."""

    panel_id: str
    starts_at: datetime
    deadline: datetime
    slot_notice: datetime

    @property
    def day(self) -> date:
        return self.starts_at.date()


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `tz`, normalised through UTC.

    A wall time inside the spring-forward gap does not exist; the round trip moves it
    forward by the gap, which is what a person setting a clock would expect.
    """
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def meeting_at(panel: PanelConfig, day: date, tz: ZoneInfo) -> Meeting:
    starts = local_instant(day, panel.meetings.time, tz)
    deadline_day = day - timedelta(days=panel.deadline.days_before)
    notice_day = day - timedelta(days=panel.slot_notice_days)
    return Meeting(
        panel_id=panel.id,
        starts_at=starts,
        deadline=local_instant(deadline_day, panel.deadline.time, tz),
        slot_notice=local_instant(notice_day, panel.meetings.time, tz),
    )


@lru_cache(maxsize=64)
def _rule(text: str) -> rrule | rruleset:
    # Parsed once and cached with its occurrences: every lookup walks from the fixed anchor
    # (which INTERVAL rules need to keep their parity), so repeating that walk is the cost.
    return rrulestr(text, dtstart=datetime.combine(ANCHOR, time()), cache=True)


def _rule_days(panel: PanelConfig, after: date) -> Iterator[date]:
    rule = _rule(panel.meetings.rrule)
    cursor = datetime.combine(after - timedelta(days=1), time(23, 59))
    while True:
        found = rule.after(cursor)
        if found is None or (found.date() - after).days > HORIZON_DAYS:
            return
        yield found.date()
        cursor = found


def meeting_days(panel: PanelConfig, after: date) -> Iterator[date]:
    """Meeting dates on or after `after`, in order: rule dates plus added, minus cancelled."""
    cancelled = set(panel.meetings.cancel)
    added = sorted(d for d in set(panel.meetings.add) if d >= after)
    last: date | None = None
    for day in _rule_days(panel, after):
        while added and added[0] <= day:
            extra = added.pop(0)
            if extra not in cancelled and extra != last:
                last = extra
                yield extra
        if day not in cancelled and day != last:
            last = day
            yield day
    for extra in added:
        if extra not in cancelled and extra != last:
            last = extra
            yield extra


@lru_cache(maxsize=4096)
def meets_on(panel: PanelConfig, day: date) -> bool:
    """Whether `day` is one of the panel's meeting days: given by the rule or added, and not
    cancelled. Cached: every tick asks it of each meeting a case is on."""
    return next(iter(meeting_days(panel, day)), None) == day


def is_held(panel: PanelConfig, tz: ZoneInfo, starts_at: datetime) -> bool:
    """Whether the panel still meets at `starts_at` as configured now: on a meeting day, at the
    meeting time."""
    day = starts_at.astimezone(tz).date()
    return meets_on(panel, day) and meeting_at(panel, day, tz).starts_at == starts_at


def upcoming(panel: PanelConfig, tz: ZoneInfo, now: datetime, count: int) -> list[Meeting]:
    """The next `count` meetings that have not yet started."""
    result: list[Meeting] = []
    for day in meeting_days(panel, now.astimezone(tz).date()):
        meeting = meeting_at(panel, day, tz)
        if meeting.starts_at > now:
            result.append(meeting)
            if len(result) == count:
                break
    return result


def target_meeting(
    panel: PanelConfig, tz: ZoneInfo, received_at: datetime, section20: bool = False
) -> Meeting:
    """R3: the earliest meeting whose deadline is still ahead of `received_at`.

    R2 says "before 12:00 noon", so an email received at the deadline itself is late.
    R7: a Section 20 emergency "must be presented at the next Panel": the next meeting that
    has not started, whatever its deadline.
    """
    for day in meeting_days(panel, received_at.astimezone(tz).date()):
        meeting = meeting_at(panel, day, tz)
        if received_at < (meeting.starts_at if section20 else meeting.deadline):
            return meeting
    raise ConfigError(
        f"panels.{panel.id}.meetings",
        f"no meeting within {HORIZON_DAYS} days of {received_at.date()}: "
        "check rrule, add and cancel",
    )


def release_meeting(
    panel: PanelConfig, tz: ZoneInfo, received_at: datetime, now: datetime, ready: bool, s20: bool
) -> Meeting:
    """Where a released case is listed: R3 as of when it arrived (the hold was ours, not the
    referrer's) while that meeting can still take it — not started, for a case with nothing
    to wait for (complete, or Section 20); deadline still ahead, for one still waiting (R6) —
    else the meeting R3 gives as of now."""
    meeting = target_meeting(panel, tz, received_at, s20)
    if now < (meeting.starts_at if ready or s20 else meeting.deadline):
        return meeting
    return target_meeting(panel, tz, now, s20)


def missed_meeting(
    panel: PanelConfig, tz: ZoneInfo, received_at: datetime, listed: Meeting, section20: bool
) -> Meeting | None:
    """R3: the meeting a referral arrived too late for — the first not yet started when it
    arrived, its deadline already passed — when the case is listed for a later one; else None.

    R7: a Section 20 emergency is never late: it goes to the next meeting whatever.
    """
    if section20:
        return None
    first = upcoming(panel, tz, received_at, 1)
    if first and first[0].day != listed.day and received_at >= first[0].deadline:
        return first[0]
    return None


def deadline_passed(meeting: Meeting, now: datetime) -> bool:
    """R2: whether documents sent `now` are too late for `meeting`: "before 12:00 noon", so
    at the deadline itself they are."""
    return now >= meeting.deadline


def next_meeting(panel: PanelConfig, tz: ZoneInfo, after: Meeting) -> Meeting:
    """The meeting after `after` (R6: where an incomplete or late case is put forward)."""
    for day in meeting_days(panel, after.day + timedelta(days=1)):
        return meeting_at(panel, day, tz)
    raise ConfigError(f"panels.{panel.id}.meetings", f"no meeting after {after.day}")


def held_meeting(panel: PanelConfig, tz: ZoneInfo, starts_at: datetime) -> Meeting | None:
    """The meeting at `starts_at` with its deadline, or None if the panel no longer meets then.

    A meeting no longer held (cancelled, or its time changed) has no deadline that means
    anything now: no reminder or cut-off is due for it, and its cases are moved on (R7).
    """
    if not is_held(panel, tz, starts_at):
        return None
    return meeting_at(panel, starts_at.astimezone(tz).date(), tz)


def meeting_stamp(tz: ZoneInfo, instant: datetime) -> str:
    """A meeting as job keys and flags name it, in panel wall time: '2026-12-08T10:00'."""
    return f"{instant.astimezone(tz):%Y-%m-%dT%H:%M}"


def clock_time(tz: ZoneInfo, instant: datetime) -> str:
    """The time of day of `instant` as the panel reads it: '14:00'."""
    return f"{instant.astimezone(tz):%H:%M}"


def review_meeting(panel: PanelConfig, tz: ZoneInfo, review: date) -> Meeting | None:
    """R14: the first meeting on or after a review date (None if the configuration has none)."""
    day = next(iter(meeting_days(panel, review)), None)
    return None if day is None else meeting_at(panel, day, tz)
