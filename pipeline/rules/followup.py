"""R14: when a Lead Professional is asked for outcomes, and whether their reply counts.

A case with no further panel review (MASG) is followed up a fixed number of weeks after the
meeting that decided it (its last review), at 09:00 in the panel's time zone; a reply counts
only from the address the request went to, about the case the request was about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The hour the request goes out: the start of a working day, not the middle of the night.
ASK_AT = time(9, 0)


def follow_up_due(meeting_day: date, weeks: int, tz: ZoneInfo) -> datetime:
    """When the Lead Professional is asked: `weeks` after the meeting day, at 09:00 local time."""
    return datetime.combine(meeting_day + timedelta(weeks=weeks), ASK_AT, tzinfo=tz)


def reminder_due(asked_at: datetime, days: int) -> datetime:
    """One reminder, `days` after the request, if it has not been answered."""
    return asked_at + timedelta(days=days)


@dataclass(frozen=True)
class ClaimedFollowUp:
    """A follow-up request as a reply's check sees it: its case and the address it went to
    (lower case)."""

    case_id: int
    lead_email: str


def reply_refusal(
    sender: str, thread_case: int | None, claimed: Sequence[ClaimedFollowUp] | None
) -> str | None:
    """Why a reply claiming to answer follow-up requests must not count, or None when it does.

    `sender` is the reply's From address (lower case), `thread_case` the case the email names
    (if any), `claimed` the requests its tokens and thread name (None when a token is forged,
    mangled or unknown). An answer to a request already answered counts as a second answer
    (kept, the administrator told), so it is not refused here.
    """
    if not claimed:
        return "bad token"
    cases = {c.case_id for c in claimed}
    if len(cases) > 1 or (thread_case is not None and thread_case not in cases):
        return "other case"
    if sender not in {c.lead_email for c in claimed}:
        return "not from the Lead Professional the request went to"
    return None
