"""What every document parser shares: its limits, its frozen context, and its typed result.

Each parser (one module per kind) declares the kind and the file types it handles, may decline a
file (return None), and returns per field the value, how sure it is, and where the value came
from, plus notes in plain English on what could not be read. Everything here is picklable: the
result crosses from the worker process to the service.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from pipeline.documents.kinds import Kind
from pipeline.documents.labels import normalise_label, normalise_lines
from pipeline.documents.pdf import PdfContent, read_pdf
from pipeline.documents.results import FormFacts, ReadLimits, Sniffed
from pipeline.documents.word import MAX_BLOCKS, Block, WordDoc, read_word

FieldSource = Literal["content-control", "table-label", "acroform", "text", "sheet", "table"]
# The keys in a result's JSON that are not fields.
SUMMARY, NOTES, MISSING = "summary", "notes", "missing"


@dataclass(frozen=True)
class ParserContext:
    """What a parser is told about the file besides its bytes; `today` judges future dates."""

    filename: str
    sniffed: Sniffed
    limits: ReadLimits
    today: date | None = None


@dataclass(frozen=True)
class FieldValue:
    """One value read from a document: JSON-ready, with a confidence (0 to 1) and its source."""

    value: Any
    confidence: float
    source: FieldSource

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": self.confidence, "source": self.source}


def stored_value(fields: Mapping[str, Any], name: str) -> Any:
    """A field's value from a result's stored JSON (`FieldValue.to_json`), or None."""
    held = fields.get(name)
    return held.get("value") if isinstance(held, Mapping) else None


@dataclass(frozen=True)
class ParseResult:
    """What a parser read: fields by name, notes on what it could not read, and extras."""

    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # A summary for the pack (chronologies) and required fields not found (referral forms).
    summary: Mapping[str, Any] | None = None
    missing: tuple[str, ...] = ()
    # The few facts intake files a case by (referral forms only).
    facts: FormFacts | None = None

    def to_json(self) -> dict[str, Any]:
        """Fields as {name: {value, confidence, source}}, plus summary, missing and notes."""
        data: dict[str, Any] = {name: value.to_json() for name, value in self.fields.items()}
        if self.summary is not None:
            data[SUMMARY] = dict(self.summary)
        if self.missing:
            data[MISSING] = list(self.missing)
        data[NOTES] = list(self.notes)
        return data


class Source:
    """One document's bytes, with each reader run at most once and shared by every step."""

    def __init__(self, data: bytes, sniffed: Sniffed, limits: ReadLimits) -> None:
        self.data, self.sniffed, self.limits = data, sniffed, limits
        # Each line's or label's normalised form, worked out once for the classifier and the
        # parser alike; it lives and dies with this one document.
        self.labels: dict[str, str] = {}

    def prepare(self, texts: Iterable[str]) -> None:
        """Normalise all of `texts` not normalised yet at once (`normalise_lines`), for `label`."""
        labels = self.labels
        missing = [text for text in dict.fromkeys(texts) if text not in labels]
        if missing:
            labels.update(zip(missing, normalise_lines(missing), strict=True))

    def label(self, text: str) -> str:
        """`normalise_label(text)`, worked out at most once for this document."""
        label = self.labels.get(text)
        if label is None:
            label = self.labels[text] = normalise_label(text)
        return label

    @functools.cached_property
    def word(self) -> WordDoc | None:
        # A chronology can be longer than the classifier needs; read up to the row limit.
        return read_word(self.data, max(MAX_BLOCKS, self.limits.max_rows + 100))

    @functools.cached_property
    def pdf(self) -> PdfContent | None:
        return read_pdf(self.data, page_limit=self.limits.max_pdf_pages)

    @functools.cached_property
    def pdf_blocks(self) -> tuple[Block, ...]:
        """The PDF's text lines as one-cell blocks, built once for the classifier and parser.

        Their labels are worked out here too, all at once (`label` then finds each line's).
        """
        if self.pdf is None:
            return ()
        lines = self.pdf.lines
        self.prepare(lines)
        return tuple(Block((line,)) for line in lines)

    @functools.cached_property
    def pdf_fields(self) -> tuple[tuple[str, str | bool], ...]:
        return self.pdf.fields if self.pdf is not None else ()

    @functools.cached_property
    def sheets(self) -> tuple[Sheet, ...] | None:
        return read_sheets(self.data, self.limits.max_rows)


@dataclass(frozen=True)
class Sheet:
    """One worksheet's rows as values (text, numbers, dates), capped at the row limit."""

    name: str
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool = False


MAX_SHEETS = 10


def read_sheets(data: bytes, max_rows: int) -> tuple[Sheet, ...] | None:
    """Every sheet of a workbook (.xlsx, .xls, .ods), or None if it cannot be read.

    python-calamine, not openpyxl: on a 20,000-row sheet measured here openpyxl (read-only)
    took 4.75 s and calamine 0.24 s, and a million rows take 110 s against 7 s.
    """
    import io

    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for index in range(min(len(workbook.sheet_names), MAX_SHEETS)):
            sheet = workbook.get_sheet_by_index(index)
            rows = sheet.to_python(skip_empty_area=False, nrows=max_rows + 1)
            table = tuple(tuple(row) for row in rows[:max_rows])
            sheets.append(Sheet(sheet.name, table, len(rows) > max_rows))
        return tuple(sheets)
    # calamine raises its own errors and zip/XML ones on damaged workbooks; the sniff passed it.
    except (CalamineError, ValueError, OSError, zipfile.BadZipFile):
        return None


class Parser(Protocol):
    """A document parser: what it handles, and how it reads one file (or declines it)."""

    kind: Kind
    types: frozenset[str]

    def parse(self, source: Source, context: ParserContext) -> ParseResult | None: ...
