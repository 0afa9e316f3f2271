"""The board: each upcoming meeting of each panel with its cases, and where each stands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from pipeline.app import App
from pipeline.rules.completeness import DocumentView, missing_kinds
from pipeline.rules.identifiers import initials
from pipeline.rules.meetings import meeting_at, upcoming
from pipeline.states import CaseState
from pipeline.store.models import Case, Document, ScreeningRequest, Slot
from pipeline.web.guard import Pages, Visit
from pipeline.web.users import EVERYONE, READERS, Role

pages = Pages()

# What the screening column says for a case in each state (R9).
SCREENING = {
    CaseState.INCOMPLETE: "Not yet: documents missing",
    CaseState.COMPLETE: "Not yet sent",
    CaseState.SCREENING: "Waiting for an answer",
    CaseState.MORE_INFO: "More information asked",
    CaseState.APPROVED: "Approved",
    CaseState.DECLINED: "Declined",
}
# Where each role starts.
HOME = {
    Role.ADMINISTRATOR: "/board",
    Role.CHAIR: "/board",
    Role.SERVICE_MANAGER: "/screening",
    Role.MEMBER: "/packs",
}


@dataclass(frozen=True)
class BoardRow:
    reference: str
    # The child's initials (the name stays on the case page).
    initials: str
    state: str
    missing: tuple[str, ...]
    screening: str
    section20: bool
    attendance: str | None


@dataclass(frozen=True)
class BoardMeeting:
    panel_id: str
    panel_name: str
    starts_at: datetime
    deadline: datetime
    # "3 days 4 hours left", or "passed" once the deadline has gone.
    countdown: str
    rows: tuple[BoardRow, ...]


def countdown(deadline: datetime, now: datetime) -> str:
    left = deadline - now
    if left.total_seconds() <= 0:
        return "Deadline passed"
    days, hours = left.days, left.seconds // 3600
    if days:
        return f"{days} day{'s' * (days != 1)} {hours} hour{'s' * (hours != 1)} left"
    minutes = left.seconds % 3600 // 60
    return f"{hours} hour{'s' * (hours != 1)} {minutes} minute{'s' * (minutes != 1)} left"


def board(app: App, session: Session, now: datetime, per_panel: int = 2) -> list[BoardMeeting]:
    """Every meeting still to come that has cases, and each panel's next `per_panel` meetings
    even when empty, in time order.

    Plain columns, not whole cases: a board of a thousand cases must not load every
    document's parse results (issue 15's goal: p95 ≤ 300 ms)."""
    tz = app.config.tz
    listed = (Case.meeting.is_not(None), Case.meeting > now, Case.state != CaseState.CLOSED)
    cases = session.execute(
        select(
            Case.id,
            Case.reference,
            Case.panel_id,
            Case.meeting,
            Case.state,
            Case.section20,
            Case.genogram_required,
            Case.fields,
        )
        .where(*listed)
        .order_by(Case.meeting, Case.id)
    ).all()
    ids = [c.id for c in cases]
    documents = _documents(session, listed)
    attendance = _attendance(session, ids)
    asked = _screening_asked(session, ids)
    by_meeting: dict[tuple[str, datetime], list[BoardRow]] = defaultdict(list)
    for panel in app.config.panels:
        for meeting in upcoming(panel, tz, now, per_panel):
            by_meeting[(panel.id, meeting.starts_at)] = []
    for case in cases:
        row = _row(case, documents.get(case.id, []), attendance.get(case.id), asked.get(case.id))
        by_meeting[(case.panel_id, case.meeting)].append(row)
    result = []
    for (panel_id, starts_at), rows in sorted(by_meeting.items(), key=lambda kv: kv[0][1]):
        panel = app.config.panel(panel_id)
        deadline = meeting_at(panel, starts_at.astimezone(tz).date(), tz).deadline
        result.append(
            BoardMeeting(
                panel_id, panel.name, starts_at, deadline, countdown(deadline, now), tuple(rows)
            )
        )
    return result


def _row(
    case: Row[Any], documents: list[DocumentView], attendance: str | None, asked: int | None
) -> BoardRow:
    fields = case.fields or {}
    name = fields.get("child_name")
    state = CaseState(case.state)
    screening = SCREENING.get(state, "—")
    if state == CaseState.SCREENING and asked:
        screening = f"Asked {asked} Service Manager(s)"
    missing = missing_kinds(documents, case.genogram_required, fields.get("request_types") or [])
    return BoardRow(
        reference=case.reference,
        initials=initials(name if isinstance(name, str) else None),
        state=state.value,
        missing=tuple(kind.value for kind in missing),
        screening=screening,
        section20=case.section20,
        attendance=attendance,
    )


def _documents(
    session: Session, listed: tuple[ColumnElement[bool], ...]
) -> dict[int, list[DocumentView]]:
    """The documents of the cases `listed` selects, as the completeness rule sees them (kind,
    status, superseded), by case id."""
    found: dict[int, list[DocumentView]] = defaultdict(list)
    query = (
        select(Document.case_id, Document.kind, Document.status, Document.superseded)
        .join(Case, Case.id == Document.case_id)
        .where(*listed)
    )
    for case_id, kind, status, superseded in session.execute(query):
        found[case_id].append(DocumentView(kind, status, superseded))
    return found


def _attendance(session: Session, ids: list[int]) -> dict[int, str | None]:
    """Each case's answer about attending its meeting, for the cases that have a slot."""
    if not ids:
        return {}
    query = select(Slot.case_id, Slot.attendance).join(
        Case, (Case.id == Slot.case_id) & (Case.meeting == Slot.meeting)
    )
    rows = session.execute(query.where(Slot.case_id.in_(ids)))
    return {case_id: answer for case_id, answer in rows}


def _screening_asked(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(ScreeningRequest.case_id, func.count(ScreeningRequest.id))
        .where(ScreeningRequest.case_id.in_(ids))
        .group_by(ScreeningRequest.case_id)
    )
    return {case_id: count for case_id, count in session.execute(query)}


@pages.get("/", EVERYONE)
def home(visit: Visit) -> Response:
    return RedirectResponse(HOME[visit.user.role], status_code=303)


@pages.get("/board", READERS, nav="Board")
def board_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        meetings = board(visit.app, session, visit.now)
    return visit.render("board.html", meetings=meetings)
