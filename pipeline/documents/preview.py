"""A page of a document as a small PNG for the console's case page (SPEC §7).

Run it in the worker (`DocumentWorker.preview`): the file may be anyone's, and only the worker
bounds the time and memory that rendering it takes. What reaches the browser is always a fresh
PNG drawn here, never the original's bytes.
"""

from __future__ import annotations

import ctypes
import io
from typing import Any

from PIL import Image, ImageSequence

from pipeline.documents.topdf import DAMAGED, UNREADABLE, open_picture, picture_problem
from pipeline.errors import ConversionError

# Wide enough to read a form's text on a laptop screen, small enough to send in an instant.
PREVIEW_WIDTH = 800
# A page no taller than this (a long receipt is cut short rather than drawn at any height).
PREVIEW_MAX_HEIGHT = 2400
# The case page shows at most this many pages of each document.
PREVIEW_PAGES = 3
NO_PAGE = "the document has no page {page}"
NOT_SHOWN = "the page could not be drawn safely"


def preview(route: str, data: bytes, page: int, max_pages: int) -> tuple[bytes, int]:
    """Page `page` (1-based) of a PDF (`route` "pdf") or a picture ("image") as PNG bytes, and
    the document's page count; ConversionError says why not."""
    if route == "image":
        return _picture_page(data, page, max_pages)
    return _pdf_page(data, page, max_pages)


def _pdf_page(data: bytes, page: int, max_pages: int) -> tuple[bytes, int]:
    import pypdfium2.raw as pdfium_c

    document = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    if not document:
        raise ConversionError("the PDF is damaged or protected and cannot be shown")
    try:
        pages = pdfium_c.FPDF_GetPageCount(document)
        if pages > max_pages:
            raise ConversionError(f"the PDF has more than {max_pages:,} pages")
        if not 1 <= page <= pages:
            raise ConversionError(NO_PAGE.format(page=page))
        handle = pdfium_c.FPDF_LoadPage(document, page - 1)
        if not handle:
            raise ConversionError(NOT_SHOWN)
        try:
            picture = _draw(pdfium_c, handle)
        finally:
            pdfium_c.FPDF_ClosePage(handle)
    finally:
        pdfium_c.FPDF_CloseDocument(document)
    return _png(picture), pages


def _draw(pdfium_c: Any, page: Any) -> Image.Image:
    """The page drawn white-backed at PREVIEW_WIDTH pixels wide (its top, if very tall)."""
    width_pt = pdfium_c.FPDF_GetPageWidthF(page)
    height_pt = pdfium_c.FPDF_GetPageHeightF(page)
    if width_pt <= 0 or height_pt <= 0:
        raise ConversionError(NOT_SHOWN)
    width = PREVIEW_WIDTH
    full_height = max(1, round(height_pt * width / width_pt))
    height = min(full_height, PREVIEW_MAX_HEIGHT)
    bitmap = pdfium_c.FPDFBitmap_Create(width, height, 0)
    if not bitmap:
        raise ConversionError(NOT_SHOWN)
    try:
        pdfium_c.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, 0xFFFFFFFF)
        # Drawn at the full height and clipped to the bitmap: a tall page shows its top.
        pdfium_c.FPDF_RenderPageBitmap(
            bitmap, page, 0, 0, width, full_height, 0, pdfium_c.FPDF_ANNOT
        )
        stride = pdfium_c.FPDFBitmap_GetStride(bitmap)
        buffer = pdfium_c.FPDFBitmap_GetBuffer(bitmap)
        raw = ctypes.string_at(buffer, stride * height)
        # pdfium's bitmaps are BGRx: read as such, then dropped to RGB.
        return Image.frombuffer("RGB", (width, height), raw, "raw", "BGRX", stride, 1)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)


def _picture_page(data: bytes, page: int, max_pages: int) -> tuple[bytes, int]:
    with open_picture(data) as picture:
        problem = picture_problem(picture, max_pages)
        if problem is not None:
            raise ConversionError(problem)
        try:
            frames = getattr(picture, "n_frames", 1)
            if not 1 <= page <= frames:
                raise ConversionError(NO_PAGE.format(page=page))
            frame = next(f for n, f in enumerate(ImageSequence.Iterator(picture), 1) if n == page)
            shown = frame.convert("RGB")
        except DAMAGED as exc:
            raise ConversionError(UNREADABLE) from exc
    shown.thumbnail((PREVIEW_WIDTH, PREVIEW_MAX_HEIGHT))
    return _png(shown), frames


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=False)
    return out.getvalue()
