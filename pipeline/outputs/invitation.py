"""An iCalendar (RFC 5545) invitation for a referrer's timeslot, and its identity (the UID).

Written with the `icalendar` library. Times are in UTC, which every calendar program places
right without knowing the panel's time zone rules: a single event needs no VTIMEZONE, and
Outlook reads generated VTIMEZONEs (dates rather than yearly rules) unreliably. The summary
carries minimal identifiers only (reference, initials, age: SPEC §7): calendars are shared and
synced to phones.

The UID is signed (an HMAC with the installation's key) and names the case and the meeting, so
a calendar program's answer (an iTIP REPLY echoes the UID) proves which slot it is for, and a
cancellation reuses it to remove the same entry. Each revision of that entry (an invitation, a
cancellation, an invitation again) carries a higher SEQUENCE, numbered by `panel.revisions`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import icalendar

_UID = re.compile(
    r"^masp-slot\.([A-Z][A-Z0-9]{1,9}-\d{4}-\d{4,6})\.(\d{8}T\d{4}Z)\.([0-9a-f]{16})@[^@\s]+$"
)
_STAMP = "%Y%m%dT%H%MZ"


@dataclass(frozen=True)
class Invitation:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str
    organizer: str
    organizer_name: str
    attendee: str
    stamp: datetime
    sequence: int = 0


@dataclass(frozen=True)
class SlotIdentity:
    """What a verified UID names: the case and the meeting (UTC) the slot is at."""

    reference: str
    meeting: datetime


def _uid_signature(key: bytes, reference: str, stamp: str) -> str:
    digest = hmac.new(key, f"slot-uid:{reference}:{stamp}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def slot_uid(key: bytes, domain: str, reference: str, meeting: datetime) -> str:
    """The UID of a case's invitation to a meeting: the same every time it is written."""
    stamp = meeting.astimezone(UTC).strftime(_STAMP)
    return f"masp-slot.{reference}.{stamp}.{_uid_signature(key, reference, stamp)}@{domain}"


def read_slot_uid(key: bytes, uid: str) -> SlotIdentity | None:
    """The case and meeting a UID of ours names, or None if it is not ours or is forged."""
    match = _UID.match(uid.strip())
    if match is None:
        return None
    reference, stamp, signature = match.groups()
    if not hmac.compare_digest(signature, _uid_signature(key, reference, stamp)):
        return None
    meeting = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    return SlotIdentity(reference, meeting)


def _event(invite: Invitation, cancelled: bool) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", invite.stamp.astimezone(UTC))
    event.add("dtstart", invite.starts_at.astimezone(UTC))
    event.add("dtend", invite.ends_at.astimezone(UTC))
    event.add("summary", invite.summary)
    event.add("description", invite.description)
    if invite.location:
        event.add("location", invite.location)
    organizer = icalendar.vCalAddress(f"mailto:{invite.organizer}")
    organizer.params["CN"] = invite.organizer_name
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{invite.attendee}")
    attendee.params.update(ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE")
    event.add("attendee", attendee)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def to_ics(invite: Invitation, cancelled: bool = False) -> bytes:
    """The invitation as an iCalendar file (CRLF line endings): METHOD:REQUEST, or with
    `cancelled` METHOD:CANCEL, which takes the same event (by UID) out of the calendar."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//MASP pipeline//Panel timeslots//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    calendar.add_component(_event(invite, cancelled))
    return bytes(calendar.to_ical())
