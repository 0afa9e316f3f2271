"""R13: a filled decisions workbook, read as a plain grid, checked whole against its meeting.

The workbook's layout (sheets, columns, the meeting marker) is defined here, so the file we
make and the file we read cannot disagree. `validate` returns every problem, each with its
sheet and cell ("Actions!D7: the action has no owner"), or the decisions: nothing partial.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from pipeline.mime.addresses import normalise
from pipeline.states import CLOSES, NEEDS_LEAD, Outcome

# A cell's value as the reader gives it.
Value = str | int | float | bool | date | datetime | None
# Sheet name → {(row, column): value}, 1-based, only the cells that hold something.
Grid = Mapping[str, Mapping[tuple[int, int], Value]]

DECISIONS, ACTIONS, LISTS, MEETING = "Decisions", "Actions", "Lists", "Meeting"
PRESENTED, REVIEW = "presented", "review"
YES, NO = "Yes", "No"

# The Decisions sheet's columns, in order; the first six are filled by us and locked.
REFERENCE, INITIALS, AGE, SLOT, REFERRED_BY, HEARD_AS = range(1, 7)
OUTCOME, LEAD_NAME, LEAD_AGENCY, LEAD_EMAIL, REVIEW_DATE = range(7, 12)
NO_FURTHER, LARP, LARP_NOTE, FINAL, NOTES = range(12, 17)
# The columns a person fills in.
EDITABLE = range(OUTCOME, NOTES + 1)
DECISION_HEADERS = (
    "Reference",
    "Initials",
    "Age",
    "Slot",
    "Referred by",
    "Heard as",
    "Outcome",
    "Lead Professional name",
    "Lead Professional agency",
    "Lead Professional email",
    "Review date",
    "No further panel review (MASG)",
    "LARP recommendation",
    "LARP note",
    "Final review (closes the case)",
    "Notes",
)
# The Actions sheet's columns.
A_REFERENCE, A_TEXT, A_OWNER, A_AGENCY, A_DUE, A_DONE = range(1, 7)
ACTION_HEADERS = ("Reference", "Action", "Owner", "Agency", "By when", "Done")
# The hidden Meeting sheet: a label in column A, its value in column B, one a row.
MARKER_LABELS = ("Panel", "Meeting", "Workbook")
# Text longer than this in one cell is not something a meeting typed.
LONGEST = 4000


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_name(sheet: str, row: int, column: int) -> str:
    """'Actions!D7'."""
    return f"{sheet}!{column_letter(column)}{row}"


@dataclass(frozen=True)
class Problem:
    cell: str
    problem: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.problem}"


@dataclass(frozen=True)
class Marker:
    """Which meeting a workbook is for, as the file says."""

    panel_id: str
    meeting: datetime
    workbook_id: int


@dataclass(frozen=True)
class ActionLine:
    reference: str
    position: int
    text: str
    owner: str
    agency: str | None
    due: date
    done: bool


@dataclass(frozen=True)
class CaseDecision:
    reference: str
    heard_as: str
    outcome: Outcome
    lead_name: str | None
    lead_agency: str | None
    lead_email: str | None
    review_date: date | None
    no_further_review: bool
    larp: bool
    larp_note: str | None
    final: bool
    notes: str | None
    actions: tuple[ActionLine, ...] = ()

    @property
    def closes(self) -> bool:
        """Whether the case closes: a final review, or an outcome that ends the panel's part
        with nothing to come back for (no review date, no follow-up)."""
        if self.final or self.outcome == Outcome.CLOSED:
            return True
        return self.outcome in CLOSES and self.review_date is None and not self.no_further_review


@dataclass(frozen=True)
class Meeting:
    """What the meeting may decide, as the store says: references → how each is heard, and
    why any other reference the workbook was made with may not be decided now."""

    decidable: Mapping[str, str]
    not_heard: Mapping[str, str] = field(default_factory=dict)
    # Cases a final review already closed (an earlier workbook): they cannot be reopened.
    closed: frozenset[str] = frozenset()
    # The review actions the workbook was pre-filled with, as (reference, by when): kept open
    # with the date unchanged, an overdue one is not "a date in the past" the meeting chose.
    prefilled: frozenset[tuple[str, date]] = frozenset()


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_marker(grid: Grid) -> Marker | Problem:
    """The panel, meeting and workbook the file names on its hidden Meeting sheet."""
    sheet = grid.get(MEETING)
    where = cell_name(MEETING, 1, 2)
    if sheet is None:
        return Problem(
            where, "the workbook has no meeting marker: fill in the workbook we sent, not a copy"
        )
    labels = tuple(_text(sheet.get((row, 1))) for row in (1, 2, 3))
    panel, instant, number = (_text(sheet.get((row, 2))) for row in (1, 2, 3))
    if labels != MARKER_LABELS or not panel:
        return Problem(where, "the meeting marker is not one we wrote: use the workbook we sent")
    try:
        meeting = datetime.fromisoformat(instant)
        workbook = int(number)
    except ValueError:
        return Problem(where, "the meeting marker is damaged: use the workbook we sent")
    if meeting.tzinfo is None:
        return Problem(where, "the meeting marker is damaged: use the workbook we sent")
    return Marker(panel, meeting, workbook)


def yes_no(value: Value) -> bool | None:
    """True, False, or None when the cell holds something other than Yes/No (blank is No)."""
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("", "no", "n"):
        return False
    if text in ("yes", "y"):
        return True
    return None


DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def as_date(value: Value) -> date | None:
    """A date cell, or text written as dd/mm/yyyy or yyyy-mm-dd; None when it is not a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    found = DAY_FIRST.match(text)
    try:
        if found:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        return None


class _Checker:
    """Collects problems while reading the rows; each check names its cell."""

    def __init__(self, day: date, agencies: tuple[str, ...]) -> None:
        # The meeting's day: dates the meeting set are checked against it, not against the
        # day the workbook came back (a late correction is not refused for its lateness).
        self.day_of_meeting = day
        self.agencies = {a.lower(): a for a in agencies}
        self.problems: list[Problem] = []

    def add(self, sheet: str, row: int, column: int, problem: str) -> None:
        self.problems.append(Problem(cell_name(sheet, row, column), problem))

    def text(self, sheet: str, row: int, column: int, values: Mapping[int, Value]) -> str | None:
        text = _text(values.get(column))
        if len(text) > LONGEST:
            self.add(sheet, row, column, f"the text is too long (over {LONGEST} characters)")
        return text or None

    def flag(self, sheet: str, row: int, column: int, values: Mapping[int, Value]) -> bool:
        answer = yes_no(values.get(column))
        if answer is None:
            shown = _text(values.get(column))[:40]
            self.add(sheet, row, column, f'"{shown}" is not Yes or No: choose Yes, No or leave it')
            return False
        return answer

    def agency(self, value: str | None) -> str | None:
        # A configured agency is spelled as configured; any other is kept as typed.
        return None if value is None else self.agencies.get(value.lower(), value)

    def day(
        self, sheet: str, row: int, column: int, value: Value, future: bool, what: str
    ) -> date | None:
        if value is None or _text(value) == "":
            return None
        found = as_date(value)
        if found is None:
            shown = _text(value)[:40]
            self.add(sheet, row, column, f'"{shown}" is not a date: write the {what} as dd/mm/yyyy')
        elif future and found < self.day_of_meeting:
            self.add(
                sheet,
                row,
                column,
                f"the {what} {found:%d/%m/%Y} is before the meeting: give a date from "
                f"{self.day_of_meeting:%d/%m/%Y} on",
            )
        return found


def _rows(sheet: Mapping[tuple[int, int], Value]) -> dict[int, dict[int, Value]]:
    """Rows below the header that hold something, by row number."""
    rows: dict[int, dict[int, Value]] = {}
    for (row, column), value in sheet.items():
        if row > 1 and _text(value) != "":
            rows.setdefault(row, {})[column] = value
    return dict(sorted(rows.items()))


def _decision(
    check: _Checker, row: int, values: Mapping[int, Value], reference: str, heard_as: str
) -> CaseDecision | None:
    sheet = DECISIONS
    outcome_text = _text(values.get(OUTCOME))
    outcome = next((o for o in Outcome if o.value.lower() == outcome_text.lower()), None)
    if not outcome_text:
        check.add(sheet, row, OUTCOME, f"{reference} has no outcome: choose one from the list")
    elif outcome is None:
        check.add(
            sheet,
            row,
            OUTCOME,
            f'"{outcome_text[:60]}" is not an outcome: choose one from the list',
        )
    name = check.text(sheet, row, LEAD_NAME, values)
    agency = check.agency(check.text(sheet, row, LEAD_AGENCY, values))
    email = check.text(sheet, row, LEAD_EMAIL, values)
    if email is not None and normalise(email) is None:
        check.add(sheet, row, LEAD_EMAIL, f'"{email[:80]}" is not an email address')
    if outcome in NEEDS_LEAD:
        if name is None:
            check.add(sheet, row, LEAD_NAME, f"{reference} needs a Lead Professional: give a name")
        if email is None:
            check.add(
                sheet, row, LEAD_EMAIL, f"{reference} needs a Lead Professional: give their email"
            )
    review = check.day(sheet, row, REVIEW_DATE, values.get(REVIEW_DATE), True, "review date")
    no_further = check.flag(sheet, row, NO_FURTHER, values)
    larp = check.flag(sheet, row, LARP, values)
    final = check.flag(sheet, row, FINAL, values)
    if review is not None and (final or outcome == Outcome.CLOSED):
        check.add(
            sheet,
            row,
            REVIEW_DATE,
            f"{reference} closes (final review or Closed) but has a review date: clear one",
        )
    _what_next(check, row, reference, outcome, review, no_further, final, email)
    if outcome is None:
        return None
    return CaseDecision(
        reference=reference,
        heard_as=heard_as,
        outcome=outcome,
        lead_name=name,
        lead_agency=agency,
        lead_email=normalise(email) if email else None,
        review_date=review,
        no_further_review=no_further,
        larp=larp,
        larp_note=check.text(sheet, row, LARP_NOTE, values),
        final=final,
        notes=check.text(sheet, row, NOTES, values),
    )


def _what_next(
    check: _Checker,
    row: int,
    reference: str,
    outcome: Outcome | None,
    review: date | None,
    no_further: bool,
    final: bool,
    email: str | None,
) -> None:
    """Every decision says what happens next (R14): a review, the Lead Professional's report
    in 12 weeks, or the end of the panel's part; never a case left waiting for nothing."""
    sheet = DECISIONS
    if no_further and review is not None:
        check.add(
            sheet,
            row,
            NO_FURTHER,
            f"{reference} has a review date and no further panel review: keep one",
        )
    if no_further and email is None:
        check.add(
            sheet,
            row,
            LEAD_EMAIL,
            f"{reference} has no further panel review: give the Lead Professional's email, "
            "so they can be asked for the outcomes",
        )
    if final or outcome is None or review is not None or no_further:
        return
    if outcome == Outcome.ACCEPTED:
        check.add(
            sheet,
            row,
            REVIEW_DATE,
            f"{reference} is accepted: give a review date, or Yes to no further panel review",
        )
    elif outcome == Outcome.MORE_INFO:
        check.add(
            sheet,
            row,
            REVIEW_DATE,
            f"{reference} is deferred for more information: give the date to hear it again",
        )


def _decisions(check: _Checker, grid: Grid, meeting: Meeting) -> list[CaseDecision]:
    found: list[CaseDecision] = []
    named = _action_references(grid)
    seen: dict[str, int] = {}
    sheet = grid.get(DECISIONS)
    if sheet is None:
        check.add(DECISIONS, 1, 1, "the workbook has no Decisions sheet: use the workbook we sent")
        return found
    for row, values in _rows(sheet).items():
        reference = _text(values.get(REFERENCE)).upper()
        if not reference:
            check.add(DECISIONS, row, REFERENCE, "the row has no case reference")
            continue
        if reference in seen:
            check.add(
                DECISIONS,
                row,
                REFERENCE,
                f"{reference} is listed twice (also on row {seen[reference]}): keep one row",
            )
            continue
        seen[reference] = row
        if reference in meeting.not_heard:
            # Its reference cell is locked, so the row cannot be deleted: left blank, and with
            # no action naming it, it is simply not decided here.
            if _filled_in(values) or reference in named:
                check.add(
                    DECISIONS,
                    row,
                    REFERENCE,
                    f"{meeting.not_heard[reference]}: clear the cells filled in on its row "
                    "and any action naming it",
                )
            continue
        if reference not in meeting.decidable:
            check.add(
                DECISIONS, row, REFERENCE, f"{reference} is not a case this meeting may decide"
            )
            continue
        decision = _decision(check, row, values, reference, meeting.decidable[reference])
        if decision is not None and reference in meeting.closed and not decision.closes:
            check.add(
                DECISIONS,
                row,
                FINAL,
                f"{reference} was closed by an earlier workbook for this meeting and a closed "
                "case cannot be reopened: record it as closing again, or refer the child anew",
            )
        if decision is not None:
            found.append(decision)
    return found


def _actions(
    check: _Checker, grid: Grid, references: set[str], prefilled: frozenset[tuple[str, date]]
) -> list[ActionLine]:
    found: list[ActionLine] = []
    sheet = grid.get(ACTIONS)
    if sheet is None:
        return found
    for row, values in _rows(sheet).items():
        reference = _text(values.get(A_REFERENCE)).upper()
        if not reference:
            check.add(ACTIONS, row, A_REFERENCE, "the action has no case reference")
        elif reference not in references:
            check.add(
                ACTIONS, row, A_REFERENCE, f"{reference} is not a case decided in this workbook"
            )
        text = check.text(ACTIONS, row, A_TEXT, values)
        owner = check.text(ACTIONS, row, A_OWNER, values)
        agency = check.agency(check.text(ACTIONS, row, A_AGENCY, values))
        done = check.flag(ACTIONS, row, A_DONE, values)
        # A done action's date may be past; an open one must still be ahead, unless it is a
        # review's action kept open as the workbook pre-filled it (overdue: the chair sees it).
        kept = (reference, as_date(values.get(A_DUE))) in prefilled
        due = check.day(ACTIONS, row, A_DUE, values.get(A_DUE), not done and not kept, "date")
        if text is None:
            check.add(ACTIONS, row, A_TEXT, "the action does not say what is to be done")
        if owner is None:
            check.add(ACTIONS, row, A_OWNER, "the action has no owner")
        if values.get(A_DUE) is None:
            check.add(ACTIONS, row, A_DUE, "the action has no date: give one as dd/mm/yyyy")
        if reference in references and text and owner and due is not None:
            found.append(ActionLine(reference, row, text, owner, agency, due, done))
    return found


def validate(
    grid: Grid, meeting: Meeting, day: date, agencies: tuple[str, ...]
) -> tuple[CaseDecision, ...] | tuple[Problem, ...]:
    """The workbook's decisions, each with its actions; or every problem found, by cell.

    `day` is the meeting's day (panel time): a review date or an open action's date before it
    is refused.
    """
    check = _Checker(day, agencies)
    decisions = _decisions(check, grid, meeting)
    # An action may name only a case this workbook decides (its row may have problems of
    # its own, reported there).
    decided = _listed_references(grid) & set(meeting.decidable)
    actions = _actions(check, grid, decided, meeting.prefilled)
    if check.problems:
        return tuple(check.problems)
    if not decisions:
        return (Problem(cell_name(DECISIONS, 2, OUTCOME), "the workbook records no decisions"),)
    by_case: dict[str, list[ActionLine]] = {}
    for action in actions:
        by_case.setdefault(action.reference, []).append(action)
    return tuple(replace(d, actions=tuple(by_case.get(d.reference, ()))) for d in decisions)


def _filled_in(values: Mapping[int, Value]) -> bool:
    """Whether a person wrote anything on a Decisions row ("No" in a Yes/No column is blank)."""
    flags = (NO_FURTHER, LARP, FINAL)
    return any(
        yes_no(values.get(c)) is not False if c in flags else _text(values.get(c)) != ""
        for c in EDITABLE
    )


def _action_references(grid: Grid) -> set[str]:
    sheet = grid.get(ACTIONS) or {}
    return {
        _text(value).upper()
        for (row, column), value in sheet.items()
        if row > 1 and column == A_REFERENCE and _text(value)
    }


def _listed_references(grid: Grid) -> set[str]:
    sheet = grid.get(DECISIONS) or {}
    return {
        _text(value).upper()
        for (row, column), value in sheet.items()
        if row > 1 and column == REFERENCE and _text(value)
    }
