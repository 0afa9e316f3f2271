"""A chronology laid out from the rows the panel inbox read, for when LibreOffice cannot.

LibreOffice's time grows much faster than the rows of one Word table (measured here: 1,000 rows
6 s, 2,000 rows 32 s, 5,000 rows over 5 minutes), so a long chronology can overrun
`pack.convert_seconds` and would reach the panel as a page saying it could not be shown. Its
rows were already read at intake (every entry with its date as written and each column), so
they are written out here as plain text pages instead, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.documents.parsing import stored_value
from pipeline.outputs.pdftext import Line, saved, text_pdf

# The columns after the date, in the order a chronology usually has them.
COLUMNS = ("event", "source", "impact", "action")


def chronology_lines(filename: str, fields: Mapping[str, Any], reason: str) -> list[Line] | None:
    """The chronology's rows as text lines, or None if its rows were not read."""
    entries = stored_value(fields, "entries")
    if not isinstance(entries, list) or not entries:
        return None
    named = stored_value(fields, "columns")
    headings = named if isinstance(named, Mapping) else {}
    lines = [
        Line(f"Chronology: {filename}", size=14, bold=True),
        Line(
            f"Shown as the panel inbox read it ({len(entries):,} entries): the original could not "
            f"be laid out ({reason}). The original file is in the zip of originals.",
            size=9,
            space=4,
        ),
    ]
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        when = str(entry.get("date_as_written") or entry.get("date") or "no date")
        lines.append(Line(when, size=9, bold=True, space=6))
        for column in COLUMNS:
            text = str(entry.get(column) or "").strip()
            if text:
                label = str(headings.get(column) or column.capitalize())
                lines.append(Line(f"{label}: {text}", size=9, indent=12))
    return lines


def chronology_pdf(filename: str, fields: Mapping[str, Any], reason: str) -> bytes | None:
    """The chronology as PDF pages, or None if its rows were not read at intake."""
    lines = chronology_lines(filename, fields, reason)
    if lines is None:
        return None
    with text_pdf(lines) as pdf:
        return saved(pdf)
