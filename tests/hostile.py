"""Hostile attachments for the safety tests, made at test time: small to keep, dangerous to open.

Each maker returns bytes an attacker (or a broken mail client) could send. The Word ones start
from the synthetic assessment in `pipeline.samples`, so everything except the attack is normal.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfWriter

from pipeline import samples
from tests.helpers import corpus_maker

WORD_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
DOCM_MAIN = b"application/vnd.ms-word.document.macroEnabled.main+xml"
DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
VBA_TYPE = b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def word_parts() -> dict[str, bytes]:
    """The parts of an ordinary synthetic Word document, by name."""
    with zipfile.ZipFile(io.BytesIO(samples.assessment())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def word(**replace: bytes) -> bytes:
    """An ordinary Word document with some parts replaced or added (`document="..."` etc.)."""
    parts = word_parts()
    for key, data in replace.items():
        parts[_part_name(key)] = data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _part_name(key: str) -> str:
    return {"document": "word/document.xml", "types": "[Content_Types].xml"}.get(key, key)


def word_body(inner: bytes, doctype: bytes = b"") -> bytes:
    """A document.xml with one paragraph holding `inner`, after an optional DOCTYPE."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>' + doctype + b"<w:document " + WORD_NS + b">"
        b"<w:body><w:p><w:r><w:t>" + inner + b"</w:t></w:r></w:p></w:body></w:document>"
    )


def billion_laughs() -> bytes:
    """Ten levels of ten-fold entities: 10^9 copies of "lol" if any parser expands them."""
    entities = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (level, b"&l%d;" % (level - 1) * 10) for level in range(1, 10)
    )
    return word_body(b"Chronology &l9;", b"<!DOCTYPE w:document [" + entities + b"]>")


def billion_laughs_docx() -> bytes:
    return word(document=billion_laughs())


def external_entity(secret_file: Path) -> bytes:
    """A document.xml whose text pulls in a file from the server's disk (XXE)."""
    doctype = b'<!DOCTYPE w:document [<!ENTITY leak SYSTEM "%s">]>' % secret_file.as_uri().encode()
    return word_body(b"Chronology &leak;", doctype)


def external_entity_docx(secret_file: Path) -> bytes:
    return word(document=external_entity(secret_file))


def macro_docm() -> bytes:
    """A macro-enabled Word document as Word saves one: a docm main part and a vbaProject.bin."""
    types = word_parts()["[Content_Types].xml"].replace(DOCX_MAIN, DOCM_MAIN)
    types = types.replace(b"</Types>", VBA_TYPE + b"</Types>")
    return word(types=types, **{"word/vbaProject.bin": OLE_MAGIC + bytes(1024)})


def program() -> bytes:
    """The start of a Windows program (MZ header and PE stub), as if renamed to .docx."""
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(44)
    return stub + struct.pack("<I", 64) + b"PE\x00\x00" + bytes(2048)


def repeated_deflate(head: bytes, chunk: bytes, copies: int, tail: bytes) -> bytes:
    """Raw deflate data for `head + chunk * copies + tail`, compressing `chunk` only once.

    Compressing hundreds of megabytes takes seconds, so one compressed block is repeated instead:
    after a full flush, deflate blocks are byte-aligned and independent, so copies concatenate.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    return start + block * copies + deflate.compress(tail) + deflate.flush()


def checksum(
    function: Callable[[bytes, int], int], head: bytes, chunk: bytes, copies: int, tail: bytes
) -> int:
    """`function` (zlib's crc32 or adler32) over `head + chunk * copies + tail`, never built."""
    value = function(head, 1 if function is zlib.adler32 else 0)
    for _ in range(copies):
        value = function(chunk, value)
    return function(tail, value)


def repeated_zlib(unit: bytes, times: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    """A zlib stream (as PNG and PDF use) of `head + unit * times + tail`, small however long."""
    per_block = max(1, (1 << 20) // len(unit))
    copies, rest = divmod(times, per_block)
    chunk, tail = unit * per_block, unit * rest + tail
    check = checksum(zlib.adler32, head, chunk, copies, tail)
    return b"\x78\xda" + repeated_deflate(head, chunk, copies, tail) + struct.pack(">I", check)


def zip_bomb_docx(inflated: int = 200 * 1024 * 1024) -> bytes:
    """A .docx whose document.xml is ~200 KB compressed and `inflated` bytes once opened."""
    head, chunk, tail = b"<w:document " + WORD_NS + b"><w:body>", b"<w:p/>" * 174_763, b"</w:body>"
    copies = max(1, (inflated - len(head)) // len(chunk))
    tail += b"</w:document>"
    crc = checksum(zlib.crc32, head, chunk, copies, tail)
    size = len(head) + copies * len(chunk) + len(tail)
    bomb = Member("word/document.xml", repeated_deflate(head, chunk, copies, tail), crc, size)
    others = [deflated(name, data) for name, data in word_parts().items()]
    return write_zip([m for m in others if m.name != bomb.name] + [bomb])


class Member:
    """One zip member, already deflated (method 8)."""

    def __init__(self, name: str, data: bytes, crc: int, size: int, method: int = 8) -> None:
        self.name, self.data, self.crc, self.size, self.method = name, data, crc, size, method


def deflated(name: str, data: bytes) -> Member:
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Member(name, deflate.compress(data) + deflate.flush(), zlib.crc32(data), len(data))


def write_zip(members: list[Member]) -> bytes:
    """A plain zip (no zip64) from pre-compressed members: local headers, directory, end record."""
    out, directory = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        fields = (m.method, 0, 0x21, m.crc, len(m.data), m.size, len(name))
        # Central entry: made by, needed, flags, the fields, no extra/comment, disk 0, attributes 0.
        entry = (b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, 0, len(out))
        directory += struct.pack("<4s6H3L5H2L", *entry) + name
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields, 0) + name + m.data
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0
    )
    return bytes(out + directory + end)


# The document corpus already assembles PDFs from numbered objects: reuse it.
pdf = corpus_maker().pdf


def one_page_pdf(content: bytes) -> bytes:
    """A one-page PDF whose page draws `content` (compressed, as real PDFs are)."""
    stream = zlib.compress(content, 6)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def text_pdf(text: str = "Chronology of significant events") -> bytes:
    return one_page_pdf(b"BT /F1 12 Tf 72 760 Td (%s) Tj ET" % text.encode("latin-1"))


def one_long_path_pdf(lines: int = 1_500_000) -> bytes:
    """One page, one path of `lines` line segments (the case that ran pdfplumber for minutes)."""
    return one_page_pdf(b"0 0 m\n" + b"1 1 l\n" * lines + b"S\n")


def many_paths_pdf(paths: int = 1_500_000) -> bytes:
    """One page of `paths` separate stroked lines: seconds of work and ~0.5 GB for pdfium."""
    return one_page_pdf(b"0 0 m 1 1 l S\n" * paths)


def pages_pdf(pages: int = 2000) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf() -> bytes:
    """A text PDF that needs a password to open (AES-256, as Acrobat writes today)."""
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf())))
    writer.encrypt("user-password", "owner-password", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def truncated_pdf() -> bytes:
    """A PDF cut off part-way, as a failed upload or a full disk leaves it."""
    whole = text_pdf()
    return whole[: len(whole) * 2 // 3]


def drawing_pdf(
    pages: int, operation: bytes, times: int, head: bytes = b"", tail: bytes = b""
) -> bytes:
    """`pages` pages that all draw one content stream, `head + operation * times + tail`.

    The pages share the stream, so a PDF of millions of drawing operations a page is a few
    kilobytes on disk: what a hostile sender can fit many of into one email.
    """
    stream = repeated_zlib(operation, times, head, tail)
    kids = b" ".join(b"%d 0 R" % (4 + page) for page in range(pages))
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
            *[b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"] * pages,
        ]
    )


def long_path_pdf(pages: int, segments: int) -> bytes:
    """Each page draws one path of `segments` line segments."""
    return drawing_pdf(pages, b"1 1 l\n", segments, b"0 0 m\n", b"S\n")


def squares_pdf(pages: int, squares: int) -> bytes:
    """Each page fills `squares` separate squares: as many drawing objects for pdfium."""
    return drawing_pdf(pages, b"0 0 1 1 re f\n", squares)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def one_colour_png(width: int, height: int, pixel: bytes = b"", bits: int = 1) -> bytes:
    """A PNG of one colour, small on disk however many pixels it holds.

    With no `pixel`, a white 1-bit greyscale image; otherwise every pixel is `pixel` (3 bytes
    for RGB, 4 for RGBA, at 8 bits a channel).
    """
    colour_type = {0: 0, 3: 2, 4: 6}[len(pixel)]
    row = b"\x00" + (pixel * width if pixel else b"\xff" * -(-width * bits // 8))
    header = struct.pack(">IIBBBBB", width, height, 8 if pixel else bits, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", repeated_zlib(row, height))
        + png_chunk(b"IEND", b"")
    )


def many_page_tiff(width: int, height: int, pages: int) -> bytes:
    """A TIFF of `pages` white 1-bit pages that all point at one deflated strip."""
    strip = repeated_zlib(b"\xff" * -(-width // 8), height)
    # Tag, type (3 short, 4 long), value: the least a reader needs for one strip of pixels.
    tags = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 1),
        (259, 3, 8),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, len(strip)),
    ]
    size = 2 + 12 * len(tags) + 4
    first = 8 + len(strip)
    out = bytearray(b"II*\x00" + struct.pack("<I", first) + strip)
    for page in range(pages):
        following = first + (page + 1) * size if page + 1 < pages else 0
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + packed
        out += struct.pack("<I", following)
    return bytes(out)
