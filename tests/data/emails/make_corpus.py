"""Regenerates the golden corpus: synthetic .eml files, each with a hand-written expected parse."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from extract_msg.ole_writer import OleWriter
from openpyxl import Workbook
from pypdf import PdfWriter

HERE = Path(__file__).parent
CRLF = b"\r\n"
DATE = "Tue, 03 Mar 2026 09:15:00 +0000"
PANEL = "MASP Panel <panel@masp.example.org>"
REFERRER = "Alex Example <alex.example@school.example.org>"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIXED_TIME = datetime(2026, 3, 1, 9, 0, 0)

Header = str | bytes
Case = tuple[bytes, dict[str, Any]]


# ---------------------------------------------------------------- tiny real documents


def _rezip(data: bytes) -> bytes:
    """Rewrites an Office zip with fixed times so regenerating the corpus gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 3, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                # openpyxl stamps the save time here whatever the properties say.
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-03-01T09:00:00Z", content
                )
            target.writestr(info, content)
    return out.getvalue()


def make_docx(title: str) -> bytes:
    """A real Word document, trimmed of the template's unused styles so it stays a few KB."""
    document = Document()
    document.core_properties.created = FIXED_TIME
    document.core_properties.modified = FIXED_TIME
    document.add_heading(title, 1)
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Date", "Event", "Source"), strict=True):
        cell.text = text
    for cell, text in zip(
        table.rows[1].cells, ("01/02/2026", "Synthetic event", "School"), strict=True
    ):
        cell.text = text
    keep = {"Normal", "Heading1", "DefaultParagraphFont", "TableNormal", "TableGrid"}
    styles = document.styles.element
    for element in list(styles):
        if element.tag == qn("w:latentStyles") or (
            element.tag == qn("w:style") and element.get(qn("w:styleId")) not in keep
        ):
            styles.remove(element)
    unused = ("stylesWithEffects", "customXml", "webSettings", "theme", "fontTable")
    for rel_id, rel in list(document.part.rels.items()):
        if rel.reltype.endswith(unused):
            del document.part.rels[rel_id]
    for rel_id, rel in list(document.part.package.rels.items()):
        if rel.reltype.endswith("thumbnail"):
            del document.part.package.rels[rel_id]
    out = io.BytesIO()
    document.save(out)
    return _rezip(out.getvalue())


def make_xlsx() -> bytes:
    workbook = Workbook()
    workbook.properties.created = FIXED_TIME
    sheet = workbook.active
    sheet.title = "Chronology"
    sheet.append(["Date", "Event", "Source", "Impact on child", "Outcome"])
    sheet.append(["01/02/2026", "Synthetic home visit", "Early Help", "Low", "Plan agreed"])
    out = io.BytesIO()
    workbook.save(out)
    return _rezip(out.getvalue())


def make_pdf(title: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_png(width: int, height: int, seed: int) -> bytes:
    """A real PNG; random pixels keep it from compressing, so the size is predictable."""
    noise = random.Random(seed)
    rows = b"".join(b"\0" + noise.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def make_msg(subject: str, body: str, files: Sequence[tuple[str, str, bytes]]) -> bytes:
    """A real Outlook .msg (OLE compound file) with string, body and attachment streams."""

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le")

    def variable(tag: int, size: int) -> bytes:
        return struct.pack("<IIII", tag, 6, size, 0)

    writer = OleWriter()
    strings = {0x001A001F: utf16("IPM.Note"), 0x0037001F: utf16(subject), 0x1000001F: utf16(body)}
    header = struct.pack("<8sIIII8s", b"", 0, len(files), 0, len(files), b"")
    properties = header + b"".join(variable(tag, len(value) + 2) for tag, value in strings.items())
    writer.addEntry("__properties_version1.0", properties)
    for tag, value in strings.items():
        writer.addEntry(f"__substg1.0_{tag:08X}", value)
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    for index, (name, mime, data) in enumerate(files):
        folder = f"__attach_version1.0_#{index:08X}"
        streams = {0x3707001F: utf16(name), 0x370E001F: utf16(mime), 0x37010102: data}
        attach_props = struct.pack("<IIQ", 0x37050003, 6, 1) + b"".join(
            variable(tag, len(value) + (0 if tag & 0xFFFF == 0x0102 else 2))
            for tag, value in streams.items()
        )
        writer.addEntry(folder, storage=True)
        writer.addEntry(f"{folder}/__properties_version1.0", b"\0" * 8 + attach_props)
        for tag, value in streams.items():
            writer.addEntry(f"{folder}/__substg1.0_{tag:08X}", value)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _tnef_attribute(level: int, attribute: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return (
        struct.pack("<BII", level, (kind << 16) | attribute, len(data))
        + data
        + struct.pack("<H", checksum)
    )


def _mapi_long_filename(name: str) -> bytes:
    """One MAPI property, PR_ATTACH_LONG_FILENAME as Unicode, as TNEF's attAttachment carries it."""
    value = (name + "\0").encode("utf-16-le")
    padded = value + b"\0" * (-len(value) % 4)
    return struct.pack("<IHHII", 1, 0x001F, 0x3707, 1, len(value)) + padded


def make_tnef(files: Sequence[tuple[bytes, str | None, bytes]], body: bytes) -> bytes:
    """winmail.dat as Outlook writes it (MS-OXTNEF): (8.3 title in cp1252, long name, data)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    out += _tnef_attribute(1, 0x800C, 0x0002, body)
    for title, long_name, data in files:
        out += _tnef_attribute(2, 0x9002, 0x0006, b"\1\0" + b"\xff" * 8 + b"\0" * 4)
        out += _tnef_attribute(2, 0x8010, 0x0001, title + b"\0")
        out += _tnef_attribute(2, 0x800F, 0x0006, data)
        if long_name is not None:
            out += _tnef_attribute(2, 0x9005, 0x0006, _mapi_long_filename(long_name))
    return out


# ---------------------------------------------------------------- MIME building blocks


def _line(value: Header) -> bytes:
    return value if isinstance(value, bytes) else value.encode("ascii")


def entity(head: Sequence[Header], body: bytes) -> bytes:
    """A message or MIME part: header lines, a blank line, the body."""
    return CRLF.join(_line(line) for line in head) + CRLF + CRLF + body


def multipart(boundary: str, parts: Sequence[bytes], *, closed: bool = True) -> bytes:
    marker = b"--" + boundary.encode("ascii")
    out = b"This is a multi-part message in MIME format." + CRLF
    out += b"".join(marker + CRLF + part + CRLF for part in parts)
    return out + (marker + b"--" + CRLF if closed else b"")


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def text_part(text: str, *, charset: str = "utf-8", subtype: str = "plain") -> bytes:
    head = [
        f'Content-Type: text/{subtype}; charset="{charset}"',
        "Content-Transfer-Encoding: base64",
    ]
    return entity(head, b64(text.encode(charset)))


def file_part(
    content_type: Header, data: bytes, disposition: Header | None, *extra: Header
) -> bytes:
    head: list[Header] = [
        f"Content-Type: {content_type}" if isinstance(content_type, str) else content_type
    ]
    head.append("Content-Transfer-Encoding: base64")
    if disposition is not None:
        head.append(
            f"Content-Disposition: {disposition}" if isinstance(disposition, str) else disposition
        )
    return entity([*head, *extra], b64(data))


def attached(ctype: str, name: str, data: bytes) -> bytes:
    """The ordinary way: quoted ASCII name in both headers."""
    return file_part(f'{ctype}; name="{name}"', data, f'attachment; filename="{name}"')


def envelope(
    subject: Header,
    *,
    sender: Header = REFERRER,
    message_id: str | None = "auto",
    content_type: str = "text/plain; charset=utf-8",
    extra: Sequence[Header] = (),
) -> list[Header]:
    head: list[Header] = [
        sender if isinstance(sender, bytes) else f"From: {sender}",
        f"To: {PANEL}",
        subject if isinstance(subject, bytes) else f"Subject: {subject}",
        f"Date: {DATE}",
    ]
    if message_id is not None:
        head.append(f"Message-ID: <{message_id}>")
    head += ["MIME-Version: 1.0", *extra, f"Content-Type: {content_type}"]
    return head


def expect(
    message_id: str | None,
    from_address: str,
    from_name: str,
    subject: str,
    attachments: Sequence[dict[str, Any]] = (),
    *,
    automatic: str | None = None,
    problems: int = 0,
    **more: Any,
) -> dict[str, Any]:
    expected = {
        "message_id": message_id,
        "from_address": from_address,
        "from_name": from_name,
        "subject": subject,
        "attachments": list(attachments),
        "automatic": automatic,
        "problems": problems,
    }
    return expected | more


def att(filename: str, declared_type: str, data: bytes, origin: str = "") -> dict[str, Any]:
    return {
        "filename": filename,
        "declared_type": declared_type,
        "origin": origin,
        "size": len(data),
    }


ALEX = ("alex.example@school.example.org", "Alex Example")


# ---------------------------------------------------------------- the corpus


def mixed_email(
    subject: Header,
    message_id: str | None,
    parts: Sequence[bytes],
    *,
    closed: bool = True,
    content_type: str | None = None,
    **head: Any,
) -> bytes:
    """A multipart/mixed email with the usual envelope; the boundary is derived from the id."""
    boundary = "b-" + (message_id or "no-id").partition("@")[0]
    ctype = content_type or f'multipart/mixed; boundary="{boundary}"'
    top = envelope(subject, message_id=message_id, content_type=ctype, **head)
    return entity(top, multipart(boundary, parts, closed=closed))


def inline_image(name: str, data: bytes, content_id: str) -> bytes:
    disposition = f'inline; filename="{name}"'
    return file_part(f'image/png; name="{name}"', data, disposition, f"Content-ID: <{content_id}>")


def forwardable(subject: str, message_id: str, parts: Sequence[bytes]) -> bytes:
    """An original email from a health visitor, ready to be forwarded."""
    return mixed_email(
        subject, message_id, parts, sender="Sam Sample <sam.sample@health.example.net>"
    )


def plain_referral() -> Case:
    form, chronology = make_docx("MASP Referral Form"), make_xlsx()
    assessment, genogram = make_pdf("Early Help Assessment"), make_png(6, 6, 1)
    parts = [
        text_part("Dear panel,\nPlease find the referral for Child AB attached.\nAlex"),
        attached(DOCX, "MASP Referral Form - AB.docx", form),
        attached(XLSX, "Chronology AB.xlsx", chronology),
        attached("application/pdf", "Early Help Assessment AB.pdf", assessment),
        attached("image/png", "Genogram AB.png", genogram),
    ]
    subject = "=?utf-8?q?MASP_referral_=E2=80=93_Child_AB?="
    files = [
        att("MASP Referral Form - AB.docx", DOCX, form),
        att("Chronology AB.xlsx", XLSX, chronology),
        att("Early Help Assessment AB.pdf", "application/pdf", assessment),
        att("Genogram AB.png", "image/png", genogram),
    ]
    return mixed_email(subject, "plain-001@school.example.org", parts), expect(
        "plain-001@school.example.org", *ALEX, "MASP referral – Child AB", files,
        body_contains=["Please find the referral for Child AB attached."],
    )  # fmt: skip


def rfc2231_continuation() -> Case:
    chronology = make_docx("Chronologie")
    disposition = (
        "attachment;\r\n filename*0*=utf-8''Chronologie%20de%20L%C3%A9onie;\r\n"
        ' filename*1*=%20Exemple%20%E2%80%93%20;\r\n filename*2="version 2.docx"'
    )
    parts = [text_part("Chronology attached."), file_part(DOCX, chronology, disposition)]
    files = [att("Chronologie de Léonie Exemple – version 2.docx", DOCX, chronology)]
    return mixed_email("Chronology", "rfc2231@school.example.org", parts), expect(
        "rfc2231@school.example.org", *ALEX, "Chronology", files
    )


def rfc2047_utf8_name() -> Case:
    assessment = make_docx("Évaluation")
    encoded = base64.b64encode("Évaluation_Zoë.docx".encode()).decode()
    # Only Content-Type name, no filename: old mail programs still write attachments this way.
    part = file_part(f'{DOCX}; name="=?UTF-8?B?{encoded}?="', assessment, "attachment")
    parts = [text_part("Assessment attached."), part]
    files = [att("Évaluation_Zoë.docx", DOCX, assessment)]
    return mixed_email("Assessment", "rfc2047-utf8@school.example.org", parts), expect(
        "rfc2047-utf8@school.example.org", *ALEX, "Assessment", files
    )


def rfc2047_latin1_filename() -> Case:
    chronology = make_docx("Chronologie")
    name = "=?ISO-8859-1?Q?Chronologie=5FL=E9onie=5FExemple.docx?="
    part = file_part(f'{DOCX}; name="{name}"', chronology, f'attachment; filename="{name}"')
    parts = [text_part("Bonjour, la chronologie.", charset="iso-8859-1"), part]
    sender = "=?iso-8859-1?q?Fr=E9d=E9rique_Exemple?= <f.exemple@health.example.net>"
    files = [att("Chronologie_Léonie_Exemple.docx", DOCX, chronology)]
    return mixed_email("Chronologie", "latin1@health.example.net", parts, sender=sender), expect(
        "latin1@health.example.net", "f.exemple@health.example.net", "Frédérique Exemple",
        "Chronologie", files,
    )  # fmt: skip


def _split_words(text: str, at: int) -> str:
    """Two base64 encoded words split at a byte offset, folded as Outlook writes them."""
    data = text.encode()
    first, second = base64.b64encode(data[:at]).decode(), base64.b64encode(data[at:]).decode()
    return f"=?utf-8?B?{first}?=\r\n =?utf-8?B?{second}?="


def outlook_split_encoded_words() -> Case:
    pdf = make_pdf("Référence")
    # Outlook splits long names into several encoded words, here through the middle of "é".
    words = f'"{_split_words("Référence_Chronologie_Émile.pdf", 2)}"'
    part = file_part(f"application/pdf;\r\n name={words}", pdf, f"attachment;\r\n filename={words}")
    subject = _split_words("Référence", 2) + " chronology"
    files = [att("Référence_Chronologie_Émile.pdf", "application/pdf", pdf)]
    raw = mixed_email(
        subject, "outlook-split@school.example.org", [text_part("See attached."), part]
    )
    return raw, expect("outlook-split@school.example.org", *ALEX, "Référence chronology", files)


def _eight_bit_text(charset: str, data: bytes) -> bytes:
    head = [f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit"]
    return entity(head, data)


def cp1252_declared_utf8() -> Case:
    pdf = make_pdf("Referral")
    text = "The family\x92s rent arrears are \xa3250 \x96 please see the attached referral.\r\n"
    parts = [
        _eight_bit_text("utf-8", text.encode("latin-1")),
        attached("application/pdf", "Referral.pdf", pdf),
    ]
    # An 8-bit subject with no encoding at all, in Windows-1252.
    subject = b"Subject: Referral \x96 Child CD"
    return mixed_email(subject, "cp1252@school.example.org", parts), expect(
        "cp1252@school.example.org", *ALEX, "Referral – Child CD",
        [att("Referral.pdf", "application/pdf", pdf)],
        body_contains=["The family’s rent arrears are £250 – please see"],
    )  # fmt: skip


def unknown_8bit_charset() -> Case:
    form = make_docx("Referral")
    text = "Café meeting notes: Zoë’s school is attached.\r\n".encode()
    parts = [_eight_bit_text("unknown-8bit", text), attached(DOCX, "Referral.docx", form)]
    subject = "=?unknown-8bit?Q?Caf=C3=A9_referral?="
    return mixed_email(subject, "unknown8bit@school.example.org", parts), expect(
        "unknown8bit@school.example.org", *ALEX, "Café referral",
        [att("Referral.docx", DOCX, form)], body_contains=["Zoë’s school is attached."],
    )  # fmt: skip


def pdf_octet_stream() -> Case:
    named, unnamed = make_pdf("Assessment"), make_pdf("Unnamed")
    parts = [
        text_part("Two PDFs from our case system."),
        file_part(
            'application/octet-stream; name="Assessment"',
            named,
            'attachment; filename="Assessment"',
        ),
        # No name at all: the parser invents one, with the extension the content shows.
        file_part("application/octet-stream", unnamed, "attachment"),
    ]
    files = [
        att("Assessment", "application/octet-stream", named),
        att("attachment-2.pdf", "application/octet-stream", unnamed),
    ]
    return mixed_email("Documents", "octet@school.example.org", parts), expect(
        "octet@school.example.org", *ALEX, "Documents", files
    )


def pdf_inline() -> Case:
    pdf = make_pdf("Referral Form")
    # Apple Mail style: the PDF shown inline between two pieces of body text.
    parts = [
        text_part("Referral form below."),
        file_part(
            'application/pdf; name="Referral Form.pdf"', pdf, 'inline; filename="Referral Form.pdf"'
        ),
        text_part("Kind regards, Alex"),
    ]
    return mixed_email("Referral", "inline@school.example.org", parts), expect(
        "inline@school.example.org", *ALEX, "Referral",
        [att("Referral Form.pdf", "application/pdf", pdf, "inline")],
        body_contains=["Referral form below.", "Kind regards, Alex"],
    )  # fmt: skip


def forwarded_attachments() -> Case:
    chronology, eha, consent = make_docx("Chronology"), make_pdf("EHA"), make_pdf("Consent")
    original = forwardable("Referral documents", "original@health.example.net", [
        text_part("This is the original referral text."),
        attached(DOCX, "Chronology.docx", chronology),
        attached("application/pdf", "EHA.pdf", eha),
    ])  # fmt: skip
    parts = [
        text_part("Forwarding on behalf of the health visitor."),
        entity(["Content-Type: message/rfc822", "Content-Disposition: attachment"], original),
        attached("application/pdf", "Consent.pdf", consent),
    ]
    files = [
        att("Chronology.docx", DOCX, chronology, "forwarded"),
        att("EHA.pdf", "application/pdf", eha, "forwarded"),
        att("Consent.pdf", "application/pdf", consent),
    ]
    return mixed_email("FW: Referral documents", "fwd@school.example.org", parts), expect(
        "fwd@school.example.org", *ALEX, "FW: Referral documents", files,
        body_contains=["Forwarding on behalf", "Forwarded message", "the original referral"],
    )  # fmt: skip


def nested_forward() -> Case:
    genogram = make_pdf("Genogram")
    innermost = forwardable("Genogram", "innermost@health.example.net", [
        text_part("Genogram attached."), attached("application/pdf", "Genogram.pdf", genogram)
    ])  # fmt: skip
    middle = forwardable("FW: Genogram", "middle@health.example.net", [
        text_part("Passing this on."), entity(["Content-Type: message/rfc822"], innermost)
    ])  # fmt: skip
    parts = [
        text_part("See the forwarded chain below."),
        entity(["Content-Type: message/rfc822"], middle),
    ]
    return mixed_email("FW: FW: Genogram", "nested@school.example.org", parts), expect(
        "nested@school.example.org", *ALEX, "FW: FW: Genogram",
        [att("Genogram.pdf", "application/pdf", genogram, "forwarded")],
        body_contains=["Passing this on.", "Genogram attached."],
    )  # fmt: skip


def forward_base64_encoded() -> Case:
    form = make_docx("Referral")
    original = forwardable("Referral", "encoded-original@health.example.net", [
        text_part("Encoded original."), attached(DOCX, "Referral form.docx", form)
    ])  # fmt: skip
    # RFC 2046 forbids this encoding for message/rfc822, but some gateways use it anyway.
    forward = entity(
        ["Content-Type: message/rfc822", "Content-Transfer-Encoding: base64"], b64(original)
    )
    parts = [text_part("Forwarded, encoded."), forward]
    return mixed_email("FW: Referral", "fwd-b64@school.example.org", parts), expect(
        "fwd-b64@school.example.org", *ALEX, "FW: Referral",
        [att("Referral form.docx", DOCX, form, "forwarded")], body_contains=["Encoded original."],
    )  # fmt: skip


def outlook_msg_attached() -> Case:
    assessment, chronology = make_pdf("Assessment"), make_docx("Chronology")
    outlook = make_msg(
        "Referral from the health visitor",
        "Referral from the health visitor, documents attached.\r\n",
        [("Assessment.pdf", "application/pdf", assessment), ("Chronology.docx", DOCX, chronology)],
    )
    parts = [
        text_part("The original email is attached."),
        attached("application/vnd.ms-outlook", "Referral from HV.msg", outlook),
    ]
    files = [
        att("Assessment.pdf", "application/pdf", assessment, "msg"),
        att("Chronology.docx", DOCX, chronology, "msg"),
    ]
    return mixed_email("Referral (Outlook item)", "msg@school.example.org", parts), expect(
        "msg@school.example.org", *ALEX, "Referral (Outlook item)", files,
        body_contains=["Attached Outlook message", "documents attached."],
    )  # fmt: skip


def corrupt_msg() -> Case:
    junk = b"This is not really an Outlook message." * 4
    parts = [
        text_part("Old referral attached."),
        attached("application/vnd.ms-outlook", "Old referral.msg", junk),
    ]
    return mixed_email("Old referral", "badmsg@school.example.org", parts), expect(
        "badmsg@school.example.org", *ALEX, "Old referral",
        [att("Old referral.msg", "application/vnd.ms-outlook", junk)], problems=1,
    )  # fmt: skip


def winmail_dat() -> Case:
    chronology, assessment = make_docx("Chronologie"), make_pdf("EHA")
    tnef = make_tnef(
        [
            (b"Chronologie L\xe9onie.docx", None, chronology),
            (b"EARLYH~1.PDF", "Early Help Assessment (EHA) – Family.pdf", assessment),
        ],
        b"Body inside winmail.dat",
    )
    parts = [
        text_part("Documents attached (sent from Outlook with rich text)."),
        attached("application/ms-tnef", "winmail.dat", tnef),
    ]
    files = [
        att("Chronologie Léonie.docx", DOCX, chronology, "winmail.dat"),
        att(
            "Early Help Assessment (EHA) – Family.pdf", "application/pdf", assessment, "winmail.dat"
        ),
    ]
    return mixed_email("Documents", "tnef@school.example.org", parts), expect(
        "tnef@school.example.org", *ALEX, "Documents", files
    )


def corrupt_winmail() -> Case:
    # Damaged in transit: the TNEF signature and header are gone.
    junk = b"\0" * 16 + b"damaged winmail.dat"
    parts = [text_part("Documents attached."), attached("application/ms-tnef", "winmail.dat", junk)]
    return mixed_email("Documents", "badtnef@school.example.org", parts), expect(
        "badtnef@school.example.org", *ALEX, "Documents",
        [att("winmail.dat", "application/ms-tnef", junk)], problems=1,
    )  # fmt: skip


def html_signature_logo() -> Case:
    logo, sketch, screenshot = make_png(4, 4, 2), make_png(5, 5, 3), make_png(100, 80, 4)
    referral = make_pdf("Referral")
    html = (
        "<html><head><style>p {color: navy}</style></head><body>"
        "<p>Please see the referral attached.</p><p><img src='cid:sketch@x'></p>"
        "<p><img src='cid:shot@x'></p><p>Kind&nbsp;regards,<br>Alex</p><img src='cid:logo@x'>"
        "</body></html>"
    )
    related = multipart("rel17", [
        text_part(html, subtype="html"),
        # Outlook's signature logo: a Content-ID and a name, no Content-Disposition at all.
        file_part('image/png; name="image001.png"', logo, None, "Content-ID: <logo@x>"),
        inline_image("Genogram sketch.png", sketch, "sketch@x"),
        inline_image("image002.png", screenshot, "shot@x"),
    ])  # fmt: skip
    parts = [
        entity(['Content-Type: multipart/related; boundary="rel17"'], related),
        attached("application/pdf", "Referral.pdf", referral),
    ]
    files = [
        att("Genogram sketch.png", "image/png", sketch, "inline"),
        att("image002.png", "image/png", screenshot, "inline"),
        att("Referral.pdf", "application/pdf", referral),
    ]
    return mixed_email("Referral", "html@school.example.org", parts), expect(
        "html@school.example.org", *ALEX, "Referral", files,
        body_contains=["Please see the referral attached.", "Kind regards,\nAlex"],
        body_excludes=["navy"],
    )  # fmt: skip


def out_of_office() -> Case:
    head = envelope(
        "Automatic reply: MASP referral =?utf-8?q?=E2=80=93?= Child AB",
        sender="Sam Sample <sam.sample@police.example.net>",
        message_id="oof@police.example.net",
        extra=["X-Auto-Response-Suppress: All", "In-Reply-To: <ack-7@masp.example.org>"],
    )
    raw = entity(head, b"I am out of the office until Monday 9 March with no access to email.\r\n")
    return raw, expect(
        "oof@police.example.net", "sam.sample@police.example.net", "Sam Sample",
        "Automatic reply: MASP referral – Child AB", automatic="auto_reply",
        in_reply_to=["ack-7@masp.example.org"],
    )  # fmt: skip


def rfc3834_auto_reply() -> Case:
    head = envelope(
        "Re: Your referral MASP-2026-0007",
        sender="Team Inbox <team@housing.example.net>",
        message_id="autoreply@housing.example.net",
        extra=["Auto-Submitted: auto-replied", "In-Reply-To: <ack-8@masp.example.org>"],
    )
    raw = entity(head, b"Thank you for your email. We aim to reply within 5 working days.\r\n")
    return raw, expect(
        "autoreply@housing.example.net", "team@housing.example.net", "Team Inbox",
        "Re: Your referral MASP-2026-0007", automatic="auto_reply",
    )  # fmt: skip


def dsn_bounce() -> Case:
    original = entity(
        ["From: MASP Panel <panel@masp.example.org>", "To: gone@school.example.org",
         "Subject: Acknowledgement MASP-2026-0009", "Message-ID: <ack-9@masp.example.org>",
         "X-MASP-Loop: panel@masp.example.org", "Content-Type: text/plain"],
        b"Thank you for your referral.\r\n",
    )  # fmt: skip
    status = entity(
        ["Content-Type: message/delivery-status"],
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; gone@school.example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
    )
    parts = [
        text_part("Your message could not be delivered to gone@school.example.org."),
        status,
        entity(["Content-Type: message/rfc822"], original),
    ]
    raw = mixed_email(
        "Undelivered Mail Returned to Sender", "dsn@mx.example.net", parts,
        content_type='multipart/report; report-type=delivery-status; boundary="b-dsn"',
        sender="Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        extra=["Return-Path: <>", "Auto-Submitted: auto-replied"],
    )  # fmt: skip
    return raw, expect(
        "dsn@mx.example.net", "mailer-daemon@mx.example.net", "Mail Delivery System",
        "Undelivered Mail Returned to Sender", automatic="bounce",
        body_contains=["could not be delivered", "Thank you for your referral."],
    )  # fmt: skip


def _one_line_email(subject: str, sender: str, message_id: str, text: str, *extra: str) -> bytes:
    head = envelope(subject, sender=sender, message_id=message_id, extra=extra)
    return entity(head, text.encode() + CRLF)


def mailer_daemon_plain() -> Case:
    subject = "Mail delivery failed: returning message to sender"
    raw = _one_line_email(
        subject, "MAILER-DAEMON@mx.example.net", "daemon@mx.example.net",
        "This message was created automatically by mail delivery software.",
    )  # fmt: skip
    return raw, expect(
        "daemon@mx.example.net", "mailer-daemon@mx.example.net", "", subject, automatic="bounce"
    )


def noreply_sender() -> Case:
    subject = "Your referral has been submitted"
    raw = _one_line_email(
        subject, "\"Children's Portal\" <no-reply@portal.example.org>", "portal@portal.example.org",
        "Your referral has been submitted to the portal.",
    )  # fmt: skip
    return raw, expect(
        "portal@portal.example.org", "no-reply@portal.example.org", "Children's Portal", subject,
        automatic="auto_reply",
    )  # fmt: skip


def mailing_list() -> Case:
    subject = "[Safeguarding News] March bulletin"
    raw = _one_line_email(
        subject, "Jo Bloggs <jo.bloggs@lists.example.org>", "bulletin@lists.example.org",
        "This month's bulletin.",
        "List-Id: Safeguarding News <safeguarding-news.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@lists.example.org>",
    )  # fmt: skip
    return raw, expect(
        "bulletin@lists.example.org", "jo.bloggs@lists.example.org", "Jo Bloggs", subject,
        automatic="auto_reply",
    )  # fmt: skip


def human_reply() -> Case:
    chronology = make_docx("Chronology")
    extra = [
        # Exchange puts this on ordinary mail too; with a person's "RE:" subject it is no sign.
        "X-Auto-Response-Suppress: All",
        "In-Reply-To: <oof-ack@masp.example.org>",
        "References: <ack-7@masp.example.org>\r\n <oof-ack@masp.example.org>",
        "Thread-Topic: MASP referral",
    ]
    parts = [
        text_part("Back now - here is the chronology you asked for."),
        attached(DOCX, "Chronology.docx", chronology),
    ]
    raw = mixed_email(
        "RE: Automatic reply: MASP referral", "reply@police.example.net", parts,
        sender="Sam Sample <sam.sample@police.example.net>", extra=extra,
    )  # fmt: skip
    return raw, expect(
        "reply@police.example.net", "sam.sample@police.example.net", "Sam Sample",
        "RE: Automatic reply: MASP referral", [att("Chronology.docx", DOCX, chronology)],
        in_reply_to=["oof-ack@masp.example.org"],
        references=["ack-7@masp.example.org", "oof-ack@masp.example.org"],
    )  # fmt: skip


def _text_and_pdf(note: str) -> tuple[list[bytes], list[dict[str, Any]]]:
    pdf = make_pdf("Referral")
    parts = [text_part(note), attached("application/pdf", "Referral.pdf", pdf)]
    return parts, [att("Referral.pdf", "application/pdf", pdf)]


def no_message_id() -> Case:
    parts, files = _text_and_pdf("No Message-ID on this one.")
    return mixed_email("Referral", None, parts), expect(None, *ALEX, "Referral", files)


def missing_closing_boundary() -> Case:
    parts, files = _text_and_pdf("The closing boundary is missing.")
    raw = mixed_email("Referral", "noclose@school.example.org", parts, closed=False)
    return raw, expect(
        "noclose@school.example.org", *ALEX, "Referral", files,
        body_contains=["The closing boundary is missing."],
    )  # fmt: skip


def missing_boundary_parameter() -> Case:
    parts, files = _text_and_pdf("The boundary parameter is missing.")
    raw = mixed_email(
        "Referral", "noboundary@school.example.org", parts, content_type="multipart/mixed"
    )
    return raw, expect(
        "noboundary@school.example.org", *ALEX, "Referral", files,
        body_contains=["The boundary parameter is missing."],
    )  # fmt: skip


def no_attachments() -> Case:
    head = envelope("Question about the panel", message_id="question@school.example.org")
    # Unix line endings, as a .eml saved on Linux or macOS has them.
    raw = entity(head, b"When is the next panel meeting?\r\n").replace(CRLF, b"\n")
    return raw, expect(
        "question@school.example.org", *ALEX, "Question about the panel",
        body_contains=["When is the next panel meeting?"],
    )  # fmt: skip


def raw_8bit_headers() -> Case:
    pdf = make_pdf("Evaluation")
    name = "Évaluation.pdf".encode()
    part = file_part(
        b'Content-Type: application/pdf; name="' + name + b'"', pdf,
        b'Content-Disposition: attachment; filename="' + name + b'"',
    )  # fmt: skip
    subject = "Subject: Référral – famille".encode()
    sender = "From: Zoë Exemple <zoe.exemple@school.example.org>".encode()
    parts = [text_part("Raw UTF-8 in the headers."), part]
    return mixed_email(subject, "8bit@school.example.org", parts, sender=sender), expect(
        "8bit@school.example.org", "zoe.exemple@school.example.org", "Zoë Exemple",
        "Référral – famille", [att("Évaluation.pdf", "application/pdf", pdf)],
    )  # fmt: skip


def eml_attached_as_file() -> Case:
    consent = make_pdf("Consent")
    original = forwardable("Consent", "eml-original@health.example.net", [
        text_part("Consent form attached."),
        attached("application/pdf", "Consent form.pdf", consent),
    ])  # fmt: skip
    parts = [
        text_part("Original email attached as a file."),
        attached("application/octet-stream", "Original referral.eml", original),
    ]
    return mixed_email("Original email", "emlfile@school.example.org", parts), expect(
        "emlfile@school.example.org", *ALEX, "Original email",
        [att("Consent form.pdf", "application/pdf", consent, "forwarded")],
        body_contains=["Consent form attached."],
    )  # fmt: skip


def hostile_filenames() -> Case:
    pdf = make_pdf("x")
    long_stem = "Very long chronology name " * 8
    names = [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Users\\worker\\Desktop\\Chronology.docx", "Chronology.docx"),
        ("=?utf-8?q?Report=E2=80=AEfdp.exe?=", "Reportfdp.exe"),
        ("=?utf-8?q?Line=0Abreak=09and_tab.pdf?=", "Line break and tab.pdf"),
        (long_stem + ".pdf", long_stem[:146].rstrip() + ".pdf"),
    ]
    parts = [text_part("Odd names.")]
    parts += [
        file_part("application/pdf", pdf, f'attachment; filename="{sent}"') for sent, _ in names
    ]
    files = [att(kept, "application/pdf", pdf) for _, kept in names]
    return mixed_email("Odd names", "hostile@school.example.org", parts), expect(
        "hostile@school.example.org", *ALEX, "Odd names", files
    )


CASES: list[tuple[str, Callable[[], Case]]] = [
    ("01_plain_referral", plain_referral),
    ("02_rfc2231_continuation", rfc2231_continuation),
    ("03_rfc2047_utf8_name", rfc2047_utf8_name),
    ("04_rfc2047_latin1_filename", rfc2047_latin1_filename),
    ("05_outlook_split_encoded_words", outlook_split_encoded_words),
    ("06_cp1252_declared_utf8", cp1252_declared_utf8),
    ("07_unknown_8bit_charset", unknown_8bit_charset),
    ("08_pdf_octet_stream", pdf_octet_stream),
    ("09_pdf_inline", pdf_inline),
    ("10_forwarded_attachments", forwarded_attachments),
    ("11_nested_forward", nested_forward),
    ("12_forward_base64_encoded", forward_base64_encoded),
    ("13_outlook_msg_attached", outlook_msg_attached),
    ("14_corrupt_msg", corrupt_msg),
    ("15_winmail_dat", winmail_dat),
    ("16_corrupt_winmail", corrupt_winmail),
    ("17_html_signature_logo", html_signature_logo),
    ("18_out_of_office", out_of_office),
    ("19_rfc3834_auto_reply", rfc3834_auto_reply),
    ("20_dsn_bounce", dsn_bounce),
    ("21_mailer_daemon_plain", mailer_daemon_plain),
    ("22_noreply_sender", noreply_sender),
    ("23_mailing_list", mailing_list),
    ("24_human_reply", human_reply),
    ("25_no_message_id", no_message_id),
    ("26_missing_closing_boundary", missing_closing_boundary),
    ("27_no_attachments", no_attachments),
    ("28_missing_boundary_parameter", missing_boundary_parameter),
    ("29_raw_8bit_headers", raw_8bit_headers),
    ("30_eml_attached_as_file", eml_attached_as_file),
    ("31_hostile_filenames", hostile_filenames),
]


def main() -> None:
    for old in [*HERE.glob("*.eml"), *HERE.glob("*.expected.json")]:
        old.unlink()
    for name, build in CASES:
        raw, expected = build()
        (HERE / f"{name}.eml").write_bytes(raw)
        text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
        (HERE / f"{name}.expected.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} emails to {HERE}")


if __name__ == "__main__":
    main()
