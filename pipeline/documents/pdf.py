"""Reading PDFs: text with pdfium (fast), AcroForm fields with pypdf (it has the form API).

pdfplumber extracts text at about 110 ms a page; pypdfium2 (which pdfplumber itself uses) is
about 70 times faster, so text comes from pdfium. pdfium can also say whether a PDF has a form
at all, so pypdf, slower to open, is only asked for fields when there are some.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PdfContent:
    """The text lines and drawing counts of a PDF's first pages."""

    pages: int
    lines: tuple[str, ...]
    paths: int
    images: int
    # An AcroForm (fillable fields): worth asking pypdf for the values.
    has_form: bool = False


MAX_PDF_PAGES = 5
MAX_OBJECTS_PER_PAGE = 2000


def too_many_pages(pages: int, limit: int) -> str:
    """Why a PDF over the page limit is refused, addressed to the referrer."""
    return (
        f"the PDF has {pages:,} pages, over the {limit:,} the panel inbox reads: "
        "please send the relevant pages"
    )


def read_pdf(
    data: bytes, max_pages: int = MAX_PDF_PAGES, page_limit: int | None = None
) -> PdfContent | None:
    """Text and drawings of the first pages, read with pdfium; None if it cannot be opened.

    A PDF with more than `page_limit` pages is counted but not read: it will be refused.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return None
    try:
        pages = len(pdf)
        if page_limit is not None and pages > page_limit:
            return PdfContent(pages, (), 0, 0)
        lines: list[str] = []
        paths = images = 0
        for index in range(min(max_pages, pages)):
            text, page_paths, page_images = _pdf_page(pdf[index])
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
            paths, images = paths + page_paths, images + page_images
        has_form = pdf.get_formtype() != 0
    finally:
        pdf.close()
    return PdfContent(pages, tuple(lines), paths, images, has_form)


def _pdf_page(page: Any) -> tuple[str, int, int]:
    import pypdfium2.raw as pdfium_c

    try:
        textpage = page.get_textpage()
        text = str(textpage.get_text_range())
        textpage.close()
        counts = {pdfium_c.FPDF_PAGEOBJ_PATH: 0, pdfium_c.FPDF_PAGEOBJ_IMAGE: 0}
        for obj in itertools.islice(page.get_objects(), MAX_OBJECTS_PER_PAGE):
            if obj.type in counts:
                counts[obj.type] += 1
        return text, counts[pdfium_c.FPDF_PAGEOBJ_PATH], counts[pdfium_c.FPDF_PAGEOBJ_IMAGE]
    finally:
        page.close()


def pdf_fields(data: bytes) -> tuple[tuple[str, str | bool], ...]:
    """AcroForm fields as (label, value): ticks as bools, radio choices and text as text."""
    from pypdf import PdfReader

    found: list[tuple[str, str | bool]] = []
    for name, spec in (PdfReader(io.BytesIO(data), strict=False).get_fields() or {}).items():
        text = "" if spec.get("/V") is None else str(spec.get("/V"))
        radio = int(spec.get("/Ff", 0) or 0) & (1 << 15)
        value: str | bool = text
        if spec.get("/FT") == "/Btn":
            value = text.lstrip("/") if radio else text not in ("", "/Off", "Off")
        for label in dict.fromkeys((str(spec.get("/TU") or ""), name.rsplit(".", 1)[-1])):
            if label:
                found.append((label, value))
    return tuple(found)
