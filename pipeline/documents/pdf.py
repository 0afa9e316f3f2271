"""Reading PDFs with pdfium: text, drawing counts and AcroForm fields, from one open of the file.

pdfplumber extracts text at about 110 ms a page; pdfium (which pdfplumber itself uses) is about
70 times faster. pypdf reads AcroForm fields in about 5-9 ms, several times the cost of reading
the whole page with pdfium, so fields come from pdfium too: from each widget's own dictionary
when the form is flat (most are), and through pdfium's form API only when a widget's name lives
on a parent field. The raw pdfium calls are used, not pypdfium2's object wrappers: a wrapper per
page, text page and page object costs more than pdfium's own work on a one-page form.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# A field as read: its label (tooltip, then name) and its value (ticks as bools).
Field = tuple[str, str | bool]


@dataclass(frozen=True)
class PdfContent:
    """The text lines, drawing counts and form fields of a PDF's first pages."""

    pages: int
    lines: tuple[str, ...]
    paths: int
    images: int
    # AcroForm fields as (label, value), each under its tooltip and its own name.
    fields: tuple[Field, ...] = ()
    # Why the PDF is refused before all its first pages were read (a page too heavy to read).
    problem: str | None = None


MAX_PDF_PAGES = 5
MAX_OBJECTS_PER_PAGE = 2000
# A page drawing more than this is refused. pdfium parses a page whole when it loads it (about a
# second for a million objects here), so the files of one email could otherwise keep intake busy
# for minutes; forms, letters, scans and genograms draw a few thousand at most.
MAX_PAGE_OBJECTS = 100_000
# Likewise the line and curve segments of the paths on a page with few words (one path can hold
# millions); counted on the objects looked at (MAX_OBJECTS_PER_PAGE).
MAX_PAGE_SEGMENTS = 500_000
# Drawings only matter on a page with few words (a scan, a genogram); a page with more text than
# this is prose or a form, so its objects are not counted (that would cost a call per object).
SPARSE_PAGE_CHARS = 2000
# Form field flag (PDF 32000 table 226): a button field whose widgets are radio buttons.
RADIO_FLAG = 1 << 15
UNTICKED = ("", "Off")


def too_many_pages(pages: int, limit: int) -> str:
    """Why a PDF over the page limit is refused, addressed to the referrer."""
    return (
        f"the PDF has {pages:,} pages, over the {limit:,} the panel inbox reads: "
        "please send the relevant pages"
    )


def too_complex(page: int, count: int, what: str, limit: int) -> str:
    """Why a PDF with a page too heavy to read is refused, addressed to the referrer."""
    return (
        f"page {page} of the PDF is too complex to read safely ({count:,} {what}; the most the "
        f"panel inbox reads is {limit:,}): please send it as a simpler PDF or a Word document"
    )


def read_pdf(
    data: bytes, max_pages: int = MAX_PDF_PAGES, page_limit: int | None = None
) -> PdfContent | None:
    """Text, drawings and fields of the first pages; None if pdfium cannot open the file.

    A PDF with more than `page_limit` pages is counted but not read: it will be refused.
    """
    import pypdfium2.raw as pdfium_c

    document = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    if not document:
        return None
    try:
        pages = pdfium_c.FPDF_GetPageCount(document)
        if page_limit is not None and pages > page_limit:
            return PdfContent(pages, (), 0, 0)
        has_form = pdfium_c.FPDF_GetFormType(document) != pdfium_c.FORMTYPE_NONE
        lines: list[str] = []
        fields = _Fields(document)
        paths = images = 0
        try:
            for index in range(min(max_pages, pages)):
                with _page(document, index) as page:
                    if page is None:
                        continue
                    objects = pdfium_c.FPDFPage_CountObjects(page)
                    if objects > MAX_PAGE_OBJECTS:
                        problem = too_complex(index + 1, objects, "objects", MAX_PAGE_OBJECTS)
                        return PdfContent(pages, (), 0, 0, problem=problem)
                    text = _page_text(page)
                    lines.extend(line.strip() for line in text.splitlines() if line.strip())
                    if len(text) <= SPARSE_PAGE_CHARS:
                        page_paths, page_images, segments = _drawings(page, objects)
                        if segments > MAX_PAGE_SEGMENTS:
                            problem = too_complex(
                                index + 1, segments, "line segments", MAX_PAGE_SEGMENTS
                            )
                            return PdfContent(pages, (), 0, 0, problem=problem)
                        paths, images = paths + page_paths, images + page_images
                    if has_form:
                        fields.read(page)
        finally:
            fields.close()
    finally:
        pdfium_c.FPDF_CloseDocument(document)
    return PdfContent(pages, tuple(lines), paths, images, tuple(fields.found))


@contextmanager
def _page(document: Any, index: int) -> Iterator[Any]:
    import pypdfium2.raw as pdfium_c

    page = pdfium_c.FPDF_LoadPage(document, index)
    if not page:
        # A page pdfium cannot load is skipped: the rest of the file still counts.
        yield None
        return
    try:
        yield page
    finally:
        pdfium_c.FPDF_ClosePage(page)


def _page_text(page: Any) -> str:
    import pypdfium2.raw as pdfium_c

    textpage = pdfium_c.FPDFText_LoadPage(page)
    if not textpage:
        return ""
    try:
        count = pdfium_c.FPDFText_CountChars(textpage)
        if count <= 0:
            return ""
        buffer = (ctypes.c_ushort * (count + 1))()
        written = pdfium_c.FPDFText_GetText(textpage, 0, count, buffer)
        # `written` counts the terminating NUL; text is UTF-16LE code units.
        return bytes(buffer)[: max(written - 1, 0) * 2].decode("utf-16-le", "replace")
    finally:
        pdfium_c.FPDFText_ClosePage(textpage)


def _drawings(page: Any, objects: int) -> tuple[int, int, int]:
    """How many path and image objects the page draws, and the paths' segments (up to
    MAX_OBJECTS_PER_PAGE looked at)."""
    import pypdfium2.raw as pdfium_c

    paths = images = segments = 0
    for index in range(min(objects, MAX_OBJECTS_PER_PAGE)):
        drawn = pdfium_c.FPDFPage_GetObject(page, index)
        kind = pdfium_c.FPDFPageObj_GetType(drawn)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths += 1
            segments += max(pdfium_c.FPDFPath_CountSegments(drawn), 0)
        images += kind == pdfium_c.FPDF_PAGEOBJ_IMAGE
    return paths, images, segments


def _widgets(page: Any) -> Iterator[Any]:
    """Each form widget on the page (closed after use)."""
    import pypdfium2.raw as pdfium_c

    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        annot = pdfium_c.FPDFPage_GetAnnot(page, index)
        if not annot:
            continue
        try:
            if pdfium_c.FPDFAnnot_GetSubtype(annot) == pdfium_c.FPDF_ANNOT_WIDGET:
                yield annot
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)


class _Fields:
    """A PDF's form fields, page by page: from each widget's own dictionary while the form is
    flat (most are), and through pdfium's form API from the first page that has a widget named
    under a parent field (a radio button, a field split over pages, "Child.FullName").

    The form API is used without registering pages with it (`FORM_OnAfterLoadPage`), which
    would build every widget's appearance: three times the cost of reading the fields, and
    only needed to draw or fill them. A box's state is read from its own appearance state.
    """

    def __init__(self, document: Any) -> None:
        self.document = document
        self.form: Any = None
        # pdfium keeps a pointer to the form's configuration until the form is closed.
        self.config: Any = None
        self.found: list[Field] = []

    def read(self, page: Any) -> None:
        import pypdfium2.raw as pdfium_c

        if self.form is None:
            flat = _flat_fields(page)
            if flat is not None:
                for each in flat:
                    _add(self.found, *each)
                return
            self.config = pdfium_c.FPDF_FORMFILLINFO(version=2)
            self.form = (
                pdfium_c.FPDFDOC_InitFormFillEnvironment(self.document, self.config) or False
            )
        if self.form:
            for annot in _widgets(page):
                field = _form_field(self.form, annot)
                if field is not None:
                    _add(self.found, *field)

    def close(self) -> None:
        import pypdfium2.raw as pdfium_c

        if self.form:
            pdfium_c.FPDFDOC_ExitFormFillEnvironment(self.form)
        self.form = None


def _flat_fields(page: Any) -> list[tuple[str, str, str | bool]] | None:
    """The page's fields as (tooltip, name, value), read from each widget's own dictionary;
    None if a widget keeps its name or value on a parent field (see `_Fields`)."""
    import pypdfium2.raw as pdfium_c

    def text(key: bytes) -> str:
        return _utf16(pdfium_c.FPDFAnnot_GetStringValue, annot, key)

    found: list[tuple[str, str, str | bool]] = []
    for annot in _widgets(page):
        name = text(b"T")
        if not name or pdfium_c.FPDFAnnot_HasKey(annot, b"Parent"):
            return None
        value: str | bool = text(b"V")
        if text(b"FT") == "Btn":
            flags = ctypes.c_float(0)
            pdfium_c.FPDFAnnot_GetNumberValue(annot, b"Ff", ctypes.byref(flags))
            state = value or text(b"AS")
            value = state not in UNTICKED
            if int(flags.value) & RADIO_FLAG:
                value = state if value else ""
        found.append((text(b"TU"), name, value))
    return found


def _form_field(form: Any, annot: Any) -> tuple[str, str, str | bool] | None:
    import pypdfium2.raw as pdfium_c

    label = _utf16(pdfium_c.FPDFAnnot_GetFormFieldAlternateName, form, annot)
    name = _utf16(pdfium_c.FPDFAnnot_GetFormFieldName, form, annot)
    kind = pdfium_c.FPDFAnnot_GetFormFieldType(form, annot)
    if kind in (pdfium_c.FPDF_FORMFIELD_CHECKBOX, pdfium_c.FPDF_FORMFIELD_RADIOBUTTON):
        # A box's appearance state is the name of its "on" look ("Yes", "On", a radio
        # button's export value), or Off.
        state = _utf16(pdfium_c.FPDFAnnot_GetStringValue, annot, b"AS")
        if kind == pdfium_c.FPDF_FORMFIELD_CHECKBOX:
            return label, name, state not in UNTICKED
        # Each radio widget is one choice; only the chosen one says what was chosen.
        return (label, name, state) if state not in UNTICKED else None
    return label, name, _utf16(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annot)


def _add(found: list[Field], label: str, name: str, value: str | bool) -> None:
    """A field under its tooltip and its full name (forms label one or the other; a full name,
    "Child.FullName", also says which part of the form the field is in)."""
    for key in (label, name) if label != name else (name,):
        if key and (key, value) not in found:
            found.append((key, value))


def _utf16(function: Callable[..., int], *args: Any) -> str:
    """A string from a pdfium getter that fills a UTF-16LE buffer and returns its byte length.

    Most values fit the shared buffer, so one call reads them, decoded straight from it; a
    longer one is asked for again. (A form has a handful of these per field: each saved
    microsecond shows on a one-page form.)
    """
    size = function(*args, _BUFFER, _BUFFER_BYTES)
    if size <= 2:
        return ""
    if size <= _BUFFER_BYTES:
        return str(_BUFFER_VIEW[: size - 2], "utf-16-le", "replace")
    buffer = ctypes.create_string_buffer(size)
    function(*args, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", "replace")


# One buffer for the short strings of one process (the reader is single-threaded), and a view
# of its bytes to decode from without a copy.
_BUFFER = (ctypes.c_ushort * 1024)()
_BUFFER_BYTES = ctypes.sizeof(_BUFFER)
_BUFFER_VIEW = memoryview(_BUFFER).cast("B")
