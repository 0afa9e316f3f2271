"""A filled decisions workbook read as a grid: bounded columns, and a zip bomb refused plainly."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from pipeline.documents.sniff import BOMB
from pipeline.documents.workbook import MAX_COLUMNS, NotAWorkbook, read_grid
from pipeline.rules import decisions as layout


def _xlsx(*cells: tuple[int, int, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row, column, value in cells:
        sheet.cell(row=row, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_layout_fits_the_columns_read() -> None:
    assert max(layout.NOTES, layout.A_DONE) <= MAX_COLUMNS


def test_a_cell_far_to_the_right_is_not_read() -> None:
    grid = read_grid(_xlsx((2, 1, "MASP-2027-0001"), (2, 16, "notes"), (2, 16_000, "far")))
    [cells] = grid.values()
    assert cells == [(2, 1, "MASP-2027-0001"), (2, 16, "notes")]


def test_a_zip_bomb_is_refused_with_a_plain_reason() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        # 300 MB of zeros: a few hundred kB compressed.
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    with pytest.raises(NotAWorkbook) as refused:
        read_grid(buffer.getvalue())
    assert BOMB in str(refused.value)
