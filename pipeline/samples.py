"""Synthetic referrals for `masp demo`, the tests and the benchmarks. Every name is invented."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from docx import Document as WordDocument
from openpyxl import load_workbook

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
PNG = "image/png"


@dataclass(frozen=True)
class Child:
    """An invented child and referrer for a synthetic referral."""

    name: str = "Robin Testcase"
    dob: date = date(2016, 4, 12)
    referrer_name: str = "Jo Example"
    referrer_email: str = "jo.example@school.example.org"
    panel: str = "MASP"
    section20: bool = False
    genogram_required: bool = False
    request_types: tuple[str, ...] = ("multi_agency_package",)
    agency: str = "Education"
    reasons: tuple[str, ...] = ("no_improvement",)


@dataclass(frozen=True)
class File:
    filename: str
    content_type: str
    data: bytes


def _docx_bytes(document: Any) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def referral_form(child: Child) -> bytes:
    """Our own referral form, filled in by code."""
    from pipeline.documents.form import fill_form

    values: dict[str, str | bool | Sequence[str]] = {
        "panel": child.panel,
        "child_name": child.name,
        "child_dob": child.dob.strftime("%d/%m/%Y"),
        "referrer_name": child.referrer_name,
        "referrer_email": child.referrer_email,
        "referrer_agency": child.agency,
        "reasons": list(child.reasons),
        "request_types": list(child.request_types) + (["section20"] if child.section20 else []),
        "consent": True,
        "genogram_required": child.genogram_required,
        "panel_question": "What multi-agency support can the panel offer the family?",
    }
    return fill_form(values)


def chronology(rows: int = 12) -> bytes:
    """A chronology as a Word table with the usual headers."""
    document = WordDocument()
    document.add_heading("Chronology of significant events", level=1)
    table = document.add_table(rows=1, cols=5)
    for cell, title in zip(
        table.rows[0].cells,
        ("Date", "Significant event", "Source", "Impact on the child", "Action / outcome"),
        strict=True,
    ):
        cell.text = title
    for i in range(rows):
        cells = table.add_row().cells
        cells[0].text = f"{(i % 27) + 1:02d}/{(i % 12) + 1:02d}/2025"
        cells[1].text = f"Invented event number {i + 1} for the synthetic family."
        cells[2].text = ("School", "Health visitor", "Police", "Housing")[i % 4]
        cells[3].text = "Low attendance noted."
        cells[4].text = "Referred to early help."
    return _docx_bytes(document)


def assessment() -> bytes:
    """An Early Help Assessment with the CAF domain headings."""
    document = WordDocument()
    document.add_heading("Early Help Assessment", level=0)
    for heading, text in (
        ("Development of the child", "Invented notes on health, learning and wellbeing."),
        ("Parents and carers", "Invented notes on basic care and guidance."),
        ("Family and environment", "Invented notes on housing, income and community."),
        ("Analysis", "The family would benefit from coordinated support."),
    ):
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    return _docx_bytes(document)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def genogram_png(width: int = 240, height: int = 160) -> bytes:
    """A genogram-like drawing: boxes and lines on white, no words."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            box = (40 <= x <= 80 or 160 <= x <= 200) and y in (20, 60)
            side = x in (40, 80, 160, 200) and 20 <= y <= 60
            line = (y == 40 and 80 <= x <= 160) or (x == 120 and 40 <= y <= 120)
            child = ((100 <= x <= 140) and y in (120, 150)) or (x in (100, 140) and 120 <= y <= 150)
            row += b"\x00\x00\x00" if box or side or line or child else b"\xff\xff\xff"
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def full_referral(child: Child, genogram: bool = True) -> list[File]:
    files = [
        File("Referral form.docx", DOCX, referral_form(child)),
        File("Chronology.docx", DOCX, chronology()),
        File("EHA.docx", DOCX, assessment()),
    ]
    if genogram:
        files.insert(2, File("genogram.png", PNG, genogram_png()))
    return files


@dataclass
class Mail:
    """A synthetic email to the panel inbox."""

    sender: str
    subject: str
    body: str = "Please find attached a referral for the panel."
    files: list[File] = field(default_factory=list)
    to: str = "panel@example.org"
    message_id: str | None = None
    in_reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def build(self) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Message-ID"] = self.message_id or make_msgid(domain="sender.example.org")
        message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
        if self.in_reply_to:
            message["In-Reply-To"] = self.in_reply_to
            message["References"] = self.in_reply_to
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.body)
        for item in self.files:
            maintype, _, subtype = item.content_type.partition("/")
            message.add_attachment(
                item.data, maintype=maintype, subtype=subtype, filename=item.filename
            )
        return message

    def as_bytes(self) -> bytes:
        return self.build().as_bytes()

    def with_headers(self, headers: dict[str, str]) -> Mail:
        return replace(self, headers={**self.headers, **headers})

    def with_files(self, files: list[File]) -> Mail:
        return replace(self, files=[*self.files, *files])


def forwarded(inner: Mail, by: str, note: str = "Forwarding this referral.") -> Mail:
    """`inner` forwarded as an attached message/rfc822 by `by`."""
    outer = Mail(sender=by, subject=f"Fwd: {inner.subject}", body=note)
    built = outer.build()
    built.add_attachment(inner.build())
    return _Prebuilt(built, sender=by, subject=outer.subject)


class _Prebuilt(Mail):
    def __init__(self, message: EmailMessage, sender: str, subject: str) -> None:
        super().__init__(sender=sender, subject=subject)
        self._message = message

    def build(self) -> EmailMessage:
        return self._message


def out_of_office(to_message_id: str, sender: str, subject: str) -> Mail:
    """An Exchange-style automatic reply to one of our emails."""
    return Mail(
        sender=sender,
        subject=f"Automatic reply: {subject}",
        body="I am out of the office until Monday with no access to email.",
        in_reply_to=to_message_id,
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )


def fill_workbook(
    data: bytes,
    decisions: dict[str, dict[str, Any]],
    actions: Sequence[Sequence[Any]] = (),
    done: str = "Yes",
) -> bytes:
    """Fill the meeting's decisions workbook as a person would in Excel: type into the Decisions
    rows by reference (values keyed by column header), mark the pre-filled review actions
    `done`, and add `actions` (reference, action, owner, agency, by when, done) below them."""
    book = load_workbook(io.BytesIO(data))
    sheet = book["Decisions"]
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        values = decisions.get(str(row[0].value), {})
        for header, value in values.items():
            row[headers.index(header)].value = value
    actions_sheet = book["Actions"]
    start = 2
    while actions_sheet.cell(row=start, column=1).value is not None:
        actions_sheet.cell(row=start, column=6).value = done
        start += 1
    for offset, line in enumerate(actions):
        for column, value in enumerate(line, start=1):
            actions_sheet.cell(row=start + offset, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
