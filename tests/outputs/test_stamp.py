"""R12 stamps on turned and cropped pages: "Copy for …" along the top and "Page x of y" along the
bottom of the page as a reader sees it, reading left to right, whatever /Rotate and the crop box."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2 as pdfium
import pytest

from pipeline.outputs.pack import stamp

# A4 portrait pages turned by each /Rotate, the third also cropped.
TURNS = (0, 90, 180, 270)
CROP = (40.0, 60.0, 540.0, 800.0)


def turned_pages() -> bytes:
    pdf = pikepdf.new()
    for number, turn in enumerate(TURNS):
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[number]
        page.obj.Rotate = turn
        if number == 2:
            page.obj.CropBox = pikepdf.Array(CROP)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def as_displayed(page: pdfium.PdfPage, x: float, y: float) -> tuple[float, float]:
    """A point of the page's own space where a reader sees it (origin at the bottom left)."""
    x0, y0, x1, y1 = page.get_cropbox()
    width, height = x1 - x0, y1 - y0
    x, y = x - x0, y - y0
    turn = page.get_rotation()
    if turn == 90:
        return y, width - x
    if turn == 180:
        return width - x, height - y
    if turn == 270:
        return height - y, x
    return x, y


def placed(page: pdfium.PdfPage, wanted: str) -> list[tuple[float, float]]:
    """Where each character of `wanted` sits, as displayed (its box's centre)."""
    text = page.get_textpage()
    found = text.get_text_range()
    start = found.index(wanted)
    centres = []
    for index in range(start, start + len(wanted)):
        left, bottom, right, top = text.get_charbox(index)
        centres.append(as_displayed(page, (left + right) / 2, (bottom + top) / 2))
    return centres


@pytest.mark.parametrize("number", range(len(TURNS)))
def test_stamps_sit_upright_at_the_top_and_bottom_of_every_turned_page(number: int) -> None:
    stamped = pdfium.PdfDocument(stamp(turned_pages(), "Alex Member"))
    page = stamped[number]
    assert page.get_rotation() == TURNS[number]
    width, height = page.get_size()  # as displayed: turned pages swap them
    top = placed(page, "Copy for Alex Member")
    bottom = placed(page, f"Page {number + 1} of {len(TURNS)}")
    for chars, low, high in ((top, height - 30, height), (bottom, 0, 30)):
        across = [u for u, _v in chars]
        assert across == sorted(across), "the stamp reads left to right"
        assert all(0 <= u <= width and low <= v <= high for u, v in chars)
