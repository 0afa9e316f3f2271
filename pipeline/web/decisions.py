"""The decisions entry form (R13), for the administrator, as an alternative to the workbook.

The form is laid out as the workbook's Decisions sheet: one row per case the meeting may decide,
the columns a person fills in. What is posted becomes the same grid a workbook is read into and
goes through the same checks and the same recording (`panel.decisions.record.record_entered`):
each problem comes back by its cell and is shown by its field. Actions are entered with the
workbook (its Actions sheet)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.errors import PipelineError
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
FIRST_ROW = 2


@dataclass(frozen=True)
class FormRow:
    row: int
    reference: str
    heard_as: str


def field_id(row: int, column: int) -> str:
    return f"d{row}-{rule.column_letter(column).lower()}"


def form_rows(visit: Visit, session: Session, meeting: Meeting) -> list[FormRow]:
    facts = decidable(visit.app, session, meeting.panel_id, meeting.starts_at)
    return [
        FormRow(FIRST_ROW + i, reference, facts.decidable[reference])
        for i, reference in enumerate(facts.decidable)
    ]


def recorded_values(session: Session, meeting: Meeting, rows: list[FormRow]) -> dict[str, str]:
    """The decisions already recorded for the meeting, to correct them in place."""
    by_reference = {r.reference: r.row for r in rows}
    found = session.execute(
        select(Decision, Case.reference)
        .join(Case, Case.id == Decision.case_id)
        .where(Decision.panel_id == meeting.panel_id, Decision.meeting == meeting.starts_at)
    )
    values: dict[str, str] = {}
    for d, reference in found:
        row = by_reference.get(reference)
        if row is None:
            continue
        texts = {
            rule.OUTCOME: _outcome_text(d.outcome),
            rule.LEAD_NAME: d.lead_name,
            rule.LEAD_AGENCY: d.lead_agency,
            rule.LEAD_EMAIL: d.lead_email,
            rule.REVIEW_DATE: f"{d.review_date:%d/%m/%Y}" if d.review_date else None,
            rule.LARP_NOTE: d.larp_note,
            rule.NOTES: d.notes,
        }
        flags = {rule.NO_FURTHER: d.no_further_review, rule.LARP: d.larp, rule.FINAL: d.final}
        values |= {field_id(row, c): str(v) for c, v in texts.items() if v}
        values |= {field_id(row, c): rule.YES for c, v in flags.items() if v}
    return values


def _outcome_text(value: str) -> str:
    # Recorded decisions keep the outcome's name; the form and the workbook show its words.
    return Outcome[value].value if value in Outcome.__members__ else value


def grid_of(rows: list[FormRow], form: dict[str, str]) -> dict[str, dict[tuple[int, int], str]]:
    """The posted form as the workbook's grid: a row only for a case something was entered for
    (a case left blank is not decided now, as in the workbook)."""
    sheet: dict[tuple[int, int], str] = {}
    for r in rows:
        entered = {c: form.get(field_id(r.row, c), "").strip() for c in TEXT_COLUMNS}
        flags = {c: rule.YES for c in FLAG_COLUMNS if form.get(field_id(r.row, c)) == rule.YES}
        if not any(entered.values()) and not flags:
            continue
        sheet[(r.row, rule.REFERENCE)] = r.reference
        sheet[(r.row, rule.HEARD_AS)] = r.heard_as
        sheet |= {(r.row, c): v for c, v in entered.items() if v}
        sheet |= {(r.row, c): v for c, v in flags.items()}
    return {rule.DECISIONS: sheet}


def _errors(problems: tuple[rule.Problem, ...], rows: list[FormRow]) -> dict[str, str]:
    """Each problem by the field of its cell; one with no field (the whole form) by the first."""
    fields = {
        rule.cell_name(rule.DECISIONS, r.row, c): field_id(r.row, c)
        for r in rows
        for c in (*TEXT_COLUMNS, *FLAG_COLUMNS)
    }
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
    values: dict[str, str],
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
        field_id=field_id,
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
        values = recorded_values(session, meeting, rows)
    return _page(visit, meeting, rows, values, {})


@pages.post("/meetings/{panel_id}/{day}/decisions", ADMINISTRATORS)
def enter(visit: Visit) -> Response:
    params = visit.request.path_params
    meeting = find_meeting(visit.app, params["panel_id"], params["day"])
    _begun(visit, meeting)
    form = dict(visit.form)
    with visit.exclusive():
        with visit.app.store.session() as session:
            rows = form_rows(visit, session, meeting)
            result = record_entered(
                visit.app,
                session,
                meeting.panel_id,
                meeting.starts_at,
                grid_of(rows, form),
                visit.actor,
            )
        if isinstance(result, tuple):
            typed = {k: v for k, v in form.items() if k != "csrf_token"}
            return _page(visit, meeting, rows, typed, _errors(result, rows), 400)
        sent = send_now(visit.app)
    day: date = meeting.starts_at.astimezone(visit.app.config.tz).date()
    return visit.redirect(
        f"/meetings/{meeting.panel_id}/{day.isoformat()}",
        "The decisions are recorded; the decision sheets follow as with a workbook." + sent,
    )
