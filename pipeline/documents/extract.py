"""What classification reads from each type of file: its text in blocks, and the pictures in it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

from pipeline.documents.chronology import cell_text
from pipeline.documents.form import FORM_MARKER
from pipeline.documents.parsing import Source
from pipeline.documents.sniff import open_zip, parse_xml, read_member
from pipeline.documents.word import Block

MAX_TEXT = 20_000
MAX_SHEET_ROWS = 200
MAX_SHEETS = 10
MAX_COLUMNS = 30
IMAGES = frozenset({"png", "jpeg", "gif", "tiff", "bmp", "heic"})


@dataclass(frozen=True)
class Content:
    """What was read from a file: blocks of text in order, plus what pictures it holds."""

    blocks: tuple[Block, ...] = ()
    pictures: int = 0
    title: str = ""
    marker: str | None = None
    picture_file: bool = False
    scanned: bool = False
    rough: bool = False
    pages: int = 1


def extract(source: Source) -> Content | None:
    """What `source` holds, read by its type; None if a file of that type cannot be opened."""
    kind = source.sniffed.type
    if kind in IMAGES:
        return Content(picture_file=True)
    if kind in _SOURCE_READERS:
        return _SOURCE_READERS[kind](source)
    reader = _READERS.get(kind)
    return reader(source.data) if reader is not None else Content()


def _read_docx(source: Source) -> Content | None:
    word = source.word
    if word is None:
        return None
    marker = word.marker or (FORM_MARKER if _has_our_tags(word.controls) else None)
    return Content(word.blocks, word.pictures, word.title, marker)


def _has_our_tags(controls: Iterable[str]) -> bool:
    return {"child_name", "consent_yes", "request_section20"} <= set(controls)


def _read_pdf(source: Source) -> Content | None:
    pdf = source.pdf
    if pdf is None:
        return None
    blocks = source.pdf_blocks
    pages = min(pdf.pages, 5)
    # Very little text on pages that hold pictures means a scan: there is nothing to read.
    scanned = pages > 0 and sum(len(line) for line in pdf.lines) < 20 * pages and pdf.paths < 8
    # Table borders and underlines are drawings too; a drawn family tree has many of them.
    drawn = pdf.images + (pdf.paths if pdf.paths >= 8 else 0)
    return Content(blocks, drawn, pages=pages, scanned=scanned)


def _read_sheets(source: Source) -> Content | None:
    sheets = source.sheets
    if sheets is None:
        return None
    blocks: list[Block] = []
    for number, sheet in enumerate(sheets[:MAX_SHEETS]):
        blocks.append(Block((sheet.name,), -1, heading=True))
        for row in sheet.rows[:MAX_SHEET_ROWS]:
            cells = tuple(cell_text(value) for value in row[:MAX_COLUMNS])
            if any(cells):
                blocks.append(Block(_trim(cells), number))
    return Content(tuple(blocks))


def _trim(cells: tuple[str, ...]) -> tuple[str, ...]:
    end = len(cells)
    while end > 1 and not cells[end - 1]:
        end -= 1
    return cells[:end]


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODF_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"


def _read_odf(data: bytes) -> Content | None:
    archive = open_zip(data)
    if archive is None:
        return None
    with archive:
        root = parse_xml(read_member(archive, "content.xml"))
    if root is None:
        return None
    paragraph, heading = f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"
    row, cell = f"{{{_ODF_TABLE}}}table-row", f"{{{_ODF_TABLE}}}table-cell"
    blocks: list[Block] = []
    for element in root.iter(paragraph, heading, row):
        if element.tag == row:
            cells = tuple("".join(c.itertext()).strip() for c in element.iter(cell))
            blocks.append(Block(cells, 0))
        elif not any(a.tag == cell for a in element.iterancestors()):
            text = "".join(element.itertext()).strip()
            blocks.append(Block((text,), -1, element.tag == heading))
    pictures = sum(1 for _ in root.iter(f"{{{_ODF_DRAW}}}frame"))
    return Content(tuple(b for b in blocks if any(b.cells)), pictures)


_PPT_TEXT = "{http://schemas.openxmlformats.org/drawingml/2006/main}t"
_PPT_SHAPES = tuple(
    f"{{http://schemas.openxmlformats.org/presentationml/2006/main}}{name}"
    for name in ("sp", "pic", "cxnSp")
)


def _read_pptx(data: bytes) -> Content | None:
    archive = open_zip(data)
    if archive is None:
        return None
    blocks: list[Block] = []
    shapes = 0
    with archive:
        slides = sorted(
            n for n in archive.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)
        )
        for name in slides[:20]:
            root = parse_xml(read_member(archive, name))
            if root is not None:
                blocks.extend(Block((t.text,)) for t in root.iter(_PPT_TEXT) if t.text)
                shapes += sum(1 for _ in root.iter(*_PPT_SHAPES))
    return Content(tuple(blocks), shapes, pages=max(len(slides[:20]), 1))


def _read_text(data: bytes) -> Content:
    return Content(_lines(_decode(data[: MAX_TEXT * 4])))


def _read_csv(data: bytes) -> Content:
    reader = csv.reader(io.StringIO(_decode(data[: MAX_TEXT * 4])))
    rows = [tuple(cell.strip() for cell in row) for row in islice(reader, MAX_SHEET_ROWS)]
    return Content(tuple(Block(row, 0) for row in rows if any(row)))


def _read_html(data: bytes) -> Content:
    text = _decode(data[: MAX_TEXT * 8])
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = re.sub(r"(?i)<(br|/p|/tr|/h\d|/div|/li)\b[^>]*>", "\n", text)
    text = re.sub(r"(?i)</t[dh]\s*>", "\t", text)
    return Content(_lines(re.sub(r"<[^>]*>", " ", text)))


def _read_rtf(data: bytes) -> Content:
    text = data[: MAX_TEXT * 8].decode("latin-1")
    text = re.sub(r"\\(par|row|line)\b ?", "\n", text)
    text = re.sub(r"\\cell\b ?", "\t", text)
    text = re.sub(
        r"\\'([0-9a-fA-F]{2})", lambda m: bytes([int(m[1], 16)]).decode("cp1252", "replace"), text
    )
    text = re.sub(r"\\[a-zA-Z]+-?\d* ?|[{}]", "", text)
    return Content(_lines(text))


def _lines(text: str) -> tuple[Block, ...]:
    blocks = []
    for line in text.splitlines():
        cells = tuple(cell.strip() for cell in line.split("\t"))
        if any(cells):
            blocks.append(Block(cells, 0) if len(cells) > 1 else Block(cells))
    return tuple(blocks)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_RUNS_8 = re.compile(rb"[\x20-\x7e\r\x07\t\x91-\x97\xa0-\xff]{4,}")
_RUNS_16 = re.compile(rb"(?:[\x20-\x7e\r\x07\t]\x00){4,}")


def _read_legacy(data: bytes) -> Content:
    """Text from an old binary .doc or .xls, read roughly: runs of readable characters.

    Word 97 keeps text as 8-bit or UTF-16 runs, ends paragraphs with CR and table cells with
    0x07; that is enough to find titles and table headers without a full parser.
    """
    sample = data[: 4 * 1024 * 1024]
    runs = [(m.start(), m.group().decode("cp1252")) for m in _RUNS_8.finditer(sample)]
    runs += [(m.start(), m.group().decode("utf-16-le")) for m in _RUNS_16.finditer(sample)]
    blocks: list[Block] = []
    for _, run in sorted(runs):
        for line in run.split("\r"):
            cells = tuple(cell.strip() for cell in line.split("\x07") if cell.strip())
            if cells:
                blocks.append(Block(cells, 0) if len(cells) > 1 else Block(cells))
    return Content(tuple(blocks[:3000]), rough=True)


# Readers of the types a parser reads too share the document's `Source`.
_SOURCE_READERS: dict[str, Callable[[Source], Content | None]] = {
    "docx": _read_docx,
    "pdf": _read_pdf,
    "xlsx": _read_sheets,
}
_READERS: dict[str, Callable[[bytes], Content | None]] = {
    "odt": _read_odf,
    "ods": _read_odf,
    "pptx": _read_pptx,
    "txt": _read_text,
    "csv": _read_csv,
    "html": _read_html,
    "rtf": _read_rtf,
    "doc": _read_legacy,
    "xls": _read_legacy,
}
