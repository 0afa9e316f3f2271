"""Writing text into a spreadsheet cell as text, never as a formula.

openpyxl stores any string starting with "=" as a live formula. Text from referral forms and
meetings (an agency, a referrer's name, an action) must never be one: `=WEBSERVICE(...)` or
`=HYPERLINK(...)` would run on the reader's machine. Every text cell the outputs write goes
through `put`, which marks a string as a string whatever it starts with.
"""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet


def put(sheet: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write `value` at (row, column); a string is stored as text, never a formula."""
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def put_row(sheet: Worksheet, row: int, values: Iterable[object]) -> None:
    """Write `values` across `row` from column 1 (what `sheet.append` does, text kept text)."""
    for column, value in enumerate(values, start=1):
        put(sheet, row, column, value)


def header_text(text: str) -> str:
    """A text for a printed header or footer: "&" starts a code there, so it is doubled."""
    return text.replace("&", "&&")
