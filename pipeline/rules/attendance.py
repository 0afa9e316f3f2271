"""R10: whether a referrer's answer to their timeslot counts, which answer an email gives, and what.

Pure functions of plain values: they decide, `panel/attendance` looks up the case and its slot
and records the answer (or tells the administrator why it was not recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pipeline.mime.message import Attachment
from pipeline.rules.itip import ANSWERS, CalendarReply, answers_current, is_calendar
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
