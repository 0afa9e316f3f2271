"""An iCalendar (RFC 5545) invitation for a referrer's timeslot, written by hand.

The event's summary is the case reference only (SPEC §7): calendars are shared and synced
to phones, so nothing about the child goes into one. Times are written in UTC so no
calendar program has to know the panel's time zone rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Invitation:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    organizer: str
    attendee: str
    stamp: datetime
    sequence: int = 0


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue on the next line after a space."""
    data = line.encode()
    parts: list[bytes] = []
    while len(data) > 75:
        cut = 75 if not parts else 74
        # Never split a UTF-8 character: step back to the start of one.
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut])
        data = data[cut:]
    parts.append(data)
    return "\r\n ".join(part.decode() for part in parts)


def to_ics(invite: Invitation, cancelled: bool = False) -> bytes:
    """The invitation as an iCalendar file with CRLF line endings: METHOD:REQUEST, or with
    `cancelled` METHOD:CANCEL, which takes the same event (by UID) out of the calendar."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//MASP pipeline//Panel timeslots//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:CANCEL" if cancelled else "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{invite.uid}",
        f"SEQUENCE:{invite.sequence}",
        f"DTSTAMP:{_utc(invite.stamp)}",
        f"DTSTART:{_utc(invite.starts_at)}",
        f"DTEND:{_utc(invite.ends_at)}",
        f"SUMMARY:{_escape(invite.summary)}",
        f"DESCRIPTION:{_escape(invite.description)}",
        f"ORGANIZER:mailto:{invite.organizer}",
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{invite.attendee}",
        "STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
