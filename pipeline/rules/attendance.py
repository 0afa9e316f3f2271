"""R10: whether a referrer's answer to their timeslot counts, which answer an email gives, and what;
when the administrator is told who has not answered.

Pure functions of plain values: they decide, `panel/attendance` looks up the case and its slot
and records the answer (or tells the administrator why it was not recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.mime.message import Attachment
from pipeline.rules.itip import ANSWERS, CalendarReply, answers_current, is_calendar
from pipeline.rules.meetings import Meeting, local_instant
from pipeline.rules.reply_text import parse_attendance


def from_referrer(sender: str, referrer: str) -> bool:
    """Whether the email's From address is the referrer's (a Reply-To is anyone's to write)."""
    return sender.lower() == referrer.lower()


def carries_documents(attachments: Iterable[Attachment]) -> bool:
    """Whether an email brings anything but calendars: then it is intake's to file, so nothing
    a referrer sends is lost to the attendance check."""
    return any(not is_calendar(a) for a in attachments)


def calendar_refusal(
    sender: str, reply: CalendarReply, referrer: str, meeting: datetime, now: datetime
) -> str | None:
    """Why a calendar answer to a referrer's invitation must not count (a rule), or None.

    Both the email and the answer in it must be the referrer's: a colleague who was forwarded
    the invitation, or anyone writing the referrer's address as an attendee, answers for
    nobody.
    """
    if not from_referrer(sender, referrer):
        return "not from the referrer"
    partstat = reply.partstats.get(referrer.lower())
    if partstat is None:
        return "the answer is not the referrer's"
    if partstat not in ANSWERS:
        return f"no answer in it ({partstat})"
    if meeting <= now:
        return "the meeting has started"
    return None


def stale_refusal(reply: CalendarReply, invited_sequence: int, slot_start: datetime) -> str | None:
    """Why an answer does not count for the slot as it now stands (an earlier revision's
    answer, for another time), or None."""
    if answers_current(reply, invited_sequence, slot_start):
        return None
    return "it answers an earlier invitation, for a time the timeslot no longer has"


def calendar_answer(reply: CalendarReply, referrer: str) -> str:
    """The attendance a counted calendar answer records: yes, no or maybe."""
    return ANSWERS[reply.partstats[referrer.lower()]]


def typed_answer(sender: str, referrer: str, subject: str, body: str) -> str | None:
    """'yes' or 'no' when the referrer's own email clearly answers; None from anyone else."""
    if not from_referrer(sender, referrer):
        return None
    return parse_attendance(subject, body)


# The attendance check goes at this time on the last weekday (before Saturday) before the meeting.
CHECK_TIME = time(9, 0)
SATURDAY = 5


def attendance_check(meeting: Meeting, tz: ZoneInfo) -> datetime:
    """When the administrator learns who has not confirmed: 09:00 on the last weekday before
    the meeting, a working day to chase them; halfway from the slot notice to the meeting when
    the notice comes later than that."""
    day = meeting.day - timedelta(days=1)
    while day.weekday() >= SATURDAY:
        day -= timedelta(days=1)
    moment = local_instant(day, CHECK_TIME, tz)
    if moment > meeting.slot_notice:
        return moment
    return meeting.slot_notice + (meeting.starts_at - meeting.slot_notice) / 2
