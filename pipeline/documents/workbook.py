"""A filled spreadsheet read as a plain grid of cell values, for the decisions import (R13).

It is an untrusted file (anyone can send an xlsx), so it is read in the document worker's
child, under its time and memory limits; only plain values come back: text, numbers, dates,
Yes/No booleans, by sheet and (row, column). Formulas are not evaluated: a cell gives the value
its program last saved. A workbook bigger than anything a meeting fills is refused.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any

from pipeline.documents.sniff import open_zip, zip_problem
from pipeline.errors import DocumentError

# A cell's value on the wire, and the grid: sheet → [(row, column, value)].
Plain = str | int | float | bool | date | datetime | None
WireGrid = dict[str, list[tuple[int, int, Plain]]]

# A meeting's workbook has a few hundred filled cells; these are far beyond any real one.
MAX_SHEETS = 20
MAX_CELLS = 100_000
MAX_TEXT = 10_000
MAX_ROWS = 5_000
# Columns read: the decisions layout's last is 16 (`rules.decisions.NOTES`, which a test keeps
# within this). Without a bound, one cell typed in column XFD makes every row 16,384 wide.
MAX_COLUMNS = 32


class NotAWorkbook(DocumentError):
    """The file is not a workbook we can read, or is too big to be a meeting's: the reason."""


def plain(value: Any) -> Plain:
    """A cell's value as one of the plain types the service accepts from the child."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, datetime):
        # Only naive date-times cross the pipe (a time zone would name a class).
        naive = value.replace(tzinfo=None)
        return naive.date() if naive.time() == time() else naive
    if isinstance(value, date):
        return value
    if isinstance(value, (time, timedelta)):
        return str(value)
    return str(value)[:MAX_TEXT]


def read_grid(data: bytes, max_col: int = MAX_COLUMNS) -> WireGrid:
    """Every sheet's filled cells (hidden sheets too) up to column `max_col`, or NotAWorkbook
    saying why not."""
    archive = open_zip(data)
    if archive is None:
        raise NotAWorkbook("the file is not an Excel workbook (.xlsx)")
    with archive:
        # The checks every other reader makes, from the central directory alone: a zip bomb
        # gets a plain reason, not a worker killed at its memory limit.
        problem = zip_problem(archive)
    if problem is not None:
        raise NotAWorkbook(f"the workbook cannot be read: {problem}")
    # Imported here: only the reader's child reads a workbook (its fork server preloads
    # openpyxl), and openpyxl brings numpy, which the service itself never needs.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise NotAWorkbook("the workbook could not be opened: save it again as .xlsx") from exc
    try:
        return _grid(book, max_col)
    finally:
        book.close()


def _grid(book: Any, max_col: int) -> WireGrid:
    from openpyxl.cell.read_only import EmptyCell

    if len(book.sheetnames) > MAX_SHEETS:
        raise NotAWorkbook(f"the workbook has more than {MAX_SHEETS} sheets")
    grid: WireGrid = {}
    count = 0
    for sheet in book.worksheets:
        cells: list[tuple[int, int, Plain]] = grid.setdefault(str(sheet.title), [])
        for row in sheet.iter_rows(max_row=MAX_ROWS, max_col=max_col):
            for cell in row:
                if isinstance(cell, EmptyCell) or cell.value is None:
                    continue
                count += 1
                if count > MAX_CELLS:
                    raise NotAWorkbook(f"the workbook has more than {MAX_CELLS} filled cells")
                cells.append((int(cell.row), int(cell.column), plain(cell.value)))
    return grid
