"""Make the synthetic document corpus and each file's expected result (run it from the repo root).

Every person, council and address here is invented. Expected results are written by hand below,
from what each document was made to be, never by running the classifier. Run:

    .venv/bin/python tests/data/documents/make_corpus.py
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.documents.form import FORM_MARKER, fill_form

HERE = Path(__file__).resolve().parent

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


# --- Small writers: reproducible zips, PNG, PDF, OLE. ---


def rewrite_zip(
    data: bytes,
    edit: Callable[[str, bytes], bytes] | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """The zip again, each member passed through `edit`, with fixed timestamps and core dates."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
        for name, body in [*members, *(extra or {}).items()]:
            if name == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    rb"\g<1>2026-01-01T00:00:00Z",
                    body,
                )
            stamped = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            # ODF wants its mimetype first and stored; everything else is compressed.
            stamped.compress_type = (
                zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            )
            target.writestr(stamped, edit(name, body) if edit else body)
    return out.getvalue()


def png(width: int, height: int, pixels: bytearray) -> bytes:
    """An 8-bit greyscale PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + bytes(pixels[y * width : (y + 1) * width]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    """A white greyscale canvas to draw a genogram on: squares, circles and lines."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray([255]) * (width * height)

    def dot(self, x: int, y: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y * self.width + x] = 0

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            self.dot(x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps)

    def square(self, x: int, y: int, size: int) -> None:
        for a, b, c, d in ((0, 0, 1, 0), (1, 0, 1, 1), (1, 1, 0, 1), (0, 1, 0, 0)):
            self.line(x + a * size, y + b * size, x + c * size, y + d * size)

    def circle(self, cx: int, cy: int, r: int) -> None:
        for step in range(360):
            self.dot(
                int(cx + r * math.cos(math.radians(step))),
                int(cy + r * math.sin(math.radians(step))),
            )

    def png(self) -> bytes:
        return png(self.width, self.height, self.pixels)


def genogram_picture() -> bytes:
    canvas = Canvas(320, 220)
    canvas.square(40, 30, 40)  # father
    canvas.circle(260, 50, 20)  # mother
    canvas.line(80, 50, 240, 50)  # partnership
    canvas.line(160, 50, 160, 110)  # descent
    canvas.line(90, 110, 230, 110)  # sibship
    canvas.line(90, 110, 90, 140)
    canvas.line(230, 110, 230, 140)
    canvas.square(70, 140, 40)  # son
    canvas.circle(230, 160, 20)  # daughter (the child)
    canvas.circle(230, 160, 16)  # double circle marks the referred child
    return canvas.png()


def pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF from its objects (object 1 must be the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def stream(body: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(body), extra) + body + b"\nendstream"


def pdf_text(x: float, y: float, size: int, text: str) -> bytes:
    escaped = (
        text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    )
    return b"BT /F1 %d Tf %.1f %.1f Td (%s) Tj ET\n" % (size, x, y, escaped)


def text_pdf(pages: Sequence[Sequence[str]], drawing: bytes = b"") -> bytes:
    """A PDF of A4 pages holding lines of text (a title line is bigger), plus optional vectors."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", font]
    for index, lines in enumerate(pages):
        content = b"".join(
            pdf_text(56, 780 - 20 * n, 16 if n == 0 else 11, line) for n, line in enumerate(lines)
        )
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (page_ids[index] + 1)
        )
        objects.append(stream(content + (drawing if index == 0 else b"")))
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages))
    return pdf(objects)


def scan_pdf() -> bytes:
    """One page that is only a picture of a page (grey stripes for lines of type): a scan."""
    width, height = 200, 280
    pixels = bytearray()
    for y in range(height):
        inked = 20 < y < 260 and (y // 6) % 2 == 0
        pixels += bytes(90 if inked and 15 < x < 185 - (y % 37) else 235 for x in range(width))
    image = zlib.compress(bytes(pixels), 9)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> "
            b"/Contents 4 0 R >>",
            stream(b"q 595 0 0 842 0 0 cm /Im1 Do Q"),
            stream(
                image,
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /FlateDecode " % (width, height),
            ),
        ]
    )


def genogram_pdf() -> bytes:
    """A family drawn with lines, boxes and circles, and only a few names: no title."""
    circle = b"%d %d m " + b"%d %d %d %d %d %d c " * 4 + b"S\n"

    def ring(cx: int, cy: int, r: int) -> bytes:
        k = int(r * 0.552)
        return circle % (
            *(cx + r, cy, cx + r, cy + k, cx + k, cy + r, cx, cy + r),
            *(cx - k, cy + r, cx - r, cy + k, cx - r, cy),
            *(cx - r, cy - k, cx - k, cy - r, cx, cy - r),
            *(cx + k, cy - r, cx + r, cy - k, cx + r, cy),
        )

    drawing = (
        b"1 w\n100 600 40 40 re S\n"
        + ring(400, 620, 20)
        + b"140 620 m 380 620 l S\n260 620 m 260 540 l S\n"
    )
    drawing += (
        b"160 540 m 360 540 l S\n160 540 m 160 500 l S\n360 540 m 360 500 l S\n140 460 40 40 re S\n"
    )
    drawing += ring(360, 480, 20) + ring(360, 480, 16) + b"90 590 m 150 650 l S\n"
    labels = b"".join(
        pdf_text(x, y, 9, text)
        for x, y, text in (
            (95, 585, "Rex Madeup 1980"),
            (375, 585, "Una Madeup 1984"),
            (130, 445, "Kit 2012"),
            (345, 445, "Ivy 2016"),
        )
    )
    return text_pdf([[" "]], drawing + labels)


class PdfField(NamedTuple):
    """One AcroForm field: a text field's value, a check box's state, or a radio group's choice.

    A dotted name hangs the field under parent fields ("Child.FullName"), as form designers'
    tools do; a radio group is a parent field with one widget per option (`options`).
    """

    name: str
    value: str | bool | None
    tooltip: str = ""
    options: tuple[str, ...] = ()
    on: str = "Yes"


def fillable_pdf(page_lines: Sequence[str], fields: Sequence[PdfField]) -> bytes:
    """A one-page fillable PDF: labels printed on the page, answers in AcroForm fields."""
    content = b"".join(
        pdf_text(56, 780 - 24 * n, 16 if n < 2 else 11, line) for n, line in enumerate(page_lines)
    )
    box = b"/Type /XObject /Subtype /Form /BBox [0 0 12 12] "
    # 1 catalog, 2 pages, 3 the page, 4 its text, 5 the font, 6 and 7 a box ticked and not.
    objects: list[bytes] = [
        b"",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"",
        stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        stream(b"q 0 g BT /ZaDb 10 Tf 1 1 Td (4) Tj ET Q", box),
        stream(b"", box),
    ]
    kids: dict[str, list[int]] = {"": []}
    parents: dict[str, int] = {}
    widgets: list[int] = []

    def new(body: bytes = b"") -> int:
        objects.append(body)
        return len(objects)

    def parent(path: str) -> bytes:
        """` /Parent n 0 R` for the field at `path`'s parent (made on first use), or nothing."""
        above, _, _ = path.rpartition(".")
        if not above:
            return b""
        if above not in parents:
            parents[above] = new()
            kids[above] = []
            link = parent(above)
            kids[above.rpartition(".")[0]].append(parents[above])
            objects[parents[above] - 1] = link  # completed below, once its kids are known
        return b" /Parent %d 0 R" % parents[above]

    def place(number: int, path: str) -> None:
        kids[path.rpartition(".")[0]].append(number)

    for index, field in enumerate(fields):
        y = 760 - 24 * index
        partial = field.name.rpartition(".")[2].encode()
        common = b"/T (%s)%s%s" % (
            partial,
            b" /TU (%s)" % field.tooltip.encode() if field.tooltip else b"",
            parent(field.name),
        )
        widget = b"/Type /Annot /Subtype /Widget /P 3 0 R /F 4"
        if field.options:
            group = new()
            chosen = field.value if isinstance(field.value, str) else "Off"
            members = []
            for number, option in enumerate(field.options):
                state = option if option == chosen else "Off"
                x = 300 + 40 * number
                members.append(
                    new(
                        b"<< %s /Parent %d 0 R /AS /%s /Rect [%d %d %d %d] "
                        b"/AP << /N << /%s 6 0 R /Off 7 0 R >> >> >>"
                        % (widget, group, state.encode(), x, y, x + 12, y + 12, option.encode())
                    )
                )
            widgets += members
            objects[group - 1] = b"<< /FT /Btn /Ff %d %s /V /%s /Kids [%s] >>" % (
                1 << 15 | 1 << 14,
                common,
                chosen.encode(),
                b" ".join(b"%d 0 R" % m for m in members),
            )
            place(group, field.name)
        elif isinstance(field.value, bool):
            checked = field.on.encode() if field.value else b"Off"
            number = new(
                b"<< %s /FT /Btn %s /V /%s /AS /%s /Rect [300 %d 312 %d] /MK << /CA (4) >> "
                b"/AP << /N << /%s 6 0 R /Off 7 0 R >> >> >>"
                % (widget, common, checked, checked, y, y + 12, field.on.encode())
            )
            widgets.append(number)
            place(number, field.name)
        else:
            number = new(
                b"<< %s /FT /Tx %s /V (%s) /Rect [300 %d 560 %d] /DA (/Helv 10 Tf 0 g) >>"
                % (widget, common, (field.value or "").encode("cp1252"), y - 4, y + 12)
            )
            widgets.append(number)
            place(number, field.name)
    for path, number in parents.items():
        partial = path.rpartition(".")[2].encode()
        children = b" ".join(b"%d 0 R" % k for k in kids[path])
        objects[number - 1] = b"<< /T (%s)%s /Kids [%s] >>" % (
            partial,
            objects[number - 1],
            children,
        )
    refs = b" ".join(b"%d 0 R" % n for n in kids[""])
    objects[0] = (
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] /NeedAppearances true "
        b"/DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>" % refs
    )
    objects[2] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Annots [%s] >>"
        % b" ".join(b"%d 0 R" % n for n in widgets)
    )
    return pdf(objects)


def acroform_pdf() -> bytes:
    """Another council's fillable PDF: labels printed on the page, answers in AcroForm fields."""
    return fillable_pdf(
        [
            "Westshire Council",
            "MASP Referral Form",
            "Child's name",
            "Date of birth",
            "Referrer's name",
            "Referrer's email",
            "Panel / locality",
            "Type of request: Section 20 emergency admission / Advice",
            "Consent to panel discussion: Yes / No",
            "Genogram required: Yes / No",
        ],
        [
            PdfField("ChildName", "Cal Fictional", "Child's name"),
            PdfField("DOB", "31/01/2017", "Date of birth"),
            PdfField("RefName", "Dee Madeup", "Referrer's name"),
            PdfField("RefEmail", "dee.madeup@westshire.example", "Referrer's email"),
            PdfField("Panel", "MASP", "Panel / locality"),
            PdfField("ReqS20", True, "Section 20 emergency admission"),
            PdfField("ReqAdvice", False, "Advice"),
            PdfField("ConsentYes", True, "Consent yes"),
            PdfField("ConsentNo", False, "Consent no"),
            PdfField("GenogramYes", False, "Genogram required yes"),
            PdfField("GenogramNo", True, "Genogram required no"),
        ],
    )


def ole(streams: dict[str, bytes], storages: Sequence[str] = ()) -> bytes:
    """A minimal OLE compound file (512-byte sectors) whose streams are each 4 KiB or more.

    Big streams live in ordinary sectors, so no mini stream is needed; the directory is one
    sector of four entries: the root, then up to three children in a tiny binary tree.
    """
    end, free, fat_mark = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    names = [*storages, *streams]
    assert len(names) == 3
    sectors: list[bytes] = []
    starts = {}
    fat = [fat_mark, end]
    for name, body in streams.items():
        body = body.ljust(max(4096, -(-len(body) // 512) * 512), b"\x00")
        count = len(body) // 512
        starts[name] = 2 + len(sectors)
        fat += [2 + len(sectors) + i + 1 for i in range(count - 1)] + [end]
        sectors += [body[i * 512 : (i + 1) * 512] for i in range(count)]
    fat_sector = b"".join(struct.pack("<I", v) for v in fat).ljust(512, b"\xff")
    # Directory order is by name length, then upper case: left child < middle < right child.
    ordered = sorted(names, key=lambda n: (len(n), n.upper()))

    def entry(
        name: str, kind: int, left: int, right: int, child: int, start: int, size: int
    ) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", left, right, child)
            + b"\x00" * 36
            + struct.pack("<IIi", start, size, 0)
        )

    # Ids follow the sorted order, so the middle name (id 2) is the root's only child.
    directory = entry("Root Entry", 5, free, free, 2, end, 0)
    for number, name in enumerate(ordered, start=1):
        left, right = (1, 3) if number == 2 else (free, free)
        kind = 1 if name in storages else 2
        size = len(streams.get(name, b""))
        directory += entry(name, kind, left, right, free, starts.get(name, 0), size)
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<I", 0) + b"\xff" * (109 * 4 - 4)
    return header + fat_sector + directory + b"".join(sectors)


def encrypted_docx() -> bytes:
    """What Word saves for a password-protected .docx: an OLE file, not a zip."""
    info = b"\x04\x00\x04\x00\x40\x00\x00\x00" + (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<encryption xmlns='
        b'"http://schemas.microsoft.com/office/2006/encryption"><keyData saltSize="16" '
        b'blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" cipherChaining='
        b'"ChainingModeCBC" hashAlgorithm="SHA512" '
        b'saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/></encryption>'
    )
    noise = b"".join(hashlib.sha256(b"synthetic %d" % i).digest() for i in range(160))
    package = struct.pack("<Q", len(noise)) + noise
    return ole({"EncryptionInfo": info, "EncryptedPackage": package}, storages=("\x06DataSpaces",))


def program() -> bytes:
    """The first bytes of a Windows program: a DOS stub and a PE header (it does nothing)."""
    stub = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x00" * 2)
    stub = stub.ljust(0x3C, b"\x00") + struct.pack("<I", 0x80)
    stub = stub.ljust(0x4E, b"\x00") + b"This program cannot be run in DOS mode.\r\r\n$"
    stub = stub.ljust(0x80, b"\x00") + b"PE\x00\x00" + struct.pack("<HH", 0x14C, 0)
    return bytes(stub.ljust(512, b"\x00"))


# --- Word documents made with python-docx. ---


def docx_bytes(build: Callable[[Any], None]) -> bytes:
    from docx import Document

    document = Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return rewrite_zip(buffer.getvalue())


def table(document: Any, rows: Sequence[Sequence[str]], bold_first: bool = False) -> Any:
    grid = document.add_table(rows=0, cols=max(len(r) for r in rows))
    grid.style = "Table Grid"
    for number, row in enumerate(rows):
        cells = grid.add_row().cells
        for cell, text in zip(cells, row, strict=False):
            cell.paragraphs[0].add_run(text).bold = bold_first and number == 0
    return grid


def legacy_checkbox(paragraph: Any, checked: bool) -> None:
    """A Word 97 FORMCHECKBOX field, as older council forms still use."""
    from docx.oxml import parse_xml

    state = "<w:checked/>" if checked else ""
    for xml in (
        f'<w:r xmlns:w="{W}"><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Check"/>'
        f'<w:enabled/><w:calcOnExit w:val="0"/><w:checkBox><w:sizeAuto/><w:default w:val="0"/>'
        f"{state}</w:checkBox></w:ffData></w:fldChar></w:r>",
        f'<w:r xmlns:w="{W}"><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>',
        f'<w:r xmlns:w="{W}"><w:fldChar w:fldCharType="end"/></w:r>',
    ):
        paragraph._p.append(parse_xml(xml))


def legacy_dropdown(paragraph: Any, entries: Sequence[str], chosen: int) -> None:
    """A Word 97 FORMDROPDOWN field: Word keeps the number of the entry chosen, not its text."""
    from docx.oxml import parse_xml

    items = "".join(f'<w:listEntry w:val="{entry}"/>' for entry in entries)
    for xml in (
        f'<w:r xmlns:w="{W}"><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="List"/>'
        f'<w:enabled/><w:ddList><w:result w:val="{chosen}"/>{items}</w:ddList></w:ffData>'
        "</w:fldChar></w:r>",
        f'<w:r xmlns:w="{W}"><w:instrText xml:space="preserve"> FORMDROPDOWN </w:instrText></w:r>',
        f'<w:r xmlns:w="{W}"><w:fldChar w:fldCharType="end"/></w:r>',
    ):
        paragraph._p.append(parse_xml(xml))


def northshire_form(document: Any) -> None:
    """Another council's form: Forename/Surname, D.O.B., and legacy FORMCHECKBOX fields."""
    document.add_heading("Northshire Council — Request for Support", level=0)
    document.add_paragraph("Section 1: Child / young person details").runs[0].bold = True
    table(
        document,
        [
            ["Forename(s)", "Olly"],
            ["Surname", "Testcase"],
            ["D.O.B.", "7/9/15"],
            ["Gender", "Male"],
        ],
    )
    document.add_paragraph("Section 2: Details of the person making the referral").runs[
        0
    ].bold = True
    table(
        document,
        [
            ["Name", "Pat Placeholder"],
            ["Job title", "Family Support Worker"],
            ["Email", "pat.placeholder@northshire.example"],
            ["Panel / locality requested", "MASG North"],
        ],
    )
    document.add_paragraph("Section 3: Support requested (tick all that apply)").runs[0].bold = True
    grid = document.add_table(rows=0, cols=2)
    for label, ticked in (
        ("Advice and guidance", False),
        ("Lead professional / TAF", True),
        ("Multi-agency package of support", True),
        ("Section 20 accommodation", False),
    ):
        cells = grid.add_row().cells
        legacy_checkbox(cells[0].paragraphs[0], ticked)
        cells[1].text = label
    document.add_paragraph("Section 4: Consent").runs[0].bold = True
    grid = document.add_table(rows=0, cols=2)
    for label, answer in (
        ("Has the family consented to this referral?", True),
        ("Is a genogram needed for this case?", None),
    ):
        cells = grid.add_row().cells
        cells[0].text = label
        paragraph = cells[1].paragraphs[0]
        paragraph.add_run("Yes ")
        legacy_checkbox(paragraph, answer is True)
        paragraph.add_run("  No ")
        legacy_checkbox(paragraph, answer is False)


def eastvale_form(document: Any) -> None:
    """Another council's form: four-column rows, "☒" glyphs typed in, a written-out date."""
    document.add_heading("Eastvale MASG Referral", level=0)
    table(
        document,
        [
            ["Name of child/young person", "Bea Sample", "Date of birth / EDD", "12 March 2019"],
            ["Referrer", "Lee Notreal", "Referrer's email", "lee.notreal@eastvale.example"],
            ["Role", "School nurse", "Locality", "East"],
        ],
    )
    document.add_paragraph("Request (tick all that apply)")
    document.add_paragraph("☒ Access to a specific service")
    document.add_paragraph("☐ Step down from CIN")
    document.add_paragraph("☒ Advice and guidance")
    table(
        document,
        [
            ["Consent given for discussion at MASG", "☒ Yes ☐ No"],
            ["Is a genogram needed?", "Yes ☒ No ☐"],
            ["Reason for referral", "Attendance has fallen and the family asked for help."],
        ],
    )


CHRONOLOGY_ROWS = [
    [
        "Date/Period",
        "Significant event",
        "Source of information",
        "Impact on the child",
        "Action taken/Outcome",
    ],
    [
        "?05/2023",
        "Family moved into temporary accommodation",
        "Housing",
        "Change of school",
        "Housing support",
    ],
    ["May 2024", "Attendance fell below 80%", "School", "Missed learning", "Attendance plan"],
    [
        "12/3/24",
        "Police attended a verbal argument at home",
        "Police",
        "Child upset",
        "Referral to EH",
    ],
    ["2024-06-01", "Early Help Assessment completed", "Early Help", "Plan agreed", "TAF set up"],
    ["31/02/2025", "GP appointment missed (date as written)", "Health", "Unknown", "Letter sent"],
]


def docs_chronology(document: Any) -> None:
    """A chronology with no title that says so, named docs.docx: found by its table headers."""
    document.add_paragraph("Prepared for panel — the Sample family (synthetic)")
    table(document, CHRONOLOGY_ROWS, bold_first=True)


# A chronology as people really keep one: two-digit years, rough dates, a row with no date,
# one in the future (the corpus is read as if today were 1 March 2026), one that cannot be
# read, and two rows entered out of order.
MESSY_ROWS = [
    ["Date", "Significant event", "Details", "Source of information", "Impact", "Action"],
    ["c. 2019", "Parents separated", "Dad moved out", "Mum", "Unsettled", "None"],
    ["03/09/20", "Started reception", "Settled well", "School", "Positive", "None"],
    ["Summer 2022", "House move", "Temporary housing", "Housing", "Long journey", "Bus pass"],
    ["14/01/2023", "Concerns raised by school", "Tired, hungry", "School", "Poor focus", "EH call"],
    ["02/11/2022", "Missed health review", "", "Health", "Unknown", "Rebooked"],
    ["15/12/2022", "Second missed review", "", "Health", "Unknown", "Letter"],
    ["", "Grandmother moved in", "", "Family", "Support", "None"],
    ["last week", "Argument reported", "", "Police", "Upset", "Logged"],
    ["May 2024", "TAF meeting", "Plan agreed", "Early Help", "Plan", "Review in 3 months"],
    ["03/02/2031", "Review booked (typed wrongly)", "", "Early Help", "", ""],
]


def messy_chronology(document: Any) -> None:
    document.add_heading("Chronology of significant events — the Fakename family", level=1)
    table(document, MESSY_ROWS, bold_first=True)


def hillshire_form(document: Any) -> None:
    """Another council's form with the fields SPEC §4 lists beyond intake's few, and a household."""
    document.add_heading("Hillshire Council — Multi Agency Referral", level=0)
    document.add_heading("Part A: The child", level=1)
    table(
        document,
        [
            ["Child's full name", "Zoë O'Neill-Ávila"],
            ["DOB", "29/02/2016"],
            ["Gender", "Female"],
            ["Ethnicity", "Mixed White and Black Caribbean"],
            ["First language", "English"],
            ["School / setting", "Brookfield Primary (synthetic)"],
            ["GP", "Dr A Nonesuch, Riverside Surgery"],
            ["NHS number", "999 000 0000"],
            ["Current plan", "CIN"],
        ],
    )
    document.add_heading("Part B: Household", level=1)
    table(
        document,
        [
            ["Name", "Relationship", "Parental responsibility", "Do not disclose address"],
            ["Mae O'Neill", "Mother", "Yes", "No"],
            ["Ron Ávila", "Father", "Yes", "Yes"],
        ],
    )
    document.add_heading("Part C: Referrer details", level=1)
    table(
        document,
        [
            ["Name", "Tam Imaginary"],
            ["Job title", "Early Help Practitioner"],
            ["Organisation", "Hillshire Early Help (synthetic)"],
            ["Telephone", "01632 960000"],
            ["Email", "tam.imaginary@hillshire.example"],
        ],
    )
    document.add_heading("Part D: Request", level=1)
    table(
        document,
        [
            ["Type of request", "Threshold resolution; advice"],
            ["Question for the panel", "Does this family meet the threshold for CIN?"],
            ["Strengths", "Mum is committed and attends every meeting."],
            ["Risks", "Escalating arguments at home."],
            ["Child's views", "Zoë wants things to be calmer."],
            ["Lead professional", "Tam Imaginary, Early Help"],
        ],
    )
    document.add_heading("Part E: Consent", level=1)
    table(document, [["Consent to discussion at panel", "☒ Yes ☐ No"], ["Who agreed", "Mum"]])


EHA_DOMAINS = [
    ("Development of the child", "Ada is meeting most milestones; speech is a little behind."),
    ("Parents and carers", "Mum is caring and engaged; dad works nights."),
    ("Family and environment", "Housing is overcrowded; the family have few local links."),
]


def eha(document: Any) -> None:
    document.add_heading("Early Help Assessment", level=0)
    table(
        document,
        [["Child's name", "Ada Example"], ["Date of birth", "03/04/2019"], ["Consent", "Yes"]],
    )
    for heading, text in EHA_DOMAINS:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    document.add_heading("Plan", level=1)
    document.add_paragraph("Weekly family support sessions; speech and language referral.")


def eha_with_history(document: Any) -> None:
    """An assessment with a short chronology section: still an assessment, not a chronology."""
    eha(document)
    document.add_heading("Chronology", level=1)
    table(document, CHRONOLOGY_ROWS[:3], bold_first=True)
    for heading, text in EHA_DOMAINS:
        document.add_heading(f"Analysis: {heading.lower()}", level=2)
        document.add_paragraph(f"{text} The practitioner and family reviewed this together.")
        document.add_paragraph("Actions agreed with the family are set out in the plan below.")


def eha_named_chronology(document: Any) -> None:
    """An assessment saved as chronology.docx: the content must win over the name."""
    document.add_heading("Early Help Assessment (EHAT)", level=0)
    document.add_paragraph("Family: the Specimen family (synthetic)")
    for heading, text in EHA_DOMAINS:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)


def picture_document(document: Any) -> None:
    """A Word document holding a drawn family tree as a picture, and almost no words."""
    document.add_picture(io.BytesIO(genogram_picture()))
    document.add_paragraph("Drawn by J Fakename, March 2026")


def school_letter(document: Any) -> None:
    document.add_paragraph("Hillview Primary School (synthetic)")
    document.add_paragraph("Dear colleague,")
    document.add_paragraph(
        "I am writing about attendance this term. The family have been supportive and we have "
        "agreed a plan with them. Please contact the school office if you need anything further."
    )
    document.add_paragraph("Yours faithfully, A Headteacher")


def letter_with_logo(document: Any) -> None:
    """A short letter under a small logo: a picture, few words, and still not a genogram."""
    from docx.shared import Cm

    document.add_picture(io.BytesIO(genogram_picture()), width=Cm(2.5))
    document.add_paragraph("Dear colleague, thank you for attending the meeting on Tuesday.")
    document.add_paragraph("The notes will follow next week. Kind regards, A Coordinator")


def strip_controls(data: bytes) -> bytes:
    """Our form as another program might save it: controls unwrapped, our markers gone."""

    def edit(name: str, body: bytes) -> bytes:
        if name == "word/document.xml":
            body = re.sub(rb"<w:sdtPr>.*?</w:sdtPr>", b"", body)
            body = re.sub(rb"</?w:sdt(Content)?>|<w:sdt [^>]*>", b"", body)
        return body.replace(FORM_MARKER.encode(), b"")

    return rewrite_zip(data, edit)


def docm(docx: bytes) -> bytes:
    """A macro-enabled document: the .docx with a macro main part and a vbaProject part."""

    def edit(name: str, body: bytes) -> bytes:
        if name != "[Content_Types].xml":
            return body
        body = body.replace(
            b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            b"application/vnd.ms-word.document.macroEnabled.main+xml",
        )
        vba = (
            b'<Override PartName="/word/vbaProject.bin" '
            b'ContentType="application/vnd.ms-office.vbaProject"/>'
        )
        return body.replace(b"</Types>", vba + b"</Types>")

    return rewrite_zip(docx, edit, {"word/vbaProject.bin": b"\xcc\x61" + b"\x00" * 64})


# --- Spreadsheets and OpenDocument. ---


def chronology_workbook() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Chronology"
    sheet.append(["Chronology of significant events - the Example family (synthetic)"])
    sheet.append(["Child: Ada Example"])
    sheet.append([])
    sheet.append(["Date", "Event / details", "Source", "Impact on child", "Action / outcome"])
    sheet.append(
        [
            datetime(2023, 1, 15),
            "Health visitor concerns about weight",
            "Health",
            "Monitoring",
            "GP review",
        ]
    )
    sheet.append(["?05/2023", "Moved house", "Family", "New school", "None"])
    sheet.append(
        ["Summer 2024", "Grandparent became main carer", "Family", "Settled", "Kinship assessment"]
    )
    sheet.append(
        [
            "2024-13-01",
            "Missed appointment (impossible date as written)",
            "Health",
            "Unknown",
            "Chased",
        ]
    )
    sheet.append([datetime(2025, 2, 3), "TAF meeting", "Early Help", "Plan reviewed", "Continue"])
    workbook.properties.creator = "synthetic"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return rewrite_zip(buffer.getvalue())


def messy_workbook() -> bytes:
    """A spreadsheet chronology: real date cells, an Excel serial number typed as a plain
    number, rough dates as text, an impossible date, a future one and a missing one."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Chronology"
    sheet.append(["Westshire chronology (synthetic)"])
    sheet.append(
        [
            "Date/Period",
            "Significant event",
            "Source of information",
            "Impact on the child",
            "Action taken/Outcome",
        ]
    )
    for row in (
        [datetime(2021, 6, 1), "Referral to health visiting", "Health", "Support", "Visits"],
        [44927, "New baby born", "Health", "Sibling", "None"],
        ["?05/2023", "Nursery place started", "Nursery", "Routine", "None"],
        ["31/02/2024", "Missed appointment", "Health", "Unknown", "Chased"],
        [None, "Neighbour raised concerns", "Police", "Unknown", "Visit"],
        [datetime(2030, 1, 1), "Review (date typed wrongly)", "Early Help", "", ""],
        ["Jan 2025", "EHA completed", "Early Help", "Plan", "TAF"],
    ):
        sheet.append(row)
    workbook.properties.creator = "synthetic"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return rewrite_zip(buffer.getvalue())


def odt(title: str, paragraphs: Sequence[tuple[str, str]]) -> bytes:
    """A minimal OpenDocument text: headings (h) and paragraphs (p)."""
    body = "".join(
        f'<text:h text:outline-level="1">{text}</text:h>'
        if kind == "h"
        else f"<text:p>{text}</text:p>"
        for kind, text in [("h", title), *paragraphs]
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype", FIXED_TIME), "application/vnd.oasis.opendocument.text"
        )
        archive.writestr(zipfile.ZipInfo("content.xml", FIXED_TIME), content)
        archive.writestr(zipfile.ZipInfo("META-INF/manifest.xml", FIXED_TIME), manifest)
    return rewrite_zip(out.getvalue())


# --- Other councils' forms: the layouts of issue 9 (each council, person and date invented). ---

W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
CHECKED, UNCHECKED = "☒", "☐"
# Wingdings' ticked and empty boxes, as Word types them into a check box set to that font: as
# characters of the private use area, which mean nothing without the font.
WINGDINGS_ON, WINGDINGS_OFF = ("00FE", "\uf0fe"), ("00A8", "\uf0a8")


def content_control(paragraph: Any, text: str, kind: str, alias: str = "", tag: str = "") -> None:
    """An inline content control (`kind`: its type element, e.g. "<w:text/>") showing `text`."""
    from docx.oxml import parse_xml

    names = f'<w:alias w:val="{alias}"/>' * bool(alias) + f'<w:tag w:val="{tag}"/>' * bool(tag)
    paragraph._p.append(
        parse_xml(
            f'<w:sdt xmlns:w="{W}" xmlns:w14="{W14}"><w:sdtPr>{names}{kind}</w:sdtPr>'
            f'<w:sdtContent><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:sdtContent>'
            "</w:sdt>"
        )
    )


def checkbox_control(paragraph: Any, checked: bool, wingdings: bool = False, tag: str = "") -> None:
    """A modern (Word 2010 and later) check box control, drawn in MS Gothic or Wingdings."""
    if wingdings:
        (on, on_text), (off, off_text), font = WINGDINGS_ON, WINGDINGS_OFF, "Wingdings"
    else:
        (on, on_text), (off, off_text), font = ("2612", CHECKED), ("2610", UNCHECKED), "MS Gothic"
    kind = (
        f'<w14:checkbox><w14:checked w14:val="{int(checked)}"/>'
        f'<w14:checkedState w14:val="{on}" w14:font="{font}"/>'
        f'<w14:uncheckedState w14:val="{off}" w14:font="{font}"/></w14:checkbox>'
    )
    content_control(paragraph, on_text if checked else off_text, kind, tag=tag)


def dropdown(paragraph: Any, chosen: str, items: Sequence[str], alias: str) -> None:
    """A drop-down list content control with `chosen` picked from `items`."""
    choices = "".join(f'<w:listItem w:displayText="{i}" w:value="{i}"/>' for i in items)
    content_control(paragraph, chosen, f"<w:dropDownList>{choices}</w:dropDownList>", alias)


def riverside_form(document: Any) -> None:
    """Yes/no questions asked as questions in a two-column table; a date of birth in words."""
    document.add_heading("Riverside Borough Council", level=0)
    document.add_heading("Multi-Agency Support Panel: referral form", level=1)
    document.add_heading("About the child", level=2)
    table(
        document,
        [
            ["Full name of child", "Rowan Fictitious"],
            ["Date of birth", "the fourteenth of June 2018"],
            ["Gender", "Non-binary"],
        ],
    )
    document.add_heading("About you (the referrer)", level=2)
    table(
        document,
        [
            ["Completed by", "Ola Sample"],
            ["Job title", "Designated Safeguarding Lead"],
            ["Contact email", "ola.sample@riverside-school.example"],
        ],
    )
    document.add_heading("Questions", level=2)
    table(
        document,
        [
            ["Is this an emergency admission to care under Section 20?", "Yes"],
            ["Is this a request for advice only?", "No"],
            [
                "Has the family consented to this referral being discussed at panel?",
                "Yes – mother agreed by phone on 2 March 2026",
            ],
            ["Is a genogram required?", "Yes"],
            ["Is the child known to CAMHS?", "No"],
        ],
    )


def brookmere_form(document: Any) -> None:
    """Request types and agreement as ☒/☐ lines, in this council's own words."""
    document.add_heading("Brookmere Council — Request for Support", level=0)
    document.add_paragraph("Child/young person's name: Ivo Madeup")
    document.add_paragraph("Date of birth: Tuesday 5 May 2015")
    document.add_heading("Referrer details", level=2)
    table(
        document,
        [
            ["Name", "Cy Placeholder"],
            ["E-mail", "cy.placeholder@brookmere.example"],
            ["Agency", "Brookmere Family Hub (synthetic)"],
        ],
    )
    document.add_heading("Support requested", level=2)
    document.add_paragraph("Type of support requested (tick all that apply):")
    for line in (
        f"{UNCHECKED} Consultation / advice",
        f"{CHECKED} Multi-agency support package",
        f"{UNCHECKED} Emergency admission to care (accommodated under s.20)",
        f"{CHECKED} Step-down from Child in Need",
    ):
        document.add_paragraph(line)
    document.add_heading("Agreement", level=2)
    document.add_paragraph(
        f"Parent/carer has agreed to this being discussed at panel: {CHECKED} Yes {UNCHECKED} No"
    )
    document.add_paragraph(f"Is a genogram required for this family? {UNCHECKED} Yes {CHECKED} No")


def fenwick_form(document: Any) -> None:
    """Word 97 check boxes (FORMCHECKBOX) before each request and beside Yes and No, and a Word
    97 drop-down (FORMDROPDOWN) for the panel."""
    document.add_heading("Fenwick District Council: Multi Agency Referral", level=0)
    grid = table(
        document,
        [
            ["Panel / locality", ""],
            ["Child's first name", "Tia"],
            ["Child's last name", "Madeup"],
            ["Date of birth (dd/mm/yyyy)", "09/10/2012"],
            ["Name of referrer", "Gus Notreal"],
            ["Email of referrer", "gus.notreal@fenwick.example"],
        ],
    )
    legacy_dropdown(grid.rows[0].cells[1].paragraphs[0], ["MASP", "MASG North", "MASG South"], 2)
    document.add_paragraph("What is being requested? (tick)")
    for label, ticked in (
        ("Advice / consultation", False),
        ("Identify a lead professional", False),
        ("Child accommodated under Section 20 (emergency)", True),
        ("Admission to care / high cost placement (LARP)", True),
    ):
        paragraph = document.add_paragraph()
        legacy_checkbox(paragraph, ticked)
        paragraph.add_run(f" {label}")
    grid = table(
        document,
        [
            ["Does the parent/carer agree to the referral?", ""],
            ["If no, why not?", "Father does not agree to information being shared"],
            ["Genogram required?", ""],
        ],
    )
    for row, answer in ((0, False), (2, True)):
        paragraph = grid.rows[row].cells[1].paragraphs[0]
        paragraph.add_run("Yes ")
        legacy_checkbox(paragraph, answer)
        paragraph.add_run("  No ")
        legacy_checkbox(paragraph, not answer)


def greyford_form(document: Any) -> None:
    """Modern check box controls drawn in Wingdings: only the control's state says which is on."""
    document.add_heading("Greyford Council – MASG referral", level=0)
    table(
        document,
        [
            ["Panel", "MASG West"],
            ["Name of child or young person", "Elm Invented"],
            ["DOB", "2 Feb 2013"],
        ],
    )
    document.add_heading("Person making the referral", level=2)
    table(document, [["Name", "Hal Pretend"], ["Email address", "hal.pretend@greyford.example"]])
    document.add_heading("Support requested", level=2)
    grid = document.add_table(rows=0, cols=2)
    for number, (label, ticked) in enumerate(
        (
            ("Advice", False),
            ("Team Around the Family / lead professional", True),
            ("Emergency accommodation (Section 20)", False),
            ("Threshold discussion", True),
        )
    ):
        cells = grid.add_row().cells
        checkbox_control(cells[0].paragraphs[0], ticked, wingdings=True, tag=f"Check{number}")
        cells[1].text = label
    grid = table(
        document,
        [
            ["The family agree to the referral being shared with panel members", ""],
            ["Genogram needed?", ""],
        ],
    )
    for row, answer in ((0, True), (1, False)):
        paragraph = grid.rows[row].cells[1].paragraphs[0]
        checkbox_control(paragraph, answer, wingdings=True)
        paragraph.add_run(" Yes ")
        checkbox_control(paragraph, not answer, wingdings=True)
        paragraph.add_run(" No")


def oakleigh_form(document: Any) -> None:
    """A household of several children in one table; the one referred is marked in a column."""
    document.add_heading("Oakleigh Council — Multi Agency Referral", level=0)
    document.add_heading("1. Children in the household", level=1)
    table(
        document,
        [
            ["Name", "Date of birth", "Gender", "Subject of referral?"],
            ["Jem Madeup", "01/09/2012", "Male", "No"],
            ["Lou Madeup", "17/11/2015", "Female", "Yes"],
            ["Pip Madeup", "30/06/2020", "Male", "No"],
        ],
        bold_first=True,
    )
    document.add_heading("2. Adults in the household", level=1)
    table(
        document,
        [
            ["Name", "Relationship to child", "Parental responsibility"],
            ["Fay Madeup", "Mother", "Yes"],
            ["Dan Sample", "Stepfather", "No"],
        ],
        bold_first=True,
    )
    document.add_heading("3. Referrer", level=1)
    table(
        document,
        [
            ["Referred by", "Rae Notional"],
            ["Email", "rae.notional@oakleigh.example"],
            ["Service", "Oakleigh Family Support (synthetic)"],
        ],
    )
    document.add_heading("4. Request", level=1)
    table(
        document,
        [
            ["What support are you requesting?", "Kinship support so that Lou can return home"],
            ["Consent (Y/N)", "Y"],
            ["Genogram required (Y/N)", "N"],
        ],
    )


def marshfield_form(document: Any) -> None:
    """A tick column beside each request, and questions answered by a mark under Yes or No."""
    document.add_heading("Marshfield Council — MASP Referral Form", level=0)
    for line in (
        "Child's name: Remy Example",
        "D.O.B.: 3rd March 2017",
        "Referrer's name: Isa Notreal",
        "Referrer's email: isa.notreal@marshfield.example",
    ):
        document.add_paragraph(line)
    table(
        document,
        [
            ["Type of request", "Tick"],
            ["Advice or consultation", ""],
            ["Threshold query / resolution", "✓"],
            ["Specific service (e.g. CAMHS, SALT)", "✓"],
            ["Section 20 / emergency accommodation", ""],
        ],
        bold_first=True,
    )
    table(
        document,
        [
            ["Question", "Yes", "No"],
            ["Does the family consent to the referral?", "", "X"],
            ["Is a genogram needed?", "X", ""],
            ["Is this an emergency Section 20 admission?", "", "X"],
        ],
        bold_first=True,
    )


def wexcombe_form(document: Any) -> None:
    """Section 20 written out as the request, [x]/[ ] boxes, and a "No" with its reason."""
    document.add_heading("Wexcombe Council — Panel referral form", level=0)
    table(
        document,
        [
            ["Young person's name", "Cas Pretend"],
            ["DOB", "1st of February 2011"],
            ["Referrer name", "Jo Nobody"],
            ["Referrer e-mail", "jo.nobody@wexcombe.example"],
            [
                "Type of request",
                "Emergency accommodation – the child was accommodated under s.20 on 01/03/2026",
            ],
            [
                "Has the family consented?",
                "No — reason: parents could not be reached before the admission",
            ],
            ["Genogram required?", "[ ] Yes [x] No"],
        ],
    )
    document.add_paragraph("Reason for referral (tick): [x] Escalation [ ] No improvement")


def holbrook_form(document: Any) -> None:
    """Answers in drop-down, date and text content controls tagged by another council."""
    document.add_heading("Holbrook Council — Multi Agency Referral", level=0)
    grid = table(
        document,
        [
            ["Panel", ""],
            ["Child's name", ""],
            ["Date of birth", ""],
            ["Referrer", ""],
            ["Referrer's email", ""],
            ["Type of request", ""],
            ["Consent to discuss at panel", ""],
            ["Genogram required", ""],
        ],
    )
    cells = [row.cells[1].paragraphs[0] for row in grid.rows]
    dropdown(cells[0], "MASG East", ["MASP", "MASG East", "MASG West"], "Panel")
    content_control(cells[1], "Ula Example", "<w:text/>", "Child name", "txtChild")
    content_control(
        cells[2],
        "Wednesday, 25 December 2019",
        '<w:date w:fullDate="2019-12-25T00:00:00Z"><w:dateFormat w:val="dddd, d MMMM yyyy"/>'
        '<w:lid w:val="en-GB"/><w:storeMappedDataAs w:val="dateTime"/>'
        '<w:calendar w:val="gregorian"/></w:date>',
        "DOB",
        "dtDob",
    )
    content_control(cells[3], "Oz Sample", "<w:text/>", tag="txtReferrer")
    content_control(cells[4], "oz.sample@holbrook.example", "<w:text/>", tag="txtEmail")
    requests = ["Advice", "Section 20 – emergency accommodation", "Step down"]
    dropdown(cells[5], requests[1], requests, "Request")
    dropdown(cells[6], "No – family declined", ["Yes", "No – family declined"], "Consent")
    dropdown(cells[7], "Not required", ["Required", "Not required"], "Genogram")


def ashbourne_pdf() -> bytes:
    """A text PDF whose label: value pairs run in two columns, so two share each line of text."""
    rows: list[tuple[str, str]] = [
        ("Child's name: Noa Fakeley", "Date of birth: 21st of September 2016"),
        ("Referrer's name: Una Sample", "Referrer's email: una.sample@ashbourne.example"),
        ("Panel: MASG South", "Date of referral: 2 March 2026"),
        ("Request: [ ] Advice [x] Section 20 accommodation [ ] TAF", ""),
        ("Family agreed to panel discussion: No", "Genogram required: Yes"),
    ]
    content = pdf_text(56, 780, 16, "Ashbourne City Council") + pdf_text(
        56, 756, 13, "MASP referral form"
    )
    for number, (left, right) in enumerate(rows):
        y = 720 - 22 * number
        content += pdf_text(56, y, 10, left) + (pdf_text(320, y, 10, right) if right else b"")
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
            stream(content),
        ]
    )


def kingsmoor_pdf() -> bytes:
    """A fillable PDF: tooltips in this council's words, check boxes whose 'on' is not 'Yes',
    and radio groups for the yes/no questions."""
    return fillable_pdf(
        [
            "Kingsmoor Council",
            "Referral to the Multi Agency Support Panel",
            "Name of child or young person",
            "Date of birth",
            "Name of referrer",
            "Email",
            "Support requested",
            "Has the parent or carer agreed to the referral?",
            "Will the panel need a genogram?",
        ],
        [
            PdfField("ChildFullName", "Ned Sample", "Name of child or young person"),
            PdfField("DateOfBirth", "23/07/2016", "Date of birth"),
            PdfField("RefName", "Viv Fakeley", "Name of referrer"),
            PdfField("RefEmail", "viv.fakeley@kingsmoor.example", "Referrer email"),
            PdfField("SupportType1", False, "Consultation / advice", on="On"),
            PdfField("SupportType2", True, "Emergency admission to care (s.20)", on="On"),
            PdfField("SupportType3", True, "Return home / kinship support", on="On"),
            PdfField(
                "ParentAgreement",
                "No",
                "Has the parent or carer agreed to the referral?",
                ("Yes", "No"),
            ),
            PdfField("GenogramNeeded", "Yes", "Will the panel need a genogram?", ("Yes", "No")),
        ],
    )


def tarnside_pdf() -> bytes:
    """A fillable PDF with no tooltips: fields named by section and in camel case."""
    return fillable_pdf(
        [
            "Tarnside Council",
            "Request for support",
            "Child: full name, date of birth",
            "Referrer: name, email",
            "Support needed",
            "Consent",
            "Genogram",
        ],
        [
            PdfField("Child.FullName", "Abe Imaginary"),
            PdfField("Child.DateOfBirth", "11.12.2014"),
            PdfField("Referrer.Name", "Bex Fictional"),
            PdfField("Referrer.Email", "BEX.FICTIONAL@tarnside.example"),
            PdfField("Request.Advice", False, on="On"),
            PdfField("Request.MultiAgencyPackage", True, on="On"),
            PdfField("Request.Section20", False, on="On"),
            PdfField("Consent.FamilyAgrees", "Yes", options=("Yes", "No")),
            PdfField("Genogram.Required", "No", options=("Yes", "No")),
        ],
    )


def long_assessment_pdf() -> bytes:
    """A twelve-page Child and Family Assessment: the domains, then pages of analysis."""
    domains = ["Development of the child", "Parents and carers", "Family and environment"]
    pages = [["Child and Family Assessment", "Family: the Specimen family (synthetic)", *domains]]
    for page in range(2, 13):
        pages.append(
            [f"Analysis, page {page}"]
            + [f"Paragraph {n}: the practitioner's invented observations." for n in range(30)]
        )
    return text_pdf(pages)


def other_councils() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Other councils' referral forms (issue 9), each read by label, with what it must give."""
    form = {"kind": "referral_form", "status": "ok"}
    return {
        "Riverside MASP referral.docx": (
            docx_bytes(riverside_form),
            {
                **form,
                "form": facts(
                    None,
                    "Rowan Fictitious",
                    "2018-06-14",
                    "Ola Sample",
                    "ola.sample@riverside-school.example",
                    ["section20"],
                    True,
                    True,
                    "labels",
                ),
            },
        ),
        "Brookmere request for support.docx": (
            docx_bytes(brookmere_form),
            {
                **form,
                "form": facts(
                    None,
                    "Ivo Madeup",
                    "2015-05-05",
                    "Cy Placeholder",
                    "cy.placeholder@brookmere.example",
                    ["multi_agency_package", "step_down"],
                    True,
                    False,
                    "labels",
                ),
            },
        ),
        "Fenwick referral (legacy boxes).docx": (
            docx_bytes(fenwick_form),
            {
                **form,
                "form": facts(
                    "MASG South",
                    "Tia Madeup",
                    "2012-10-09",
                    "Gus Notreal",
                    "gus.notreal@fenwick.example",
                    ["admission_to_care", "section20"],
                    False,
                    True,
                    "labels",
                ),
                "fields": {
                    "consent_reason_not": "Father does not agree to information being shared"
                },
            },
        ),
        "Greyford MASG referral.docx": (
            docx_bytes(greyford_form),
            {
                **form,
                "form": facts(
                    "MASG West",
                    "Elm Invented",
                    "2013-02-02",
                    "Hal Pretend",
                    "hal.pretend@greyford.example",
                    ["lead_professional", "threshold_resolution"],
                    True,
                    False,
                    "labels",
                ),
            },
        ),
        "Oakleigh family referral.docx": (
            docx_bytes(oakleigh_form),
            {
                **form,
                "form": facts(
                    None,
                    "Lou Madeup",
                    "2015-11-17",
                    "Rae Notional",
                    "rae.notional@oakleigh.example",
                    ["return_home"],
                    True,
                    False,
                    "labels",
                ),
                "fields": {
                    "other_children": "Jem Madeup, 01/09/2012\nPip Madeup, 30/06/2020",
                    "household": [
                        {
                            "name": "Fay Madeup",
                            "relationship": "Mother",
                            "parental_responsibility": True,
                            "do_not_disclose": None,
                        },
                        {
                            "name": "Dan Sample",
                            "relationship": "Stepfather",
                            "parental_responsibility": False,
                            "do_not_disclose": None,
                        },
                    ],
                },
            },
        ),
        "Marshfield referral.docx": (
            docx_bytes(marshfield_form),
            {
                **form,
                "form": facts(
                    None,
                    "Remy Example",
                    "2017-03-03",
                    "Isa Notreal",
                    "isa.notreal@marshfield.example",
                    ["specific_service", "threshold_resolution"],
                    False,
                    True,
                    "labels",
                ),
            },
        ),
        "Wexcombe referral.docx": (
            docx_bytes(wexcombe_form),
            {
                **form,
                "form": facts(
                    None,
                    "Cas Pretend",
                    "2011-02-01",
                    "Jo Nobody",
                    "jo.nobody@wexcombe.example",
                    ["section20"],
                    False,
                    False,
                    "labels",
                ),
                "fields": {"reasons": ["escalation"]},
            },
        ),
        "Holbrook referral.docx": (
            docx_bytes(holbrook_form),
            {
                **form,
                "form": facts(
                    "MASG East",
                    "Ula Example",
                    "2019-12-25",
                    "Oz Sample",
                    "oz.sample@holbrook.example",
                    ["section20"],
                    False,
                    False,
                    "labels",
                ),
            },
        ),
        "Ashbourne referral.pdf": (
            ashbourne_pdf(),
            {
                **form,
                "form": facts(
                    "MASG South",
                    "Noa Fakeley",
                    "2016-09-21",
                    "Una Sample",
                    "una.sample@ashbourne.example",
                    ["section20"],
                    False,
                    True,
                    "labels",
                ),
                "fields": {"referral_date": "2026-03-02"},
            },
        ),
        "Kingsmoor referral form.pdf": (
            kingsmoor_pdf(),
            {
                **form,
                "form": facts(
                    None,
                    "Ned Sample",
                    "2016-07-23",
                    "Viv Fakeley",
                    "viv.fakeley@kingsmoor.example",
                    ["return_home", "section20"],
                    False,
                    True,
                    "labels",
                ),
                "sources": {"consent": "acroform", "request_types": "acroform"},
            },
        ),
        "Tarnside referral.pdf": (
            tarnside_pdf(),
            {
                **form,
                "form": facts(
                    None,
                    "Abe Imaginary",
                    "2014-12-11",
                    "Bex Fictional",
                    "bex.fictional@tarnside.example",
                    ["multi_agency_package"],
                    True,
                    False,
                    "labels",
                ),
            },
        ),
        "Child and Family Assessment (12 pages).pdf": (
            long_assessment_pdf(),
            {"kind": "assessment", "status": "ok"},
        ),
    }


# --- The corpus: each file and what it must be classified as. ---

NO_FORM = None


def facts(
    panel: str | None = None,
    child_name: str | None = None,
    child_dob: str | None = None,
    referrer_name: str | None = None,
    referrer_email: str | None = None,
    request_types: Sequence[str] = (),
    consent: bool | None = None,
    genogram_required: bool | None = None,
    source: str = "content-controls",
) -> dict[str, Any]:
    return {
        "panel": panel,
        "child_name": child_name,
        "child_dob": child_dob,
        "referrer_name": referrer_name,
        "referrer_email": referrer_email,
        "request_types": list(request_types),
        "consent": consent,
        "genogram_required": genogram_required,
        "section20": "section20" in request_types,
        "source": source,
    }


FormValues = dict[str, str | bool | Sequence[str]]
ADA: FormValues = {
    "panel": "MASP",
    "referral_date": "02/03/2026",
    "referrer_name": "Sam Worker",
    "referrer_role": "Social worker",
    "referrer_agency": "Children's Services (synthetic)",
    "referrer_email": "sam.worker@council.example",
    "child_name": "Ada Example",
    "child_dob": "03/04/2019",
    "request_types": ["multi_agency_package", "specific_service"],
    "reasons": ["no_improvement"],
    "panel_question": "Can partners agree a joined-up package for the family?",
    "consent": True,
    "consent_who": "Mum (Jo Example)",
    "genogram_required": False,
    "household_1_name": "Jo Example",
    "household_1_relationship": "Mother",
}
ADA_FACTS = facts(
    "MASP",
    "Ada Example",
    "2019-04-03",
    "Sam Worker",
    "sam.worker@council.example",
    ["multi_agency_package", "specific_service"],
    True,
    False,
)


def corpus() -> dict[str, tuple[bytes, dict[str, Any]]]:
    ok = {"status": "ok"}
    form = {"kind": "referral_form", **ok}
    s20: FormValues = {
        **ADA,
        "child_name": "Zed Nobody",
        "child_dob": "1/2/2011",
        "request_types": ["section20", "admission_to_care"],
        "genogram_required": True,
        "panel_question": "Emergency admission last night: please note.",
    }
    bo: FormValues = {
        "panel": "MASG North",
        "child_name": "Bo Fictitious",
        "child_dob": "2020-08-14",
        "referrer_name": "Ria Invented",
        "referrer_email": "Ria.Invented@health.example",
        "request_types": ["lead_professional"],
        "genogram_required": True,
    }
    return {
        # Our form, several ways.
        "MASP referral form - Ada Example.docx": (fill_form(ADA), {**form, "form": ADA_FACTS}),
        "MASP referral - S20.docx": (
            fill_form(s20),
            {
                **form,
                "form": facts(
                    "MASP",
                    "Zed Nobody",
                    "2011-02-01",
                    "Sam Worker",
                    "sam.worker@council.example",
                    ["admission_to_care", "section20"],
                    True,
                    True,
                ),
            },
        ),
        "Referral - Bo Fictitious.docx": (
            fill_form(bo),
            {
                **form,
                "form": facts(
                    "MASG North",
                    "Bo Fictitious",
                    "2020-08-14",
                    "Ria Invented",
                    "ria.invented@health.example",
                    ["lead_professional"],
                    None,
                    True,
                ),
            },
        ),
        "MASP-referral-form-blank.docx": (fill_form({}), {**form, "form": facts()}),
        "Referral (saved by another program).docx": (
            strip_controls(fill_form(ADA)),
            {**form, "form": {**ADA_FACTS, "source": "labels"}},
        ),
        # Other councils' forms.
        "Request for Support - Northshire.docx": (
            docx_bytes(northshire_form),
            {
                **form,
                "form": facts(
                    "MASG North",
                    "Olly Testcase",
                    "2015-09-07",
                    "Pat Placeholder",
                    "pat.placeholder@northshire.example",
                    ["lead_professional", "multi_agency_package"],
                    True,
                    None,
                    "labels",
                ),
            },
        ),
        "Eastvale MASG referral.docx": (
            docx_bytes(eastvale_form),
            {
                **form,
                "form": facts(
                    "East",
                    "Bea Sample",
                    "2019-03-12",
                    "Lee Notreal",
                    "lee.notreal@eastvale.example",
                    ["advice", "specific_service"],
                    True,
                    True,
                    "labels",
                ),
            },
        ),
        "Hillshire referral.docx": (
            docx_bytes(hillshire_form),
            {
                **form,
                "form": facts(
                    None,
                    "Zoë O'Neill-Ávila",
                    "2016-02-29",
                    "Tam Imaginary",
                    "tam.imaginary@hillshire.example",
                    ["advice", "threshold_resolution"],
                    True,
                    None,
                    "labels",
                ),
                "fields": {
                    "child_gender": "Female",
                    "child_ethnicity": "Mixed White and Black Caribbean",
                    "child_language": "English",
                    "child_school": "Brookfield Primary (synthetic)",
                    "child_gp": "Dr A Nonesuch, Riverside Surgery",
                    "child_nhs_number": "999 000 0000",
                    "child_current_plan": "CIN",
                    "referrer_role": "Early Help Practitioner",
                    "referrer_agency": "Hillshire Early Help (synthetic)",
                    "referrer_phone": "01632 960000",
                    "panel_question": "Does this family meet the threshold for CIN?",
                    "strengths": "Mum is committed and attends every meeting.",
                    "risks": "Escalating arguments at home.",
                    "child_views": "Zoë wants things to be calmer.",
                    "lead_professional": "Tam Imaginary, Early Help",
                    "consent_who": "Mum",
                    "household": [
                        {
                            "name": "Mae O'Neill",
                            "relationship": "Mother",
                            "parental_responsibility": True,
                            "do_not_disclose": False,
                        },
                        {
                            "name": "Ron Ávila",
                            "relationship": "Father",
                            "parental_responsibility": True,
                            "do_not_disclose": True,
                        },
                    ],
                },
                "sources": {"child_name": "table-label", "household": "table"},
                "missing": [],
            },
        ),
        "westshire-form.pdf": (
            acroform_pdf(),
            {
                **form,
                "form": facts(
                    "MASP",
                    "Cal Fictional",
                    "2017-01-31",
                    "Dee Madeup",
                    "dee.madeup@westshire.example",
                    ["section20"],
                    True,
                    False,
                    "labels",
                ),
            },
        ),
        "Southby referral.pdf": (
            text_pdf(
                [
                    [
                        "Southby Borough Council",
                        "MASP referral",
                        "Section 1: The child",
                        "Child's name: Dot Imaginary",
                        "D.O.B.: 05/11/2020",
                        "Section 2: The referrer",
                        "Name: Max Pretend",
                        "Email: max.pretend@southby.example",
                        "Panel: MASP",
                        "Request: [X] Threshold resolution   [ ] Section 20",
                        "Consent to panel discussion: Yes",
                        "Genogram required: No",
                    ]
                ]
            ),
            {
                **form,
                "form": facts(
                    "MASP",
                    "Dot Imaginary",
                    "2020-11-05",
                    "Max Pretend",
                    "max.pretend@southby.example",
                    ["threshold_resolution"],
                    True,
                    False,
                    "labels",
                ),
            },
        ),
        # Chronologies.
        "docs.docx": (docx_bytes(docs_chronology), {"kind": "chronology", **ok}),
        "Example family timeline.xlsx": (chronology_workbook(), {"kind": "chronology", **ok}),
        "chronology-notes.pdf": (
            text_pdf(
                [
                    [
                        "Chronology",
                        "Date Event Source Impact Action",
                        "01/02/2024 School raised concerns School Worry Meeting",
                    ]
                ]
            ),
            {"kind": "chronology", **ok},
        ),
        "Chronology - Fakename family.docx": (
            docx_bytes(messy_chronology),
            {
                "kind": "chronology",
                **ok,
                "summary": {
                    "entries": 10,
                    "first_date": "2019",
                    "last_date": "2031-02-03",
                    "sources": [
                        "Mum",
                        "School",
                        "Housing",
                        "Health",
                        "Family",
                        "Police",
                        "Early Help",
                    ],
                    "problems": 5,
                },
                "notes": [
                    "row 8 has no date ('Grandmother moved in')",
                    "row 9: the date 'last week' could not be read",
                    "row 11: '03/02/2031' is in the future",
                    "row 6 to row 7 ('02/11/2022') are earlier than row 5 above ('14/01/2023'): "
                    "out of date order",
                ],
                "entries_approximate": {
                    "row 2": True,
                    "row 3": False,
                    "row 4": True,
                    "row 10": True,
                },
            },
        ),
        "westshire chronology.xlsx": (
            messy_workbook(),
            {
                "kind": "chronology",
                **ok,
                "summary": {
                    "entries": 7,
                    "first_date": "2021-06-01",
                    "last_date": "2030-01-01",
                    "sources": ["Health", "Nursery", "Police", "Early Help"],
                    "problems": 3,
                },
                "notes": [
                    "row 6: '31/02/2024' is not a real date",
                    "row 7 has no date ('Neighbour raised concerns')",
                    "row 8: '01/01/2030' is in the future",
                ],
                "entries_approximate": {"row 3": False, "row 4": False, "row 5": True},
            },
        ),
        # Assessments.
        "EHA Example family.docx": (docx_bytes(eha), {"kind": "assessment", **ok}),
        "Family EHA with history.docx": (
            docx_bytes(eha_with_history),
            {"kind": "assessment", **ok},
        ),
        "chronology.docx": (
            docx_bytes(eha_named_chronology),
            {"kind": "assessment", **ok, "note_contains": "content wins"},
        ),
        "CAF Example.pdf": (
            text_pdf(
                [
                    [
                        "Common Assessment Framework (CAF)",
                        "Child: Ada Example (synthetic)",
                        "Development of the child",
                        "Speech is a little behind.",
                        "Parents and carers",
                        "Mum is engaged.",
                        "Family and environment",
                        "Overcrowded housing.",
                    ]
                ]
            ),
            {"kind": "assessment", **ok},
        ),
        "assessment-notes.odt": (
            odt(
                "Child and Family Assessment",
                [
                    ("p", "Family: the Specimen family (synthetic)"),
                    ("h", "Child's developmental needs"),
                    ("p", "Healthy."),
                    ("h", "Parenting capacity"),
                    ("p", "Good."),
                    ("h", "Family and environmental factors"),
                    ("p", "Stable."),
                ],
            ),
            {"kind": "assessment", **ok},
        ),
        # Genograms.
        "genogram.png": (genogram_picture(), {"kind": "genogram", **ok}),
        "IMG_0042.png": (genogram_picture(), {"kind": "genogram", **ok}),
        "page1.pdf": (genogram_pdf(), {"kind": "genogram", **ok}),
        "attachment.docx": (docx_bytes(picture_document), {"kind": "genogram", **ok}),
        # Others, and a scan.
        "Letter from school.docx": (docx_bytes(school_letter), {"kind": "other", **ok}),
        "Letter with logo.docx": (docx_bytes(letter_with_logo), {"kind": "other", **ok}),
        "scan0001.pdf": (
            scan_pdf(),
            {"kind": "other", "status": "needs_review", "reason_contains": "scanned"},
        ),
        # Hostile.
        "Referral form.docm": (
            docm(fill_form(ADA)),
            {"kind": "referral_form", "status": "refused", "reason_contains": "macros"},
        ),
        "Referral form (protected).docx": (
            encrypted_docx(),
            {"kind": "referral_form", "status": "refused", "reason_contains": "password"},
        ),
        "Chronology Sample.docx": (
            program(),
            {"kind": "chronology", "status": "refused", "reason_contains": "actually a program"},
        ),
        "CAF Sample (damaged).pdf": (
            text_pdf([["Common Assessment Framework (CAF)", "Development of the child"]])[:-300],
            {"kind": "assessment", "status": "refused", "reason_contains": "cut short"},
        ),
        "genogram-empty.png": (
            b"",
            {"kind": "genogram", "status": "refused", "reason_contains": "empty"},
        ),
        **other_councils(),
    }


def main() -> None:
    for old in HERE.iterdir():
        if old.name != Path(__file__).name and old.is_file():
            old.unlink()
    for name, (data, expected) in corpus().items():
        (HERE / name).write_bytes(data)
        (HERE / f"{name}.json").write_text(
            json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
        )
    print(f"wrote {len(corpus())} documents to {HERE}")


if __name__ == "__main__":
    main()
