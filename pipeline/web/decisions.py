"""The decisions entry form (R13), for the administrator, as an alternative to the workbook.

The form is laid out as the workbook: one fieldset per case the meeting may decide, with the
Decisions sheet's columns a person fills in, and under them the case's action lines (the
Actions sheet's columns: what, who, which agency, by when, done). What is posted becomes the
same grid a workbook is read into (a Decisions row per case, an Actions row per line) and goes
through the same checks and the same recording (`panel.decisions.record.record_entered`): each
problem comes back by its cell and is shown by its field. Opened again, the form holds what is
recorded, to correct it in place; a review case not yet decided holds its outstanding actions,
as the workbook is pre-filled with them. A line is removed by ticking Remove (or clearing it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.errors import PipelineError
from pipeline.outputs.workbook import gather_workbook
from pipeline.panel.decisions.record import decidable, record_entered
from pipeline.rules import decisions as rule
from pipeline.rules.meetings import Meeting
from pipeline.states import Outcome
from pipeline.store.models import Case, Decision
from pipeline.web.guard import Pages, Visit
from pipeline.web.mail import send_now
from pipeline.web.meetings import find_meeting
from pipeline.web.users import ADMINISTRATORS

pages = Pages()
# The form's text fields and Yes/No boxes: the workbook's columns a person fills in.
TEXT_COLUMNS = {
    rule.OUTCOME: "Outcome",
    rule.LEAD_NAME: "Lead Professional name",
    rule.LEAD_AGENCY: "Lead Professional agency",
    rule.LEAD_EMAIL: "Lead Professional email",
    rule.REVIEW_DATE: "Review date",
    rule.LARP_NOTE: "LARP note",
    rule.NOTES: "Notes",
}
FLAG_COLUMNS = {
    rule.NO_FURTHER: "No further panel review (MASG)",
    rule.LARP: "LARP recommendation",
    rule.FINAL: "Final review (closes the case)",
}
# An action line's fields: the Actions sheet's columns a person fills in (Done is a box).
ACTION_COLUMNS = {
    rule.A_TEXT: "What is to be done",
    rule.A_OWNER: "Owner",
    rule.A_AGENCY: "Agency",
    rule.A_DUE: "By when",
}
FIRST_ROW = 2
# Blank action lines offered under each case, and added by "Add more action lines".
BLANK_LINES = 2
# More lines than a meeting agrees for one case is a tampered form: the count is capped, so
# a post cannot make the page (or the grid) arbitrarily large.
MOST_LINES = 60
# The submit button that adds lines instead of recording.
MORE = "more"


@dataclass(frozen=True)
class FormRow:
    row: int
    reference: str
    heard_as: str


# One action line as the form shows it: a column's text by column, Done as YES or absent.
Line = dict[int, str]


@dataclass(frozen=True)
class Entered:
    """The posted form as the workbook's grid, and which field each of its cells came from."""

    grid: dict[str, dict[tuple[int, int], str]]
    fields: dict[str, str] = field(default_factory=dict)


def field_id(row: int, column: int) -> str:
    return f"d{row}-{rule.column_letter(column).lower()}"


def action_id(row: int, line: int, column: int) -> str:
    """A case's action line's field: `a2-1-b` (case row 2, line 1, the Actions sheet's B)."""
    return f"a{row}-{line}-{rule.column_letter(column).lower()}"


def remove_id(row: int, line: int) -> str:
    return f"a{row}-{line}-remove"


def lines_id(row: int) -> str:
    """The hidden field holding how many action lines a case's fieldset shows."""
    return f"a{row}-lines"


def form_rows(visit: Visit, session: Session, meeting: Meeting) -> list[FormRow]:
    facts = decidable(visit.app, session, meeting.panel_id, meeting.starts_at)
    return [
        FormRow(FIRST_ROW + i, reference, facts.decidable[reference])
        for i, reference in enumerate(facts.decidable)
    ]


def _day_text(day: date | None) -> str | None:
    return f"{day:%d/%m/%Y}" if day else None


def _line(text: str, owner: str, agency: str | None, due: date, done: bool) -> Line:
    line = {rule.A_TEXT: text, rule.A_OWNER: owner, rule.A_AGENCY: agency or ""}
    line[rule.A_DUE] = f"{due:%d/%m/%Y}"
    return line | ({rule.A_DONE: rule.YES} if done else {})


def prefilled_lines(
    visit: Visit, session: Session, meeting: Meeting, rows: list[FormRow]
) -> dict[int, list[Line]]:
    """Each review case's outstanding actions, as the workbook is pre-filled with them (the
    same gathering, so the two cannot differ), by the case's row."""
    facts = gather_workbook(visit.app, session, meeting.panel_id, meeting.starts_at, 0)
    by_reference = {r.reference: r.row for r in rows}
    found: dict[int, list[Line]] = {}
    for a in facts.actions:
        row = by_reference.get(a.reference)
        if row is not None:
            found.setdefault(row, []).append(_line(a.text, a.owner, a.agency, a.due, False))
    return found


def recorded_values(
    session: Session, meeting: Meeting, rows: list[FormRow], prefilled: Mapping[int, list[Line]]
) -> dict[str, str]:
    """The decisions and action lines already recorded for the meeting, to correct them in
    place; a case with none recorded shows the lines it is pre-filled with."""
    by_reference = {r.reference: r.row for r in rows}
    found = session.execute(
        select(Decision, Case.reference)
        .join(Case, Case.id == Decision.case_id)
        .where(Decision.panel_id == meeting.panel_id, Decision.meeting == meeting.starts_at)
    )
    values: dict[str, str] = {}
    lines = dict(prefilled)
    for d, reference in found:
        row = by_reference.get(reference)
        if row is None:
            continue
        texts = {
            rule.OUTCOME: _outcome_text(d.outcome),
            rule.LEAD_NAME: d.lead_name,
            rule.LEAD_AGENCY: d.lead_agency,
            rule.LEAD_EMAIL: d.lead_email,
            rule.REVIEW_DATE: _day_text(d.review_date),
            rule.LARP_NOTE: d.larp_note,
            rule.NOTES: d.notes,
        }
        flags = {rule.NO_FURTHER: d.no_further_review, rule.LARP: d.larp, rule.FINAL: d.final}
        values |= {field_id(row, c): str(v) for c, v in texts.items() if v}
        values |= {field_id(row, c): rule.YES for c, v in flags.items() if v}
        lines[row] = [
            _line(a.text, a.owner, a.agency, a.due, a.done_at is not None) for a in d.actions
        ]
    for r in rows:
        shown = lines.get(r.row, [])
        values[lines_id(r.row)] = str(len(shown) + BLANK_LINES)
        for n, line in enumerate(shown, start=1):
            values |= {action_id(r.row, n, c): v for c, v in line.items() if v}
    return values


def _outcome_text(value: str) -> str:
    # Recorded decisions keep the outcome's name; the form and the workbook show its words.
    return Outcome[value].value if value in Outcome.__members__ else value


def line_count(form: Mapping[str, str], row: int) -> int:
    """How many action lines the case's fieldset showed (as posted, within bounds)."""
    posted = form.get(lines_id(row), "")
    count = int(posted) if posted.isdigit() else BLANK_LINES
    return min(count, MOST_LINES)


def posted_lines(form: Mapping[str, str], row: int) -> list[tuple[int, Line]]:
    """The case's action lines that hold something and are not ticked Remove, by position."""
    found = []
    for n in range(1, line_count(form, row) + 1):
        if form.get(remove_id(row, n)) == rule.YES:
            continue
        line = {c: form.get(action_id(row, n, c), "").strip() for c in ACTION_COLUMNS}
        line = {c: v for c, v in line.items() if v}
        if form.get(action_id(row, n, rule.A_DONE)) == rule.YES:
            line[rule.A_DONE] = rule.YES
        if line:
            found.append((n, line))
    return found


def _same_lines(posted: Iterable[tuple[int, Line]], prefilled: list[Line]) -> bool:
    return [line for _, line in posted] == [{c: v for c, v in p.items() if v} for p in prefilled]


def grid_of(
    rows: list[FormRow], form: Mapping[str, str], prefilled: Mapping[int, list[Line]]
) -> Entered:
    """The posted form as the workbook's grid: a Decisions row only for a case something was
    entered for (a case left blank is not decided now, as in the workbook; a review case's
    pre-filled lines left as they were are not an entry), and an Actions row for each of its
    lines, each cell remembered with its field."""
    decisions: dict[tuple[int, int], str] = {}
    actions: dict[tuple[int, int], str] = {}
    fields: dict[str, str] = {}
    sheet_row = FIRST_ROW
    for r in rows:
        entered = {c: form.get(field_id(r.row, c), "").strip() for c in TEXT_COLUMNS}
        flags = {c: rule.YES for c in FLAG_COLUMNS if form.get(field_id(r.row, c)) == rule.YES}
        lines = posted_lines(form, r.row)
        decided = any(entered.values()) or bool(flags)
        if not decided and (not lines or _same_lines(lines, prefilled.get(r.row, []))):
            continue
        decisions[(r.row, rule.REFERENCE)] = r.reference
        decisions[(r.row, rule.HEARD_AS)] = r.heard_as
        decisions |= {(r.row, c): v for c, v in entered.items() if v}
        decisions |= {(r.row, c): v for c, v in flags.items()}
        for n, line in lines:
            actions[(sheet_row, rule.A_REFERENCE)] = r.reference
            actions |= {(sheet_row, c): v for c, v in line.items()}
            fields |= {
                rule.cell_name(rule.ACTIONS, sheet_row, c): action_id(r.row, n, c)
                for c in (*ACTION_COLUMNS, rule.A_DONE)
            }
            # A problem with the line's reference is shown by what the line says.
            fields[rule.cell_name(rule.ACTIONS, sheet_row, rule.A_REFERENCE)] = action_id(
                r.row, n, rule.A_TEXT
            )
            sheet_row += 1
    grid = {rule.DECISIONS: decisions} | ({rule.ACTIONS: actions} if actions else {})
    return Entered(grid, fields)


def _errors(
    problems: tuple[rule.Problem, ...], rows: list[FormRow], entered: Entered
) -> dict[str, str]:
    """Each problem by the field of its cell; one with no field (the whole form) by the first."""
    fields = {
        rule.cell_name(rule.DECISIONS, r.row, c): field_id(r.row, c)
        for r in rows
        for c in (*TEXT_COLUMNS, *FLAG_COLUMNS)
    } | entered.fields
    first = field_id(rows[0].row, rule.OUTCOME) if rows else "decisions"
    errors: dict[str, str] = {}
    for p in problems:
        key = fields.get(p.cell, first)
        errors[key] = f"{errors[key]}; {p.problem}" if key in errors else _sentence(p.problem)
    return errors


def _sentence(problem: str) -> str:
    return problem[:1].upper() + problem[1:]


def _page(
    visit: Visit,
    meeting: Meeting,
    rows: list[FormRow],
    values: Mapping[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return visit.render(
        "decisions.html",
        status,
        meeting=meeting,
        day=meeting.starts_at.astimezone(visit.app.config.tz).date(),
        rows=rows,
        values=values,
        errors=errors,
        outcomes=[o.value for o in Outcome],
        text_columns=TEXT_COLUMNS,
        flag_columns=FLAG_COLUMNS,
        action_columns=ACTION_COLUMNS,
        text_column=rule.A_TEXT,
        agency_column=rule.A_AGENCY,
        date_column=rule.A_DUE,
        done_column=rule.A_DONE,
        lines={r.row: line_count(values, r.row) for r in rows},
        field_id=field_id,
        action_id=action_id,
        remove_id=remove_id,
        lines_id=lines_id,
        more=MORE,
        yes=rule.YES,
        agencies=visit.app.config.decisions.agencies,
    )


def _begun(visit: Visit, meeting: Meeting) -> None:
    if meeting.starts_at > visit.now:
        raise PipelineError("The meeting has not started yet: its decisions are entered after it.")


@pages.get("/meetings/{panel_id}/{day}/decisions", ADMINISTRATORS)
def entry_form(visit: Visit) -> Response:
    params = visit.request.path_params
    meeting = find_meeting(visit.app, params["panel_id"], params["day"])
    _begun(visit, meeting)
    with visit.app.store.reading() as session:
        rows = form_rows(visit, session, meeting)
        prefilled = prefilled_lines(visit, session, meeting, rows)
        values = recorded_values(session, meeting, rows, prefilled)
    return _page(visit, meeting, rows, values, {})


def _typed(form: Mapping[str, str], rows: list[FormRow], more: bool) -> dict[str, str]:
    """What was posted, to show again; with "add more", each case with more blank lines."""
    typed = {k: v for k, v in form.items() if k not in ("csrf_token", MORE)}
    for r in rows:
        count = line_count(form, r.row) + (BLANK_LINES if more else 0)
        typed[lines_id(r.row)] = str(min(count, MOST_LINES))
    return typed


@pages.post("/meetings/{panel_id}/{day}/decisions", ADMINISTRATORS)
def enter(visit: Visit) -> Response:
    params = visit.request.path_params
    meeting = find_meeting(visit.app, params["panel_id"], params["day"])
    _begun(visit, meeting)
    form = dict(visit.form)
    if MORE in form:
        # Nothing is recorded: the same entries come back with room for more lines.
        with visit.app.store.reading() as session:
            rows = form_rows(visit, session, meeting)
        return _page(visit, meeting, rows, _typed(form, rows, more=True), {})
    with visit.exclusive():
        with visit.app.store.session() as session:
            rows = form_rows(visit, session, meeting)
            entered = grid_of(rows, form, prefilled_lines(visit, session, meeting, rows))
            result = record_entered(
                visit.app,
                session,
                meeting.panel_id,
                meeting.starts_at,
                entered.grid,
                visit.actor,
            )
        if isinstance(result, tuple):
            typed = _typed(form, rows, more=False)
            return _page(visit, meeting, rows, typed, _errors(result, rows, entered), 400)
        sent = send_now(visit.app)
    day: date = meeting.starts_at.astimezone(visit.app.config.tz).date()
    return visit.redirect(
        f"/meetings/{meeting.panel_id}/{day.isoformat()}",
        "The decisions are recorded; the decision sheets follow as with a workbook." + sent,
    )
