"""R13: the administrator is chased on day 3 and day 6 after a meeting while decisions are missing.

Missing: a case the meeting's workbook listed (or, none sent, a case listed there or a review
due at it) that the meeting may still decide and has no decision recorded at it.
The rule (`rules.chase`) says which chases are due; this step reads the database and sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.mime.tokens import DECISIONS
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.wording import when
from pipeline.panel.digest import line
from pipeline.rules.chase import chases, days_left, in_window, to_chase
from pipeline.rules.meetings import meeting_stamp
from pipeline.rules.slots import is_listed
from pipeline.states import HEARD_UNDECIDED, CaseState
from pipeline.store.audit import audit
from pipeline.store.models import Case, Decision, MeetingWorkbook, Slot
from pipeline.store.reviews import reviews_at

# The chase's job key and outbox purpose: a reply in its thread is read as decisions.
PURPOSE = "decisions-chase:"


def undecided(app: App, session: Session, panel_id: str, meeting: datetime) -> list[Case]:
    """Every case the meeting may decide whose decision is not recorded yet: the cases the
    meeting's latest workbook lists, or (no workbook sent) the cases listed there and the
    reviews due at it; each still heard there (in a HEARD_UNDECIDED state on that meeting, a
    Section 20 emergency heard in screening included) or due for review at it."""
    panel = app.config.panel(panel_id)
    reviews = {r.case.reference: r.case for r in reviews_at(session, panel, app.config.tz, meeting)}
    listed = select(Case).where(
        Case.panel_id == panel_id,
        Case.meeting == meeting,
        Case.state.in_(HEARD_UNDECIDED),
    )
    unscreened = app.config.screening.unscreened
    presented = {
        c.reference: c
        for c in session.scalars(listed)
        if is_listed(CaseState(c.state), c.section20, unscreened)
    }
    latest = _latest_workbook(session, panel_id, meeting)
    references = (
        [str(r) for r in latest.references]
        if latest is not None
        else [*_in_slot_order(session, panel_id, meeting, presented), *reviews]
    )
    decided = set(
        session.scalars(
            select(Case.reference)
            .join(Decision, Decision.case_id == Case.id)
            .where(Decision.panel_id == panel_id, Decision.meeting == meeting)
        )
    )
    may_decide = presented | reviews
    return [
        may_decide[r] for r in dict.fromkeys(references) if r in may_decide and r not in decided
    ]


def _in_slot_order(
    session: Session, panel_id: str, meeting: datetime, cases: dict[str, Case]
) -> list[str]:
    slots = select(Slot).where(Slot.panel_id == panel_id, Slot.meeting == meeting)
    position = {slot.case_id: slot.position for slot in session.scalars(slots)}
    return sorted(cases, key=lambda r: (position.get(cases[r].id, 1_000_000), r))


def _recent_meetings(app: App, session: Session, now: datetime) -> list[tuple[str, datetime]]:
    """Meetings with timeslots that began within the sheets' window."""
    earliest = now - timedelta(days=app.config.decisions.sheet_days + 2)
    query = (
        select(Slot.panel_id, Slot.meeting)
        .where(Slot.meeting <= now, Slot.meeting >= earliest)
        .distinct()
        .order_by(Slot.panel_id, Slot.meeting)
    )
    days = app.config.decisions.sheet_days
    rows = session.execute(query)
    return [(p, m) for p, m in rows if in_window(m, now, app.config.tz, days)]


def chase_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one chase per meeting and chase day, while a decision is missing."""
    settings = app.config.decisions
    for panel_id, meeting in _recent_meetings(app, session, now):
        if not undecided(app, session, panel_id, meeting):
            continue
        stamp = meeting_stamp(app.config.tz, meeting)
        for chase in chases(meeting, app.config.tz, settings.chase_days, settings.sheet_days):
            key = f"{PURPOSE}{panel_id}:{stamp}:day{chase.day}"
            action = bind(chase_administrator, panel_id, meeting, chase.day, key)
            yield Job(key, chase.due_at, action, stale_after=chase.stale_after)


def _token(app: App, session: Session, panel_id: str, meeting: datetime) -> str:
    """The token of the meeting's latest workbook ("" if none was sent)."""
    latest = _latest_workbook(session, panel_id, meeting)
    return "" if latest is None else DECISIONS.token_for(app.signer.key, latest.nonce)


def _latest_workbook(session: Session, panel_id: str, meeting: datetime) -> MeetingWorkbook | None:
    query = select(MeetingWorkbook).where(
        MeetingWorkbook.panel_id == panel_id, MeetingWorkbook.meeting == meeting
    )
    return session.scalars(query.order_by(MeetingWorkbook.id.desc())).first()


def chase_administrator(
    app: App, session: Session, panel_id: str, meeting: datetime, day: int, key: str
) -> None:
    """Email the administrator which decisions are still missing, if any still are."""
    settings = app.config.decisions
    now = app.clock.now()
    [chase] = chases(meeting, app.config.tz, (day,), settings.sheet_days)
    cases = undecided(app, session, panel_id, meeting)
    if not to_chase([c.reference for c in cases], chase, now):
        return
    local_day = meeting.astimezone(app.config.tz).date()
    due = local_day + timedelta(days=settings.sheet_days)
    context = {
        "panel_name": app.config.panel(panel_id).name,
        "meeting": when(app.config.tz, meeting),
        "missing_cases": [asdict(line(c, local_day, "no decision recorded")) for c in cases],
        "days_left": days_left(meeting, now, app.config.tz, settings.sheet_days),
        "sheets_due": f"{due:%A} {due.day} {due:%B %Y}",
        "sheet_days": settings.sheet_days,
        "panel_address": app.config.mailbox.address,
        # The workbook's token: a reply to the chase with the filled workbook is read as one.
        "token": _token(app, session, panel_id, meeting),
    }
    item = enqueue(
        app, session, staff_draft(app, key, "decisions_chase", context, None, panel=panel_id)
    )
    audit(
        session,
        now,
        None,
        "decisions-chased",
        meeting=meeting_stamp(app.config.tz, meeting),
        day=day,
        missing=[c.reference for c in cases],
        outbox=item.id,
    )
