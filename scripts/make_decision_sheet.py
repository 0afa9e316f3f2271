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
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

TARGET = Path(__file__).resolve().parents[1] / "pipeline/outputs/templates/decision_sheet.docx"
# The same font and page as the agenda (pipeline/outputs/agenda.py).
FONT = "Arial"
STYLES = ("Normal", "Title", "Heading 1", "Table Grid")
LABEL_MM, VALUE_MM = 50, 130
ACTION_COLUMNS = (("Action", 70), ("Who", 38), ("Agency", 38), ("By when", 34))
# A fixed date, so the template's bytes depend on its layout only.
MADE = datetime(2026, 1, 1, tzinfo=UTC)


def _fonts(document: Any) -> None:
    for name in STYLES:
        fonts = document.styles[name].element.get_or_add_rPr().get_or_add_rFonts()
        for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(theme), None)
        document.styles[name].font.name = FONT


def _field(paragraph: Any, instruction: str) -> None:
    """A PAGE or NUMPAGES field, filled in on each page by Word and LibreOffice."""
    for kind in ("begin", None, "separate", "end"):
        run = paragraph.add_run()
        if kind is None:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = f" {instruction} "
            run._r.append(code)
            continue
        mark = OxmlElement("w:fldChar")
        mark.set(qn("w:fldCharType"), kind)
        run._r.append(mark)
        if kind == "separate":
            paragraph.add_run("1")


def _marked(part: Any) -> Any:
    part.is_linked_to_previous = False
    paragraph = part.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("{{ marking }}").bold = True
    return paragraph


def _page(document: Any) -> None:
    """A4 portrait, 15 mm sides, the marking above and below every page, 'Page x of y'."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(15)
    section.top_margin = section.bottom_margin = Mm(20)
    section.header_distance = section.footer_distance = Mm(10)
    _marked(section.header)
    _marked(section.footer)
    numbers = section.footer.add_paragraph()
    numbers.alignment = WD_ALIGN_PARAGRAPH.CENTER
    numbers.add_run("{{ reference }} decision sheet, version {{ version }}. Page ")
    _field(numbers, "PAGE")
    numbers.add_run(" of ")
    _field(numbers, "NUMPAGES")


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
    _fonts(document)
    _page(document)
    properties = document.core_properties
    properties.author = properties.last_modified_by = "MASP pipeline"
    properties.created = properties.modified = MADE
    properties.comments = properties.keywords = properties.title = properties.subject = ""
    properties.language = "en-GB"
    properties.revision = 1
    package = document.part.package
    for rid, relationship in list(package.rels.items()):
        # python-docx's own template carries a thumbnail of some other document.
        if relationship.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            package.rels.pop(rid)
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
