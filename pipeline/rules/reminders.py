"""R8: when a referrer is reminded before a deadline, and why one must not be reminded now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import RemindersConfig
from pipeline.documents.kinds import Kind
from pipeline.mime.addresses import is_machine_address
from pipeline.rules.awaiting import Waiting
from pipeline.rules.meetings import local_instant
from pipeline.states import AUTOMATIC, CaseState


@dataclass(frozen=True)
class Moment:
    """One reminder time before a deadline: `name` goes into the job key ('72h', 'deadline-day')."""

    name: str
    at: datetime


@dataclass(frozen=True)
class Due:
    """A reminder a case is owed: when, and when it goes stale (the next one is due then)."""

    moment: Moment
    stale_after: datetime


def reminder_moments(reminders: RemindersConfig, tz: ZoneInfo, deadline: datetime) -> list[Moment]:
    """When to remind before `deadline`, earliest first, each strictly before it."""
    moments = [Moment(f"{h}h", deadline - timedelta(hours=h)) for h in reminders.hours_before]
    day_time = reminders.deadline_day_time
    if day_time is not None:
        day = deadline.astimezone(tz).date()
        moments.append(Moment("deadline-day", local_instant(day, day_time, tz)))
    # Two settings can name the same instant; one reminder then stands for both.
    unique = {m.at: m for m in sorted(moments, key=lambda m: (m.at, m.name)) if m.at < deadline}
    return sorted(unique.values(), key=lambda m: m.at)


def reminders_due(
    reminders: RemindersConfig, tz: ZoneInfo, deadline: datetime, received_at: datetime
) -> list[Due]:
    """The reminders a case received at `received_at` is owed before `deadline`."""
    # A moment before the referral arrived is not reminded of: the acknowledgement said it all.
    moments = [m for m in reminder_moments(reminders, tz, deadline) if m.at > received_at]
    # A referral received after the last moment (on the deadline's morning) is owed none.
    if not moments:
        return []
    # Each reminder goes stale when the next one is due, so after an outage only the latest
    # is sent; the last goes stale at the deadline, when the cut-off takes over.
    ends = [m.at for m in moments[1:]] + [deadline]
    return [Due(moment, end) for moment, end in zip(moments, ends, strict=True)]


def reminder_blocked(
    case: Waiting, missing: Sequence[Kind], categories: Sequence[str]
) -> str | None:
    """Why this case's referrer must not be reminded now, or None if they may be.

    `categories` are the ledger categories of the case's mail, oldest first.
    """
    if not case.awaiting:
        return f"the case is {case.state}"
    if case.state == CaseState.INCOMPLETE and not missing:
        return "nothing is missing"
    if is_machine_address(case.referrer_email):
        return "the referrer's address is a no-reply or mail-system address"
    if categories and AUTOMATIC.issuperset(categories):
        return "only automatic mail has come from this referrer"
    return None
