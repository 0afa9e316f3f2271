"""R7: whether a case will not be (or was not) heard at its meeting, why, and where it goes.

Pure functions of a case's facts (`Standing`), the clock and the panel's configuration;
`panel.unheard` moves what they find and tells the referrer and the administrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pipeline.config import PanelConfig
from pipeline.rules.meetings import Meeting, is_held, meeting_at, meeting_days, meets_on
from pipeline.states import AWAITING, AWAITING_SCREENING, IN_PLAY, CaseState


class Why(StrEnum):
    """Why a case was not heard, as its flag, the audit trail and the administrator read it."""

    CANCELLED = "meeting cancelled"
    RESCHEDULED = "meeting time changed"
    # The meeting is still on the same day, at a time still ahead: the case follows it.
    RETIMED = "meeting time changed on the same day"
    UNSCREENED = "not screened in time"
    APPROVED_LATE = "approved too late for a timeslot"
    NOT_READY = "documents or information still missing"


# What the referrer reads after "was not heard at the meeting on …:".
BECAUSE = {
    Why.UNSCREENED: "it had not been screened by the time the meeting began",
    Why.APPROVED_LATE: "it was approved too late to be given a time at that meeting",
    Why.NOT_READY: "it was still waiting for documents or information when the meeting began",
}


@dataclass(frozen=True)
class Standing:
    """What the rule needs to know of a case: its state, and where it stands at its meeting."""

    state: CaseState
    section20: bool
    meeting: datetime
    # It has a timeslot at that meeting.
    slotted: bool

    @property
    def waiting(self) -> bool:
        """Still waiting for the referrer: it goes where the documents can still be in time."""
        return self.state in AWAITING and not self.section20


@dataclass(frozen=True)
class Unheard:
    """A case not heard at its meeting: why, since when, and the meeting it goes to (None when
    the configuration gives no meeting ahead: the move then fails, naming the key, until it
    does)."""

    why: Why
    due: datetime
    to: Meeting | None


def not_heard(
    standing: Standing, panel: PanelConfig, tz: ZoneInfo, now: datetime
) -> Unheard | None:
    """Whether the case will not be (or was not) heard at its meeting, and where it goes next."""
    if standing.state not in IN_PLAY:
        return None
    began = now >= standing.meeting
    # A meeting that began with the case on it, given a time, heard it, whatever the
    # configuration now says of that date: a later rule, time or cancellation cannot undo a
    # meeting that took place, and is read against today's configuration only.
    if began and standing.slotted:
        return None
    if is_held(panel, tz, standing.meeting):
        if not began:
            return None
        return Unheard(_why_unheard(standing), standing.meeting, next_for(standing, panel, tz, now))
    day = standing.meeting.astimezone(tz).date()
    # The day still has a meeting, at another time: the meeting was moved, not cancelled.
    why = Why.RESCHEDULED if meets_on(panel, day) else Why.CANCELLED
    to = next_for(standing, panel, tz, now)
    if why == Why.RESCHEDULED and to is not None and to.day == day:
        why = Why.RETIMED
    return Unheard(why, min(now, standing.meeting), to)


def _why_unheard(standing: Standing) -> Why:
    if standing.state == CaseState.APPROVED:
        return Why.APPROVED_LATE
    if standing.state in AWAITING_SCREENING:
        return Why.UNSCREENED
    return Why.NOT_READY


def next_for(standing: Standing, panel: PanelConfig, tz: ZoneInfo, now: datetime) -> Meeting | None:
    """The next meeting: the first whose deadline is ahead for a case still waiting for
    documents (R3), else the first that has not begun (a Section 20 emergency included, R7).
    None if the configuration gives no meeting ahead at all."""
    for day in meeting_days(panel, now.astimezone(tz).date()):
        meeting = meeting_at(panel, day, tz)
        if (meeting.deadline if standing.waiting else meeting.starts_at) > now:
            return meeting
    return None


def moved_flag(standing: Standing, unheard: Unheard, tz: ZoneInfo) -> str | None:
    """The flag a moved case carries; None for a case that follows its meeting to another
    time that day, which was not moved from anything."""
    if unheard.why == Why.RETIMED:
        return None
    day = standing.meeting.astimezone(tz).date()
    return f"moved from {day.isoformat()}: {unheard.why.value}"


def followed_to(found: Sequence[Unheard]) -> Meeting | None:
    """The meeting every case followed to its new time that day, or None if any case was moved
    for another reason: the administrator then reads "not heard", not the new time."""
    if found and all(u.why == Why.RETIMED and u.to is not None for u in found):
        return found[0].to
    return None


def next_step(standing: Standing) -> str:
    """What the referrer is told happens now: send documents, wait for screening, or a slot."""
    if standing.waiting:
        return "documents"
    if standing.state in AWAITING_SCREENING and not standing.section20:
        return "screening"
    return "timeslot"
