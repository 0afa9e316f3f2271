"""The Word documents we make share one look: Arial throughout, A4 portrait, the protective
marking centred above and below every page, and "Page x of y" under it (the agenda, and the
decision sheet's template, `scripts/make_decision_sheet.py`)."""

from __future__ import annotations

from typing import Any

from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm

A4_MM = (210, 297)
SIDE_MARGIN_MM, END_MARGIN_MM = 15, 20
# A sans-serif font every Word installation has (UK public-sector guidance prefers one).
FONT = "Arial"
STYLES = ("Normal", "Title", "Heading 1", "Table Grid")


def one_font(document: Any) -> None:
    """One font throughout, in place of the template's theme fonts."""
    for name in STYLES:
        fonts = document.styles[name].element.get_or_add_rPr().get_or_add_rFonts()
        for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(theme), None)
        document.styles[name].font.name = FONT


def page_field(paragraph: Any, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word and LibreOffice fill in on each page."""
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


def marked(part: Any, marking: str) -> Any:
    """The header or footer's first paragraph, holding the marking, centred and bold."""
    part.is_linked_to_previous = False
    paragraph = part.paragraphs[0]
    paragraph.clear()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(marking).bold = True
    return paragraph


def a4_pages(document: Any, marking: str, numbers_lead: str = "Page ") -> None:
    """A4 portrait, the marking above and below every page of every section, and under it
    `numbers_lead` followed by "x of y"."""
    for section in document.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
        section.left_margin = section.right_margin = Mm(SIDE_MARGIN_MM)
        section.top_margin = section.bottom_margin = Mm(END_MARGIN_MM)
        section.header_distance = section.footer_distance = Mm(10)
        marked(section.header, marking)
        marked(section.footer, marking)
        numbers = section.footer.add_paragraph()
        numbers.alignment = WD_ALIGN_PARAGRAPH.CENTER
        numbers.add_run(numbers_lead)
        page_field(numbers, "PAGE")
        numbers.add_run(" of ")
        page_field(numbers, "NUMPAGES")


def drop_thumbnail(document: Any) -> None:
    """python-docx's own template carries a thumbnail: a picture of some other document."""
    package = document.part.package
    for rid, relationship in list(package.rels.items()):
        if relationship.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            package.rels.pop(rid)
