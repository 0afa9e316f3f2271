"""Chronologies: the date grammar, problems reported (never fixed), the row cap, and PDF pages."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest

from pipeline.documents.dates import DateProblem, When, read_when
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.read import read_document
from pipeline.documents.results import ReadLimits
from tests.helpers import DATA, corpus_maker

CORPUS = DATA / "documents"
TODAY = date(2026, 3, 1)


MAKER = corpus_maker()


@pytest.mark.parametrize(
    ("written", "iso", "approximate"),
    [
        ("12/03/2024", "2024-03-12", False),
        ("12/3/24", "2024-03-12", False),
        ("1.2.2023", "2023-02-01", False),
        ("2024-06-01", "2024-06-01", False),
        ("3rd June 2024", "2024-06-03", False),
        ("June 3, 2024", "2024-06-03", False),
        ("?05/2024", "2024-05", True),
        ("05/2024", "2024-05", True),
        ("May 2024", "2024-05", True),
        ("Sept 2024", "2024-09", True),
        ("early May 2024", "2024-05", True),
        ("c. 2019", "2019", True),
        ("circa 2019", "2019", True),
        ("2019", "2019", True),
        ("Summer 2024", "2024-06", True),
        ("late 2023", "2023", True),
        ("12/03/2024?", "2024-03-12", True),
        ("approx 12/03/2024", "2024-03-12", True),
        ("01/05/2024 - 03/05/2024", "2024-05-01", False),
        ("May–June 2024", "2024-05", True),
    ],
)
def test_dates_as_written_in_chronologies(written: str, iso: str, approximate: bool) -> None:
    found = read_when(written)
    assert isinstance(found, When)
    assert (found.iso, found.approximate) == (iso, approximate)


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        (datetime(2024, 3, 12, 15, 30), "2024-03-12"),
        (date(2024, 3, 12), "2024-03-12"),
        (45363, "2024-03-12"),
        (45363.0, "2024-03-12"),
        (2019, "2019"),
    ],
)
def test_spreadsheet_cells_and_excel_serial_numbers(value: object, iso: str) -> None:
    found = read_when(value)
    assert isinstance(found, When) and found.iso == iso


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("31/02/2024", DateProblem.IMPOSSIBLE),
        ("2024-13-01", DateProblem.IMPOSSIBLE),
        ("13/2024", DateProblem.IMPOSSIBLE),
        ("", DateProblem.MISSING),
        (None, DateProblem.MISSING),
        ("unknown", DateProblem.MISSING),
        ("?", DateProblem.MISSING),
        ("last week", DateProblem.UNREADABLE),
        (12.5, DateProblem.UNREADABLE),
        (True, DateProblem.UNREADABLE),
    ],
)
def test_dates_that_cannot_be_used_say_why(value: object, problem: DateProblem) -> None:
    assert read_when(value) == problem


def test_approximate_dates_keep_their_span() -> None:
    summer = read_when("Summer 2024")
    winter = read_when("winter 2024")
    assert isinstance(summer, When) and isinstance(winter, When)
    assert (summer.earliest, summer.latest) == (date(2024, 6, 1), date(2024, 8, 31))
    assert (winter.earliest, winter.latest) == (date(2024, 12, 1), date(2025, 2, 28))


def _chronology(rows: list[list[str]]) -> bytes:
    def build(document: Any) -> None:
        document.add_heading("Chronology", level=1)
        MAKER.table(document, rows, bold_first=True)

    return bytes(MAKER.docx_bytes(build))


HEADER = ["Date/Period", "Significant event", "Source of information", "Impact", "Outcome"]


def _read(rows: list[list[str]], **limits: int) -> dict[str, Any]:
    data = _chronology([HEADER, *rows])
    result = read_document("chronology.docx", data, ReadLimits(**limits), today=TODAY)
    assert (result.classification.kind, result.classification.status) == (
        Kind.CHRONOLOGY,
        Status.OK,
    )
    return result.fields


def test_overlapping_approximate_dates_are_not_out_of_order() -> None:
    fields = _read([["May 2024", "A", "School", "", ""], ["12/05/2024", "B", "School", "", ""]])
    assert fields["notes"] == []
    assert fields["summary"]["problems"] == 0


def test_a_newest_first_chronology_is_read_that_way() -> None:
    rows = [[f"0{day}/01/2024", "event", "GP", "", ""] for day in (9, 7, 5, 8, 1)]
    fields = _read(rows)
    assert fields["notes"][0] == "the chronology runs newest first (read that way)"
    assert fields["notes"][1] == (
        "row 3 to row 4 ('07/01/2024') are earlier than row 5 below ('08/01/2024'): "
        "out of date order"
    )


def test_future_dates_need_today_and_are_never_guessed_from_the_clock() -> None:
    data = _chronology([HEADER, ["01/01/2099", "Booked", "School", "", ""]])
    undated = read_document("chronology.docx", data, ReadLimits())
    assert undated.fields["notes"] == []
    dated = read_document("chronology.docx", data, ReadLimits(), today=TODAY)
    assert dated.fields["notes"] == ["row 2: '01/01/2099' is in the future"]


def test_rows_are_capped_with_a_note() -> None:
    rows = [[f"{day:02d}/01/2024", "event", "School", "", ""] for day in range(1, 21)]
    fields = _read(rows, max_rows=5)
    assert fields["summary"]["entries"] == 5
    assert fields["notes"] == ["only the first 5 rows were read (the limit for one file)"]


def test_a_header_repeated_on_each_page_and_blank_rows_are_not_entries() -> None:
    fields = _read([["01/01/2024", "A", "GP", "", ""], HEADER, ["", "", "", "", ""]])
    assert fields["summary"]["entries"] == 1


def test_many_bad_rows_make_a_short_list_of_notes() -> None:
    fields = _read([["soon", "event", "GP", "", ""] for _ in range(30)])
    assert len(fields["notes"]) == 11
    assert fields["notes"][-1] == "and 20 more rows with date problems"
    assert fields["summary"]["problems"] == 30


def test_a_table_without_date_and_event_columns_is_reported() -> None:
    def build(document: Any) -> None:
        document.add_heading("Chronology", level=1)
        MAKER.table(document, [["Who", "What"], ["GP", "Seen"]])

    data = bytes(MAKER.docx_bytes(build))
    result = read_document("chronology.docx", data, ReadLimits(), today=TODAY)
    assert result.classification.kind == Kind.CHRONOLOGY
    assert "no table with a date column and an event column" in result.notes[0]


def _workbook(rows: int) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Date", "Event", "Source"])
    for number in range(rows):
        sheet.append([datetime(2020, 1, 1), f"event {number}", "School"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_long_sheet_is_capped_at_the_row_limit() -> None:
    result = read_document("timeline.xlsx", _workbook(50), ReadLimits(max_rows=10), today=TODAY)
    assert result.fields["summary"]["entries"] == 9
    assert result.fields["notes"] == ["only the first 10 rows were read (the limit for one file)"]


def test_a_pdf_over_the_page_limit_is_refused_with_its_page_count() -> None:
    data = MAKER.text_pdf([["Chronology", f"page {n}"] for n in range(12)])
    result = read_document("chronology.pdf", data, ReadLimits(max_pdf_pages=10))
    assert result.classification.status == Status.REFUSED
    assert result.classification.kind == Kind.CHRONOLOGY
    assert result.classification.reason == (
        "the PDF has 12 pages, over the 10 the panel inbox reads: please send the relevant pages"
    )
    within = read_document("chronology.pdf", data, ReadLimits())
    assert within.classification.status != Status.REFUSED
