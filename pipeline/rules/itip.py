"""Reading a calendar program's answer to our invitation: the iTIP REPLY (RFC 5546) it sends.

Pure functions of an email's attachments: they decide, `attendance` acts. Outlook, Gmail and
Apple Calendar all answer an invitation with a METHOD:REPLY calendar (inline as text/calendar,
or attached as an .ics or application/ics file) whose ATTENDEE line carries the answer as its
PARTSTAT, whatever language the subject line is in. The calendar is hostile input like any
attachment: it is read only when small, and anything that does not parse is no answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.mime.message import Attachment

if TYPE_CHECKING:
    import icalendar

# A real REPLY is a few kilobytes; anything far bigger is not one, and is not parsed.
MAX_CALENDAR_BYTES = 256 * 1024
# Gmail attaches the reply twice (inline and as invite.ics); more than this is not a reply.
MAX_CALENDARS = 4
CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
# iTIP participation states and the attendance they record. TENTATIVE ("maybe" in Gmail and
# Apple Calendar) is kept as "maybe": the administrator sees it, and it is not a yes.
ANSWERS: Mapping[str, str] = {"ACCEPTED": "yes", "DECLINED": "no", "TENTATIVE": "maybe"}


@dataclass(frozen=True)
class CalendarReply:
    """One iTIP REPLY: the event's UID and each attendee's PARTSTAT, by lower-case address;
    the SEQUENCE of the invitation it answers, and the start time it gives (if it gives one
    in a time zone it defines)."""

    uid: str
    partstats: Mapping[str, str]
    sequence: int = 0
    starts_at: datetime | None = None


def is_calendar(attachment: Attachment) -> bool:
    """A calendar file (an invitation or an answer to one): never a case document."""
    declared = attachment.declared_type.lower().split(";", 1)[0].strip()
    return declared in CALENDAR_TYPES or attachment.filename.lower().endswith(".ics")


def _address(value: Any) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.strip().lower()


def _attendees(event: icalendar.Component) -> dict[str, str]:
    found = event.get("ATTENDEE")
    if found is None:
        return {}
    entries = found if isinstance(found, list) else [found]
    partstats: dict[str, str] = {}
    for entry in entries:
        params = getattr(entry, "params", {})
        partstats[_address(entry)] = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return partstats


def _sequence(event: icalendar.Component) -> int:
    # RFC 5546: a REPLY echoes the invitation's SEQUENCE, and leaves it out when it is 0.
    try:
        return max(0, int(str(event.get("SEQUENCE", 0)).strip()))
    except ValueError:
        return 0


def _start(event: icalendar.Component) -> datetime | None:
    try:
        start = event.decoded("DTSTART") if "DTSTART" in event else None
    except (ValueError, TypeError, KeyError):
        # An unreadable start time leaves the answer readable: it is only a second check.
        return None
    # A floating time (no zone) or a date is no instant to compare with a slot's.
    if isinstance(start, datetime) and start.tzinfo is not None:
        return start
    return None


def answers_current(reply: CalendarReply, invited_sequence: int, slot_start: datetime) -> bool:
    """Whether a REPLY answers the slot as it now stands.

    An answer to the newest invitation does. One to an earlier revision (a calendar answering
    late, or an old invitation accepted after the slot was taken back and given again) does
    only if it was for the time the slot has now: the referrer said they would come then.
    """
    if reply.sequence >= invited_sequence:
        return True
    return reply.starts_at is not None and reply.starts_at == slot_start


def read_reply(data: bytes) -> CalendarReply | None:
    """The REPLY in a calendar file, or None when it is not exactly one answered event."""
    if len(data) > MAX_CALENDAR_BYTES:
        return None
    # Imported here: most email carries no calendar, and every email is filed in this process.
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(data)
        if str(calendar.get("METHOD", "")).strip().upper() != "REPLY":
            return None
        events = calendar.walk("VEVENT")
        if len(events) != 1 or not str(events[0].get("UID", "")).strip():
            return None
        event = events[0]
        return CalendarReply(
            str(event["UID"]).strip(), _attendees(event), _sequence(event), _start(event)
        )
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        # icalendar raises ValueError for what it cannot parse; the others guard its
        # less-travelled paths against hostile bytes. Either way it is not an answer.
        return None


def find_reply(attachments: Iterable[Attachment]) -> CalendarReply | None:
    """The first iTIP REPLY among an email's calendar attachments, if it carries one."""
    calendars = [a for a in attachments if is_calendar(a)][:MAX_CALENDARS]
    for attachment in calendars:
        reply = read_reply(attachment.data)
        if reply is not None:
            return reply
    return None
