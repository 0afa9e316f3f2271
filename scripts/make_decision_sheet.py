"""Writes the decision sheet's Word template (R13): python-docx lays it out, docxtpl fills it.

    .venv/bin/python scripts/make_decision_sheet.py [OUTPUT]

The template ships as package data (pipeline/outputs/templates/decision_sheet.docx); run this
after changing the layout and commit what it writes. tests/outputs/test_decision_sheet.py
checks that the shipped file is what this script makes. Every value is a Jinja tag filled by
`pipeline.outputs.decision_sheet` with autoescape on, so a value cannot add Word XML.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docx import Document as WordDocument
from docx.oxml import OxmlElement
from docx.shared import Mm, Pt

from pipeline.outputs.wordpage import a4_pages, drop_thumbnail, one_font

TARGET = Path(__file__).resolve().parents[1] / "pipeline/outputs/templates/decision_sheet.docx"
LABEL_MM, VALUE_MM = 50, 130
ACTION_COLUMNS = (("Action", 70), ("Who", 38), ("Agency", 38), ("By when", 34))
# A fixed date, so the template's bytes depend on its layout only.
MADE = datetime(2026, 1, 1, tzinfo=UTC)


def _cant_split(row: Any, header: bool = False) -> None:
    properties = row._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:cantSplit"))
    if header:
        properties.append(OxmlElement("w:tblHeader"))


def _rows(document: Any, rows: tuple[tuple[str, str], ...]) -> None:
    """A two-column table of labels and values."""
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.autofit = False
    for label, value in rows:
        row = table.add_row()
        _cant_split(row)
        for cell, text, width, bold in zip(
            row.cells, (label, value), (LABEL_MM, VALUE_MM), (True, False), strict=True
        ):
            cell.width = Mm(width)
            cell.paragraphs[0].add_run(text).bold = bold


def _actions(document: Any) -> None:
    """The agreed actions: a header row, then one row per action (docxtpl's row loop)."""
    table = document.add_table(rows=0, cols=len(ACTION_COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    rows = (
        tuple(name for name, _ in ACTION_COLUMNS),
        ("{%tr for action in actions %}", "", "", ""),
        ("{{ action.text }}", "{{ action.owner }}", "{{ action.agency }}", "{{ action.due }}"),
        ("{%tr endfor %}", "", "", ""),
    )
    for number, values in enumerate(rows):
        row = table.add_row()
        _cant_split(row, header=number == 0)
        for cell, text, (_, width) in zip(row.cells, values, ACTION_COLUMNS, strict=True):
            cell.width = Mm(width)
            cell.paragraphs[0].add_run(text).bold = number == 0


def build() -> bytes:
    """The template as .docx bytes."""
    document = WordDocument()
    one_font(document)
    a4_pages(
        document, "{{ marking }}", "{{ reference }} decision sheet, version {{ version }}. Page "
    )
    properties = document.core_properties
    properties.author = properties.last_modified_by = "MASP pipeline"
    properties.created = properties.modified = MADE
    properties.comments = properties.keywords = properties.title = properties.subject = ""
    properties.language = "en-GB"
    properties.revision = 1
    drop_thumbnail(document)
    document.add_heading("{{ panel_name }}: decision sheet", level=0)
    document.add_paragraph("{{ marking_line }}").runs[0].bold = True
    document.add_heading("Referral", level=1)
    _rows(
        document,
        (
            ("Reference", "{{ reference }}"),
            ("Child", "{{ child_name }}"),
            ("Date of birth", "{{ child_dob }}"),
            ("Referred by", "{{ referrer }}"),
            ("Agency", "{{ referrer_agency }}"),
            ("Request", "{{ request }}"),
            ("Question for the panel", "{{ question }}"),
        ),
    )
    document.add_heading("Decision", level=1)
    _rows(document, (("Meeting", "{{ meeting }}"), ("Outcome", "{{ outcome }}")))
    document.add_heading("Agreed actions", level=1)
    _actions(document)
    document.add_heading("Lead Professional", level=1)
    _rows(
        document,
        (
            ("Name", "{{ lead_name }}"),
            ("Agency", "{{ lead_agency }}"),
            ("Email", "{{ lead_email }}"),
        ),
    )
    document.add_heading("Review", level=1)
    document.add_paragraph("{{ review }}")
    document.add_paragraph("{%p if larp %}")
    document.add_heading("Resource panel (LARP)", level=1)
    document.add_paragraph("{{ larp }}")
    document.add_paragraph("{%p endif %}")
    document.add_heading("Notes", level=1)
    document.add_paragraph("{{ notes }}")
    closing = document.add_paragraph("{{ closing }}")
    closing.paragraph_format.space_before = Pt(12)
    closing.runs[0].italic = True
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(build())
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
