"""R10 Timeslots: who is heard at a meeting, in what order, and at what time.

Pure functions of a case's facts and the panel's timetable; `panel.slots` gives the slots and
sends the invitations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import PanelConfig
from pipeline.rules.meetings import Meeting, clock_time, local_instant
from pipeline.states import AWAITING_SCREENING, HEARD_UNDECIDED, CaseState

# A case carrying this flag is a follow-up (R11 (1), R14): it is heard first. Reviews set it.
FOLLOW_UP_FLAG = "follow-up"


@dataclass(frozen=True)
class Break:
    starts_at: datetime
    minutes: int

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Candidate:
    """What the running order needs to know of a case."""

    case_id: int
    received_at: datetime
    section20: bool = False
    follow_up: bool = False


def is_listed(state: CaseState, section20: bool, unscreened: str) -> bool:
    """Whether a case is heard at its meeting (R7, R9): approved, or a Section 20 emergency,
    or — when the configuration lists unscreened cases (`screening.unscreened`) — complete and
    awaiting screening. A Section 20 emergency is heard in any state still in play (not
    declined, held, closed or already decided): `states.HEARD_UNDECIDED`."""
    if state == CaseState.APPROVED:
        return True
    if section20 and state in HEARD_UNDECIDED:
        return True
    return unscreened == "list" and state in AWAITING_SCREENING


def running_order(cases: Iterable[Candidate]) -> list[Candidate]:
    """Follow-ups first, then Section 20 emergencies, then everyone else by arrival."""
    return sorted(cases, key=lambda c: (not c.follow_up, not c.section20, c.received_at, c.case_id))


def _clear_of_breaks(start: datetime, length: timedelta, breaks: Sequence[Break]) -> datetime:
    # A case is never cut in two by a break: a slot that would overlap one starts after it.
    for pause in breaks:
        if start < pause.ends_at and start + length > pause.starts_at:
            start = pause.ends_at
    return start


def allocate(
    start: datetime, length_minutes: int, breaks: Sequence[Break], count: int
) -> list[tuple[datetime, datetime]]:
    """`count` consecutive slots from `start`, each `length_minutes` long, around the breaks."""
    length = timedelta(minutes=length_minutes)
    ordered = sorted(breaks, key=lambda pause: pause.starts_at)
    slots: list[tuple[datetime, datetime]] = []
    cursor = start
    for _ in range(count):
        cursor = _clear_of_breaks(cursor, length, ordered)
        slots.append((cursor, cursor + length))
        cursor += length
    return slots


def timetable(panel: PanelConfig, meeting: Meeting, tz: ZoneInfo) -> tuple[datetime, list[Break]]:
    """Where the first slot starts (`slots.start`, else the meeting) and that day's breaks."""
    day = meeting.starts_at.astimezone(tz).date()
    start = local_instant(day, panel.slots.start, tz) if panel.slots.start else meeting.starts_at
    breaks = [Break(local_instant(day, b.at, tz), b.minutes) for b in panel.slots.breaks]
    return start, breaks


def next_slots(
    panel: PanelConfig, meeting: Meeting, tz: ZoneInfo, first: int, count: int
) -> list[tuple[datetime, datetime]]:
    """The times of positions `first` … `first + count - 1` at the meeting: the next free slots
    after those already given, which keep their times."""
    start, breaks = timetable(panel, meeting, tz)
    return allocate(start, panel.slots.length_minutes, breaks, first + count)[first:]


def local_times(tz: ZoneInfo, starts_at: datetime, ends_at: datetime) -> dict[str, str]:
    """A slot's start and end in local time, for templates."""
    return {"slot_start": clock_time(tz, starts_at), "slot_end": clock_time(tz, ends_at)}
