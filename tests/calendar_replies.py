"""Synthetic calendar answers (iTIP REPLY, RFC 5546 over iMIP, RFC 6047) as real programs send them.

Each builder writes the MIME structure its program uses, so intake meets what a real inbox
holds: Outlook/Exchange (multipart/alternative with an inline text/calendar part, Windows time
zone names, the subject in the user's language), Gmail (multipart/mixed: the calendar inline
and again as an application/ics attachment "invite.ics"), Apple Calendar (a text/calendar
attachment, quoted-printable), and a bare client that sends only an application/ics file.
Every name and address is invented.
"""

from __future__ import annotations

import base64
import hashlib
import quopri
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Answer:
    """Who answers which invitation, and how."""

    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    sender: str
    sender_name: str = "Jo Example"
    attendee: str = ""
    partstat: str = "ACCEPTED"
    subject_word: str = "Accepted:"
    organizer: str = "panel@example.org"
    # The SEQUENCE of the invitation answered: a calendar program echoes it (RFC 5546).
    sequence: int = 0

    @property
    def who(self) -> str:
        return self.attendee or self.sender

    @property
    def subject(self) -> str:
        return f"{self.subject_word} {self.summary}"


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _windows_local(instant: datetime) -> str:
    # Exchange writes times in its own VTIMEZONE; a December meeting in London is GMT.
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def _fold(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        while len(line) > 74:
            lines.append(line[:74])
            line = " " + line[74:]
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _digest(answer: Answer) -> str:
    return hashlib.sha256(repr(answer).encode()).hexdigest()[:16]


def _headers(answer: Answer, content_type: str, extra: str = "") -> str:
    return (
        f'From: "{answer.sender_name}" <{answer.sender}>\r\n'
        f"To: Multi Agency Support Panel <{answer.organizer}>\r\n"
        f"Subject: {answer.subject}\r\n"
        "Date: Thu, 03 Dec 2026 10:15:00 +0000\r\n"
        f"Message-ID: <reply.{_digest(answer)}@client.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        f"{extra}"
        f"Content-Type: {content_type}\r\n"
    )


def _encoded_subject(answer: Answer) -> str:
    # Outlook writes a non-ASCII subject as an RFC 2047 encoded word.
    encoded = base64.b64encode(answer.subject.encode()).decode()
    return f"=?utf-8?B?{encoded}?="


def outlook_ics(answer: Answer, language: str = "en-GB") -> str:
    return _fold(
        "BEGIN:VCALENDAR\n"
        "METHOD:REPLY\n"
        "PRODID:Microsoft Exchange Server 2010\n"
        "VERSION:2.0\n"
        "BEGIN:VTIMEZONE\n"
        "TZID:GMT Standard Time\n"
        "BEGIN:STANDARD\n"
        "DTSTART:16010101T020000\n"
        "TZOFFSETFROM:+0100\n"
        "TZOFFSETTO:+0000\n"
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\n"
        "END:STANDARD\n"
        "BEGIN:DAYLIGHT\n"
        "DTSTART:16010101T010000\n"
        "TZOFFSETFROM:+0000\n"
        "TZOFFSETTO:+0100\n"
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\n"
        "END:DAYLIGHT\n"
        "END:VTIMEZONE\n"
        "BEGIN:VEVENT\n"
        f'ATTENDEE;PARTSTAT={answer.partstat};CN="{answer.sender_name}":mailto:'
        f"{answer.who.upper()}\n"
        f"COMMENT;LANGUAGE={language}:\\n\n"
        f"SUMMARY;LANGUAGE={language}:{answer.subject}\n"
        f"DTSTART;TZID=GMT Standard Time:{_windows_local(answer.starts_at)}\n"
        f"DTEND;TZID=GMT Standard Time:{_windows_local(answer.ends_at)}\n"
        f"UID:{answer.uid}\n"
        "CLASS:PUBLIC\n"
        "PRIORITY:5\n"
        "DTSTAMP:20261203T101500Z\n"
        "TRANSP:OPAQUE\n"
        "STATUS:CONFIRMED\n"
        f"SEQUENCE:{answer.sequence}\n"
        f"X-MICROSOFT-CDO-APPT-SEQUENCE:{answer.sequence}\n"
        "X-MICROSOFT-CDO-OWNERAPPTID:-1021408347\n"
        "X-MICROSOFT-CDO-REPLYTIME:20261203T101500Z\n"
        "END:VEVENT\n"
        "END:VCALENDAR"
    )


def outlook(answer: Answer, language: str = "en-GB") -> bytes:
    """Outlook 365 / Exchange: text, HTML and the iTIP part side by side, no In-Reply-To."""
    boundary = "_000_LO2P265MB0001EXAMPLE_"
    calendar = base64.encodebytes(outlook_ics(answer, language).encode()).decode()
    subject = _encoded_subject(answer) if not answer.subject.isascii() else answer.subject
    head = _headers(
        answer,
        f'multipart/alternative; boundary="{boundary}"',
        f"Thread-Topic: {answer.summary}\r\n"
        "Thread-Index: AdtFQm9ZbmV4YW1wbGUxMjM0NTY3ODkw\r\n"
        f"Content-Language: {language}\r\n"
        "X-MS-Has-Attach:\r\n"
        "X-MS-TNEF-Correlator:\r\n",
    ).replace(f"Subject: {answer.subject}", f"Subject: {subject}")
    return (
        head + "\r\n"
        f"--{boundary}\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{calendar}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def google_ics(answer: Answer) -> str:
    return _fold(
        "BEGIN:VCALENDAR\n"
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN\n"
        "VERSION:2.0\n"
        "CALSCALE:GREGORIAN\n"
        "METHOD:REPLY\n"
        "BEGIN:VEVENT\n"
        f"DTSTART:{_utc(answer.starts_at)}\n"
        f"DTEND:{_utc(answer.ends_at)}\n"
        "DTSTAMP:20261203T101500Z\n"
        f"ORGANIZER;CN=Multi Agency Support Panel:mailto:{answer.organizer}\n"
        f"UID:{answer.uid}\n"
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
        f"PARTSTAT={answer.partstat};CN={answer.sender_name};X-NUM-GUESTS=0:mailto:{answer.who}\n"
        "CREATED:20261203T100000Z\n"
        "LAST-MODIFIED:20261203T101500Z\n"
        f"SEQUENCE:{answer.sequence}\n"
        "STATUS:CONFIRMED\n"
        f"SUMMARY:{answer.summary.replace(',', chr(92) + ',')}\n"
        "TRANSP:OPAQUE\n"
        "END:VEVENT\n"
        "END:VCALENDAR"
    )


def gmail(answer: Answer) -> bytes:
    """Gmail: the calendar inline in multipart/alternative and again as invite.ics."""
    outer, inner = "000000000000a1b2c3d4e5f60001", "000000000000a1b2c3d4e5f60002"
    ics = google_ics(answer)
    state = {"ACCEPTED": "accepted", "DECLINED": "declined"}.get(answer.partstat, "replied to")
    text = (
        f"{answer.sender_name} has {state} this invitation.\r\n\r\nInvitation from Google Calendar"
    )
    attachment = base64.encodebytes(ics.encode()).decode()
    return (
        _headers(answer, f'multipart/mixed; boundary="{outer}"') + "\r\n"
        f"--{outer}\r\n"
        f'Content-Type: multipart/alternative; boundary="{inner}"\r\n\r\n'
        f"--{inner}\r\n"
        'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.encodebytes(text.encode()).decode()}\r\n"
        f"--{inner}\r\n"
        'Content-Type: text/html; charset="UTF-8"\r\n\r\n'
        f"<p>{text}</p>\r\n"
        f"--{inner}\r\n"
        'Content-Type: text/calendar; charset="UTF-8"; method=REPLY\r\n'
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        f"{ics}\r\n"
        f"--{inner}--\r\n\r\n"
        f"--{outer}\r\n"
        'Content-Type: application/ics; name="invite.ics"\r\n'
        'Content-Disposition: attachment; filename="invite.ics"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{attachment}\r\n"
        f"--{outer}--\r\n"
    ).encode()


def apple(answer: Answer) -> bytes:
    """Apple Calendar: a short text part and the iTIP reply as a quoted-printable attachment."""
    boundary = "Apple-Mail=_0B5E2C1A-0000-4000-8000-EXAMPLE00001"
    ics = _fold(
        "BEGIN:VCALENDAR\n"
        "METHOD:REPLY\n"
        "VERSION:2.0\n"
        "PRODID:-//Apple Inc.//macOS 15.1//EN\n"
        "BEGIN:VEVENT\n"
        f'ATTENDEE;CN="{answer.sender_name}";CUTYPE=INDIVIDUAL;EMAIL="{answer.who}";'
        f"PARTSTAT={answer.partstat}:mailto:{answer.who}\n"
        f"DTEND:{_utc(answer.ends_at)}\n"
        f"DTSTART:{_utc(answer.starts_at)}\n"
        "DTSTAMP:20261203T101500Z\n"
        f"SEQUENCE:{answer.sequence}\n"
        f"SUMMARY:{answer.summary.replace(',', chr(92) + ',')}\n"
        f"UID:{answer.uid}\n"
        "END:VEVENT\n"
        "END:VCALENDAR"
    )
    body = quopri.encodestring(ics.encode()).decode()
    return (
        _headers(answer, f'multipart/mixed; boundary="{boundary}"') + "\r\n"
        f"--{boundary}\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{answer.sender_name} has replied to your invitation.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "Content-Type: text/calendar; charset=utf-8; method=REPLY;\r\n"
        "\tname=iCal-20261203-101500.ics\r\n"
        "Content-Disposition: attachment;\r\n"
        "\tfilename=iCal-20261203-101500.ics\r\n\r\n"
        f"{body}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def ics_file_only(answer: Answer) -> bytes:
    """A client that sends the reply only as an application/ics file beside a line of text."""
    boundary = "=_ics_only_boundary_1"
    subject = _encoded_subject(answer) if not answer.subject.isascii() else answer.subject
    head = _headers(answer, f'multipart/mixed; boundary="{boundary}"').replace(
        f"Subject: {answer.subject}", f"Subject: {subject}"
    )
    attachment = base64.encodebytes(google_ics(answer).encode()).decode()
    return (
        head + "\r\n"
        f"--{boundary}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Je serai présente.\r\n\r\n"
        f"--{boundary}\r\n"
        'Content-Type: application/ics; name="reponse.ics"\r\n'
        'Content-Disposition: attachment; filename="reponse.ics"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{attachment}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
