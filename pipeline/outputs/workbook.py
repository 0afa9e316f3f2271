"""R13: the meeting's decisions workbook (xlsx), filled in by a person during the meeting.

One row per case the meeting decides (the agenda's cases, then the reviews due), drop-down
lists for the outcome, agencies and Yes/No, an Actions sheet pre-filled with each review's
outstanding actions, and a hidden marker naming the meeting, so an import knows what it is.
Structure and the cells we fill are locked against accidents (no password secrecy: it is not a
security boundary; the import checks everything). Minimal identifiers only: never a name.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.outputs.agenda import build_agenda
from pipeline.outputs.cells import header_text, put, put_row
from pipeline.rules import decisions as layout
from pipeline.rules.decisions import (
    ACTION_HEADERS,
    ACTIONS,
    DECISION_HEADERS,
    DECISIONS,
    LISTS,
    MARKER_LABELS,
    MEETING,
    NO,
    PRESENTED,
    REVIEW,
    YES,
    column_letter,
)
from pipeline.rules.identifiers import age_on, initials, without_name
from pipeline.states import Outcome
from pipeline.store.reviews import reviews_at

# Empty rows left on the Actions sheet for the meeting's new actions.
ACTION_ROWS = 200
DATE_FORMAT = "dd/mm/yyyy"
# Column widths in characters, by header.
WIDTHS = {
    "Reference": 16,
    "Initials": 9,
    "Age": 11,
    "Slot": 13,
    "Referred by": 18,
    "Heard as": 11,
    "Outcome": 34,
    "Action": 40,
    "LARP note": 30,
    "Notes": 36,
}
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
# Cells a person fills show in a pale yellow, so the editable part is plain to see.
EDITABLE_FILL = PatternFill("solid", fgColor="FFF8DC")
UNLOCKED = Protection(locked=False)


@dataclass(frozen=True)
class WorkbookAction:
    """An outstanding action of a review case, for the panel to mark done or keep."""

    reference: str
    text: str
    owner: str
    agency: str | None
    due: date


@dataclass(frozen=True)
class WorkbookRow:
    reference: str
    initials: str
    age: str
    slot: str
    agency: str
    heard_as: str


@dataclass(frozen=True)
class WorkbookFacts:
    """Everything the workbook shows; no child's name is among it."""

    panel_id: str
    panel_name: str
    meeting: datetime
    meeting_text: str
    # The meeting's day in panel time: no review date may be earlier.
    day: date
    workbook_id: int
    marking: str
    agencies: tuple[str, ...]
    rows: tuple[WorkbookRow, ...]
    actions: tuple[WorkbookAction, ...]

    @property
    def references(self) -> list[str]:
        return [row.reference for row in self.rows]


def gather_workbook(
    app: App, session: Session, panel_id: str, starts_at: datetime, workbook_id: int
) -> WorkbookFacts:
    """The cases the meeting decides: the agenda's, then the reviews due at it (R14)."""
    agenda = build_agenda(app, session, panel_id, starts_at)
    rows = [
        WorkbookRow(
            i.reference,
            i.initials,
            i.age.removeprefix("age "),
            i.slot or "",
            i.agency or "",
            PRESENTED,
        )
        for i in agenda.items
    ]
    actions: list[WorkbookAction] = []
    day = starts_at.astimezone(app.config.tz).date()
    listed = set(agenda.references)
    for review in reviews_at(session, app.config.panel(panel_id), app.config.tz, starts_at):
        case = review.case
        if case.reference in listed:
            continue
        fields = case.fields or {}
        rows.append(
            WorkbookRow(
                case.reference,
                initials(fields.get("child_name")),
                age_on(fields.get("child_dob"), day).removeprefix("age "),
                "",
                "",
                REVIEW,
            )
        )
        # Action text was typed in the meeting: the child's name in it becomes initials.
        name = fields.get("child_name")
        name = name if isinstance(name, str) else None
        actions += [
            WorkbookAction(case.reference, without_name(a.text, name), a.owner, a.agency, a.due)
            for a in review.outstanding
        ]
    return WorkbookFacts(
        panel_id=panel_id,
        panel_name=agenda.panel_name,
        meeting=starts_at,
        meeting_text=agenda.meeting,
        day=day,
        workbook_id=workbook_id,
        marking=app.config.pack.protective_marking,
        agencies=app.config.decisions.agencies,
        rows=tuple(rows),
        actions=tuple(actions),
    )


def _list_range(column: int, count: int) -> str:
    letter = column_letter(column)
    return f"'{LISTS}'!${letter}$1:${letter}${max(count, 1)}"


def _lists(book: Workbook, facts: WorkbookFacts) -> dict[str, str]:
    """The hidden sheet of drop-down values (a list in a cell range, so an agency holding a
    comma or a quote stays one entry), and each list's range."""
    sheet = book.create_sheet(LISTS)
    columns: dict[str, Sequence[str]] = {
        "outcomes": [o.value for o in Outcome],
        "agencies": facts.agencies,
        "yes_no": [YES, NO],
        "references": facts.references,
    }
    ranges = {}
    for column, (name, values) in enumerate(columns.items(), start=1):
        for row, value in enumerate(values, start=1):
            put(sheet, row, column, value)
        ranges[name] = _list_range(column, len(values))
    sheet.sheet_state = "hidden"
    sheet.protection.sheet = True
    return ranges


def _marker(book: Workbook, facts: WorkbookFacts) -> None:
    """Which meeting this workbook is for: read back by the import, hidden from the person."""
    sheet = book.create_sheet(MEETING)
    values = (facts.panel_id, facts.meeting.isoformat(), str(facts.workbook_id))
    for row, (label, value) in enumerate(zip(MARKER_LABELS, values, strict=True), start=1):
        put(sheet, row, 1, label)
        put(sheet, row, 2, value)
    sheet.sheet_state = "hidden"
    sheet.protection.sheet = True


def _list_validation(
    sheet: Worksheet, source: str, cells: str, title: str, strict: bool = True
) -> None:
    check = DataValidation(type="list", formula1=source, allow_blank=True)
    check.showErrorMessage = True
    # An agency not in the list is allowed (with a note), an outcome or Yes/No is not.
    check.errorStyle = "stop" if strict else "information"
    check.errorTitle = title
    check.error = "Choose a value from the list." if strict else "Not in the list: kept as typed."
    check.promptTitle = title
    check.showInputMessage = False
    sheet.add_data_validation(check)
    check.add(cells)


def _date_validation(sheet: Worksheet, cells: str, first: date) -> None:
    check = DataValidation(
        type="date",
        operator="greaterThanOrEqual",
        formula1=f"DATE({first.year},{first.month},{first.day})",
        allow_blank=True,
    )
    check.showErrorMessage = True
    check.errorStyle = "stop"
    check.errorTitle = "Date"
    check.error = f"Give a date on or after {first:%d/%m/%Y}, as dd/mm/yyyy."
    sheet.add_data_validation(check)
    check.add(cells)


def _header(sheet: Worksheet, headers: Sequence[str]) -> None:
    put_row(sheet, 1, headers)
    for column, title in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=column)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[column_letter(column)].width = WIDTHS.get(title, 16)
    sheet.freeze_panes = "A2"


def _print_setup(sheet: Worksheet, facts: WorkbookFacts, title: str) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    # "&" starts a code in a header: a marking holding one is written doubled.
    marking = header_text(facts.marking)
    sheet.oddHeader.center.text = marking
    sheet.oddHeader.right.text = header_text(f"{title}: {facts.meeting_text}")
    sheet.oddFooter.center.text = marking
    sheet.oddFooter.right.text = "Page &P of &N"


def _protect(sheet: Worksheet) -> None:
    # Sorting, filtering and resizing stay possible; inserting or deleting rows does not.
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    sheet.protection.autoFilter = False
    sheet.protection.selectLockedCells = False
    sheet.protection.selectUnlockedCells = False


def _editable(sheet: Worksheet, first_row: int, last_row: int, columns: range) -> None:
    for row in range(first_row, last_row + 1):
        for column in columns:
            cell = sheet.cell(row=row, column=column)
            cell.protection = UNLOCKED
            cell.fill = EDITABLE_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _cells(column: int, first: int, last: int) -> str:
    letter = column_letter(column)
    return f"{letter}{first}:{letter}{last}"


def _decisions_sheet(sheet: Worksheet, facts: WorkbookFacts, lists: dict[str, str]) -> None:
    sheet.title = DECISIONS
    _header(sheet, DECISION_HEADERS)
    for number, case in enumerate(facts.rows, start=2):
        values = (case.reference, case.initials, case.age, case.slot, case.agency, case.heard_as)
        put_row(sheet, number, values)
    last = max(len(facts.rows) + 1, 2)
    _editable(sheet, 2, last, range(layout.OUTCOME, layout.NOTES + 1))
    _list_validation(sheet, lists["outcomes"], _cells(layout.OUTCOME, 2, last), "Outcome")
    agency = _cells(layout.LEAD_AGENCY, 2, last)
    _list_validation(sheet, lists["agencies"], agency, "Agency", strict=False)
    for column in (layout.NO_FURTHER, layout.LARP, layout.FINAL):
        _list_validation(sheet, lists["yes_no"], _cells(column, 2, last), "Yes or No")
    _date_validation(sheet, _cells(layout.REVIEW_DATE, 2, last), facts.day)
    for number in range(2, last + 1):
        sheet.cell(row=number, column=layout.REVIEW_DATE).number_format = DATE_FORMAT
    _print_setup(sheet, facts, "Decisions")
    _protect(sheet)


def _actions_sheet(sheet: Worksheet, facts: WorkbookFacts, lists: dict[str, str]) -> None:
    _header(sheet, ACTION_HEADERS)
    for number, action in enumerate(facts.actions, start=2):
        values = (action.reference, action.text, action.owner, action.agency, action.due, NO)
        put_row(sheet, number, values)
    last = len(facts.actions) + 1 + ACTION_ROWS
    _editable(sheet, 2, last, range(layout.A_REFERENCE, layout.A_DONE + 1))
    _list_validation(sheet, lists["references"], _cells(layout.A_REFERENCE, 2, last), "Case")
    _list_validation(
        sheet, lists["agencies"], _cells(layout.A_AGENCY, 2, last), "Agency", strict=False
    )
    _list_validation(sheet, lists["yes_no"], _cells(layout.A_DONE, 2, last), "Done")
    _date_validation(sheet, _cells(layout.A_DUE, 2, last), date(2000, 1, 1))
    for row in range(2, last + 1):
        sheet.cell(row=row, column=layout.A_DUE).number_format = DATE_FORMAT
    _print_setup(sheet, facts, "Actions")
    _protect(sheet)


def workbook_xlsx(facts: WorkbookFacts) -> bytes:
    """The workbook's bytes."""
    book = Workbook()
    decisions = book.active
    assert decisions is not None
    actions = book.create_sheet(ACTIONS)
    lists = _lists(book, facts)
    _marker(book, facts)
    _decisions_sheet(decisions, facts, lists)
    _actions_sheet(actions, facts, lists)
    book.security = WorkbookProtection(lockStructure=True)
    book.properties.title = f"{facts.panel_name}: decisions, {facts.meeting_text}"
    book.properties.creator = "MASP pipeline"
    book.properties.subject = facts.marking
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def workbook_name(facts: WorkbookFacts) -> str:
    """The attachment's file name: the panel and the meeting's day, never a person."""
    return f"{facts.panel_id}-decisions-{facts.day.isoformat()}.xlsx"
