"""The board: each upcoming meeting of each panel, how many of its cases stand where, and the
cases that need attention first; each meeting's full list is on its own pages.

A meeting can carry hundreds of cases (issue 15's benchmark puts 500 on one): a table of 500
rows is slow to build and poor to read, so the board summarises and the meeting's list pages.
Nothing is cached: every figure is read from the store when the page is asked for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, func, select, union_all
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.errors import NotFound
from pipeline.rules.completeness import DocumentView, missing_kinds
from pipeline.rules.identifiers import initials
from pipeline.rules.meetings import local_instant, meeting_at, upcoming
from pipeline.states import CaseState
from pipeline.store.models import Case, Document, ScreeningRequest, Slot
from pipeline.web.guard import Pages, Visit
from pipeline.web.render import STATE_COLOURS
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
# The order a person works through a meeting's cases: those waiting on the service or the
# referrer first, those decided last. Section 20 cases come before all of them.
ATTENTION = (
    CaseState.INCOMPLETE,
    CaseState.MORE_INFO,
    CaseState.COMPLETE,
    CaseState.HELD,
    CaseState.SCREENING,
    CaseState.APPROVED,
    CaseState.DECLINED,
    CaseState.DECIDED,
    CaseState.WITHDRAWN,
)
# Cases the board shows under each meeting; the rest are a link away.
FIRST_ROWS = 20
# Cases on each page of a meeting's full list.
PAGE_ROWS = 100


@dataclass(frozen=True)
class BoardRow:
    reference: str
    # The child's initials (the name stays on the case page).
    initials: str
    state: str
    # The state's GOV.UK tag colour, and what is still needed ("chronology, assessment").
    colour: str
    missing: str
    screening: str
    section20: bool
    attendance: str


@dataclass(frozen=True)
class BoardMeeting:
    panel_id: str
    panel_name: str
    starts_at: datetime
    # The meeting's day in the panel's time zone.
    day: date
    deadline: datetime
    # "3 days 4 hours left", or "passed" once the deadline has gone.
    countdown: str
    # How many cases stand in each state, in the order of ATTENTION; and how many in all.
    counts: tuple[tuple[str, int], ...]
    total: int
    section20: int
    # The cases that need attention first (at most FIRST_ROWS), or one page of the list.
    rows: tuple[BoardRow, ...]

    @property
    def path(self) -> str:
        """The meeting's own pages: every case listed for it."""
        return f"/board/{self.panel_id}/{self.day.isoformat()}"


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
    even when empty, in time order: each with its counts by state and its first FIRST_ROWS
    cases in the order of attention.

    Counted in the database and detailed for the shown rows only: a board of a thousand cases
    must not read every case (issue 15's goal: p95 ≤ 300 ms)."""
    tz = app.config.tz
    listed = (Case.meeting.is_not(None), Case.meeting > now, Case.state != CaseState.CLOSED)
    counts = _counts(session, listed)
    rows = _grouped(session, _first_rows(list(counts)))
    for panel in app.config.panels:
        for meeting in upcoming(panel, tz, now, per_panel):
            counts.setdefault((panel.id, meeting.starts_at), {})
    result = []
    for (panel_id, starts_at), states in sorted(counts.items(), key=lambda kv: kv[0][1]):
        panel = app.config.panel(panel_id)
        result.append(
            _meeting(app, panel, starts_at, now, states, tuple(rows.get((panel_id, starts_at), ())))
        )
    return result


def meeting_list(
    app: App, session: Session, now: datetime, panel: PanelConfig, day: date, page: int
) -> BoardMeeting:
    """Every case listed for `panel`'s meeting on `day` (in the panel's time zone), closed ones
    aside: its counts, and page `page` (from 1) of its cases in reference order."""
    tz = app.config.tz
    starts = local_instant(day, time(0), tz)
    listed = (
        Case.panel_id == panel.id,
        Case.meeting >= starts,
        Case.meeting < local_instant(day + timedelta(days=1), time(0), tz),
        Case.state != CaseState.CLOSED,
    )
    states: dict[CaseState, tuple[int, int]] = {}
    for found in _counts(session, listed).values():
        for state, (n, flagged) in found.items():
            had = states.get(state, (0, 0))
            states[state] = (had[0] + n, had[1] + flagged)
    query = (
        _columns()
        .where(*listed)
        .order_by(Case.meeting, Case.id)
        .offset((page - 1) * PAGE_ROWS)
        .limit(PAGE_ROWS)
    )
    rows = [row for grouped in _grouped(session, query).values() for row in grouped]
    return _meeting(app, panel, meeting_at(panel, day, tz).starts_at, now, states, tuple(rows))


def _meeting(
    app: App,
    panel: PanelConfig,
    starts_at: datetime,
    now: datetime,
    states: dict[CaseState, tuple[int, int]],
    rows: tuple[BoardRow, ...],
) -> BoardMeeting:
    tz = app.config.tz
    day = starts_at.astimezone(tz).date()
    deadline = meeting_at(panel, day, tz).deadline
    counts = tuple((s.value, states[s][0]) for s in ATTENTION if s in states)
    return BoardMeeting(
        panel_id=panel.id,
        panel_name=panel.name,
        starts_at=starts_at,
        day=day,
        deadline=deadline,
        countdown=countdown(deadline, now),
        counts=counts,
        total=sum(n for n, _ in states.values()),
        section20=sum(flagged for _, flagged in states.values()),
        rows=rows,
    )


def _counts(
    session: Session, listed: tuple[ColumnElement[bool], ...]
) -> dict[tuple[str, datetime], dict[CaseState, tuple[int, int]]]:
    """For each meeting of the cases `listed` selects: its cases in each state, and of those
    how many are Section 20 cases. One grouped query, whatever the number of cases."""
    query = (
        select(
            Case.panel_id,
            Case.meeting,
            Case.state,
            func.count(Case.id),
            func.sum(case((Case.section20, 1), else_=0)),
        )
        .where(*listed)
        .group_by(Case.panel_id, Case.meeting, Case.state)
    )
    found: dict[tuple[str, datetime], dict[CaseState, tuple[int, int]]] = defaultdict(dict)
    for panel_id, meeting, state, n, flagged in session.execute(query):
        found[(panel_id, meeting)][CaseState(state)] = (n, int(flagged or 0))
    return found


def _rank() -> ColumnElement[int]:
    """A state's place in ATTENTION. Plain strings: the mapping's keys are bound without the
    column's type, and a database driver may write an enum member by its name, not value."""
    return case(
        {state.value: n for n, state in enumerate(ATTENTION)},
        value=Case.state,
        else_=len(ATTENTION),
    )


def _columns() -> Select[Any]:
    """Plain columns, not whole cases: no document's parse results are loaded."""
    return select(
        Case.id,
        Case.reference,
        Case.panel_id,
        Case.meeting,
        Case.state,
        Case.section20,
        Case.genogram_required,
        Case.fields,
    )


def _first_rows(meetings: Collection[tuple[str, datetime]]) -> Select[Any] | None:
    """The first FIRST_ROWS cases of each of `meetings` (panel id, start) in the order of
    attention, in one query: each meeting's part is sorted and cut by the database (a LIMIT
    per meeting costs SQLite a quarter of numbering every case with a window function)."""
    rank = _rank()
    parts = [
        _columns()
        .add_columns(rank.label("rank"))
        .where(
            Case.panel_id == panel_id,
            Case.meeting == starts_at,
            Case.state != CaseState.CLOSED,
        )
        .order_by(Case.section20.desc(), rank, Case.id)
        .limit(FIRST_ROWS)
        .subquery()
        for panel_id, starts_at in meetings
    ]
    if not parts:
        return None
    every = union_all(*(select(part) for part in parts)).subquery()
    return select(every).order_by(
        every.c.meeting, every.c.section20.desc(), every.c.rank, every.c.id
    )


def _grouped(
    session: Session, query: Select[Any] | None
) -> dict[tuple[str, datetime], list[BoardRow]]:
    """The rows `query` selects, in its order, by meeting; with each case's documents, slot and
    screening requests read for those cases only."""
    if query is None:
        return {}
    cases = session.execute(query).all()
    ids = [c.id for c in cases]
    documents = _documents(session, ids)
    attendance = _attendance(session, ids)
    asked = _screening_asked(session, ids)
    found: dict[tuple[str, datetime], list[BoardRow]] = defaultdict(list)
    for row in cases:
        found[(row.panel_id, row.meeting)].append(
            _row(row, documents.get(row.id, []), attendance.get(row.id), asked.get(row.id))
        )
    return found


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
        colour=STATE_COLOURS.get(state.value, "grey"),
        missing=", ".join(kind.value.replace("_", " ") for kind in missing) or "Nothing",
        screening=screening,
        section20=case.section20,
        attendance=attendance or "No answer",
    )


def _documents(session: Session, ids: list[int]) -> dict[int, list[DocumentView]]:
    """The documents of the cases `ids`, as the completeness rule sees them (kind, status,
    superseded), by case id."""
    found: dict[int, list[DocumentView]] = defaultdict(list)
    if not ids:
        return found
    query = select(Document.case_id, Document.kind, Document.status, Document.superseded)
    for case_id, kind, status, superseded in session.execute(
        query.where(Document.case_id.in_(ids))
    ):
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


@pages.get("/board/{panel_id}/{day}", READERS)
def meeting_page(visit: Visit) -> Response:
    """Every case listed for one meeting, PAGE_ROWS at a time (`?page=2`)."""
    params = visit.request.path_params
    panel = _panel(visit.app, params["panel_id"])
    try:
        day = date.fromisoformat(params["day"])
    except ValueError:
        raise NotFound(
            f"There is no meeting on {params['day']!r}: give a date as 2026-12-08."
        ) from None
    page = _page_number(visit.request.query_params.get("page"))
    with visit.app.store.reading() as session:
        meeting = meeting_list(visit.app, session, visit.now, panel, day, page)
    pages_in_all = max(1, -(-meeting.total // PAGE_ROWS))
    if page > pages_in_all:
        raise NotFound(f"This meeting's list has {pages_in_all} page(s), not {page}.")
    first = (page - 1) * PAGE_ROWS + 1
    return visit.render(
        "board_meeting.html",
        meeting=meeting,
        page=page,
        pages_in_all=pages_in_all,
        first=first,
        last=first + len(meeting.rows) - 1,
    )


def _panel(app: App, panel_id: str) -> PanelConfig:
    for panel in app.config.panels:
        if panel.id == panel_id:
            return panel
    raise NotFound(f"There is no panel {panel_id!r}.")


def _page_number(text: str | None) -> int:
    """`?page=` as a number from 1; anything else is no such page."""
    if text is None:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise NotFound(f"There is no page {text!r}: pages are numbered from 1.")
    return int(text)
