"""Records a filled decisions workbook (R13): read in the document worker, checked whole by
`rules.decisions`, and applied in one transaction, or refused whole with every problem by cell.

A corrected workbook replaces the meeting's earlier decisions for the cases it lists; each is
audited with the import that made it and whether it replaced one. The administrator is told
either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.tokens import DECISIONS
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.wording import when
from pipeline.rules import decisions as rule
from pipeline.rules.decisions import CaseDecision, Marker, Problem
from pipeline.states import HEARD_UNDECIDED, CaseState
from pipeline.store.audit import audit, checked_actor
from pipeline.store.lifecycle import move
from pipeline.store.models import Action, Case, Decision, DecisionImport, MeetingWorkbook, Message
from pipeline.store.reviews import reviews_at

log = logging.getLogger(__name__)
APPLIED, REFUSED = "applied", "refused"
# The source of decisions typed into the console's entry form (a workbook's is email or command).
ENTERED = "console"
# Outbox purposes of the emails telling the administrator how an import went: they carry the
# workbook's token, and a reply in their thread (a corrected workbook) is read as decisions.
REFUSED_PURPOSE, RECORDED_PURPOSE = "decisions-refused:", "decisions-recorded:"
# Where a problem with the whole file (not one cell) is reported.
WHOLE_FILE = "workbook"


@dataclass(frozen=True)
class Target:
    """The meeting a workbook decides, and the workbook we sent for it (if known)."""

    panel_id: str
    meeting: datetime
    workbook: MeetingWorkbook | None


def _target(
    app: App,
    session: Session,
    marker: Marker | Problem,
    meeting: datetime | None,
    workbook: MeetingWorkbook | None,
) -> Target | Problem:
    """The meeting from the file's marker, the token's workbook, or the --meeting override."""
    if isinstance(marker, Problem):
        if workbook is not None:
            return marker
        if meeting is None or len(app.config.panels) != 1:
            return marker
        return Target(app.config.panels[0].id, meeting, None)
    panels = {p.id for p in app.config.panels}
    if marker.panel_id not in panels:
        return Problem(
            rule.cell_name(rule.MEETING, 1, 2), "the workbook is for a panel not configured here"
        )
    sent = session.get(MeetingWorkbook, marker.workbook_id)
    genuine = sent is not None and (sent.panel_id, sent.meeting) == (
        marker.panel_id,
        marker.meeting,
    )
    # An email's token names one workbook: the file attached must be for its meeting.
    if workbook is not None and (
        not genuine or (marker.panel_id, marker.meeting) != (workbook.panel_id, workbook.meeting)
    ):
        return Problem(
            rule.cell_name(rule.MEETING, 2, 2),
            "the attached workbook is not the one sent for the meeting this email answers",
        )
    if not genuine and meeting is None:
        return Problem(
            rule.cell_name(rule.MEETING, 3, 2),
            "the meeting marker names no workbook we sent: use the workbook we sent",
        )
    return Target(marker.panel_id, meeting or marker.meeting, sent if genuine else None)


def _meeting_facts(app: App, session: Session, target: Target) -> rule.Meeting:
    """Which cases the meeting may decide now, and why any the workbook listed may not."""
    # Imported here: intake loads this module for every email, and the agenda brings the Word,
    # Excel and PDF libraries, needed only when a decisions workbook comes back.
    from pipeline.outputs.agenda import build_agenda

    decidable: dict[str, str] = {}
    agenda = build_agenda(app, session, target.panel_id, target.meeting)
    for reference in agenda.references:
        decidable[reference] = rule.PRESENTED
    earlier = _earlier(session, target)
    closed = set()
    for decision in earlier.values():
        decidable[decision.case.reference] = decision.heard_as
        if decision.case.state == CaseState.CLOSED:
            closed.add(decision.case.reference)
    panel = app.config.panel(target.panel_id)
    for review in reviews_at(session, panel, app.config.tz, target.meeting):
        decidable.setdefault(review.case.reference, rule.REVIEW)
    prefilled = _prefilled(
        session, target, {r for r, how in decidable.items() if how == rule.REVIEW}
    )
    listed = target.workbook.references if target.workbook is not None else []
    not_heard = {
        str(ref): _why_not_heard(app, session, str(ref), target)
        for ref in listed
        if str(ref) not in decidable
    }
    return rule.Meeting(decidable, not_heard, frozenset(closed), prefilled)


def _prefilled(session: Session, target: Target, reviews: set[str]) -> frozenset[tuple[str, date]]:
    """The open actions a review's workbook row was pre-filled with: those of its decision
    before this meeting (a corrected workbook still carries them as first pre-filled)."""
    found: set[tuple[str, date]] = set()
    for reference in reviews:
        query = (
            select(Decision)
            .join(Case, Case.id == Decision.case_id)
            .where(Case.reference == reference, Decision.meeting < target.meeting)
            .order_by(Decision.meeting.desc(), Decision.id.desc())
        )
        before = session.scalars(query).first()
        if before is not None:
            found |= {(reference, a.due) for a in before.actions if a.done_at is None}
    return frozenset(found)


def _why_not_heard(app: App, session: Session, reference: str, target: Target) -> str:
    case = session.scalar(select(Case).where(Case.reference == reference))
    if case is None:
        return f"{reference} is not a case we know"
    if case.meeting is not None and case.meeting != target.meeting:
        return (
            f"{reference} was not heard at this meeting: it moved to the meeting of "
            f"{when(app.config.tz, case.meeting)}"
        )
    return f"{reference} was not heard at this meeting: it is now {case.state}"


def _earlier(session: Session, target: Target) -> dict[int, Decision]:
    """This meeting's decisions already recorded (by an earlier workbook), by case id."""
    query = select(Decision).where(
        Decision.panel_id == target.panel_id, Decision.meeting == target.meeting
    )
    return {d.case_id: d for d in session.scalars(query)}


def record_workbook(
    app: App,
    session: Session,
    data: bytes,
    source: str,
    message_row: Message | None = None,
    meeting: datetime | None = None,
    workbook: MeetingWorkbook | None = None,
) -> DecisionImport:
    """Read, check and apply (or refuse) one filled workbook; the administrator is told which."""
    now = app.clock.now()
    _, stored = app.files.put("decisions", data, ".xlsx")
    grid = app.documents.read_grid(data)
    target: Target | Problem
    if isinstance(grid, str):
        target = Problem(WHOLE_FILE, grid)
        found: tuple[CaseDecision, ...] | tuple[Problem, ...] = (target,)
    else:
        cells = {
            sheet: {(row, column): value for row, column, value in values}
            for sheet, values in grid.items()
        }
        target = _target(app, session, rule.read_marker(cells), meeting, workbook)
        found = (
            (target,) if isinstance(target, Problem) else check_grid(app, session, cells, target)
        )
    row = _new_import(
        session,
        DecisionImport(
            panel_id=target.panel_id if isinstance(target, Target) else "unknown",
            # A file that names no meeting is kept against the moment it came.
            meeting=target.meeting if isinstance(target, Target) else now,
            workbook_id=(
                target.workbook.id if isinstance(target, Target) and target.workbook else None
            ),
            source=source,
            message_row_id=message_row.id if message_row is not None else None,
        ),
        data,
        stored,
        now,
    )
    problems = [p for p in found if isinstance(p, Problem)]
    if problems or not isinstance(target, Target):
        _refuse(app, session, row, problems, target)
        return row
    decisions = [d for d in found if isinstance(d, CaseDecision)]
    _apply(app, session, row, target, decisions)
    return row


def _new_import(
    session: Session, row: DecisionImport, data: bytes, stored: str, now: datetime
) -> DecisionImport:
    """`row` (where the decisions came from) recorded with the file they came in: refused until
    they are applied."""
    row.sha256 = hashlib.sha256(data).hexdigest()
    row.stored_path = stored
    row.status = REFUSED
    row.problems = []
    row.imported_at = now
    session.add(row)
    session.flush()
    return row


def check_grid(
    app: App, session: Session, cells: rule.Grid, target: Target
) -> tuple[CaseDecision, ...] | tuple[Problem, ...]:
    """A meeting's decisions as a grid (a workbook read, or the console's entry form laid out
    as one), checked whole against what the meeting may decide now."""
    facts = _meeting_facts(app, session, target)
    day = target.meeting.astimezone(app.config.tz).date()
    return rule.validate(cells, facts, day, app.config.decisions.agencies)


def decidable(app: App, session: Session, panel_id: str, meeting: datetime) -> rule.Meeting:
    """What a meeting may decide now: the rows of the console's entry form."""
    return _meeting_facts(app, session, Target(panel_id, meeting, None))


def record_entered(
    app: App, session: Session, panel_id: str, meeting: datetime, cells: rule.Grid, actor: str
) -> DecisionImport | tuple[Problem, ...]:
    """Decisions typed into the console's form, laid out as the workbook's Decisions sheet
    (and its Actions sheet, one row per action line): checked by the same rules and applied
    the same way as a workbook; or, with any problem, nothing recorded and every problem
    returned by cell (the form shows each by its field)."""
    by = checked_actor(actor)
    target = Target(panel_id, meeting, None)
    found = check_grid(app, session, cells, target)
    problems = tuple(p for p in found if isinstance(p, Problem))
    if problems:
        return problems
    now = app.clock.now()
    # What was entered is kept as the import's file, as a workbook's bytes are.
    data = json.dumps(
        {
            sheet: sorted([r, c, str(v)] for (r, c), v in grid.items())
            for sheet, grid in cells.items()
        },
        sort_keys=True,
    ).encode()
    _, stored = app.files.put("decisions", data, ".json")
    row = _new_import(
        session,
        DecisionImport(panel_id=panel_id, meeting=meeting, source=ENTERED),
        data,
        stored,
        now,
    )
    audit(session, now, None, "decisions-entered", import_id=row.id, by=by)
    _apply(app, session, row, target, [d for d in found if isinstance(d, CaseDecision)])
    return row


def _refuse(
    app: App, session: Session, row: DecisionImport, problems: list[Problem], target: Any
) -> None:
    row.status = REFUSED
    row.problems = [{"cell": p.cell, "problem": p.problem} for p in problems]
    audit(
        session,
        app.clock.now(),
        None,
        "decisions-refused",
        import_id=row.id,
        problems=len(problems),
    )
    log.warning("decisions workbook refused (import %d): %d problems", row.id, len(problems))
    context = _context(app, row, target) | {"problems": [str(p) for p in problems]}
    purpose = f"{REFUSED_PURPOSE}{row.id}"
    enqueue(
        app,
        session,
        staff_draft(app, purpose, "decisions_refused", context, None, panel=_panel_of(target)),
    )


def _panel_of(target: Any) -> str | None:
    """The panel a workbook's meeting is of; None when the workbook named no meeting we know."""
    return target.panel_id if isinstance(target, Target) else None


def _context(app: App, row: DecisionImport, target: Any) -> dict[str, Any]:
    meeting = (
        when(app.config.tz, target.meeting) if isinstance(target, Target) else "an unknown meeting"
    )
    return {
        "panel_name": app.config.panel(target.panel_id).name
        if isinstance(target, Target)
        else app.config.panels[0].name,
        "meeting": meeting,
        "import_id": row.id,
        "source": row.source,
        "administrator": app.config.people_of(_panel_of(target)).administrator.name,
        "panel_address": app.config.mailbox.address,
        "sheet_days": app.config.decisions.sheet_days,
        # The workbook's token, so that a reply with a corrected workbook is read as one.
        "token": DECISIONS.token_for(app.signer.key, target.workbook.nonce)
        if isinstance(target, Target) and target.workbook is not None
        else "",
    }


def _apply(
    app: App, session: Session, row: DecisionImport, target: Target, decisions: list[CaseDecision]
) -> None:
    """Replace the meeting's decisions for the listed cases, move their states, audit each."""
    now = app.clock.now()
    earlier = _earlier(session, target)
    lines = []
    for made in decisions:
        case = session.scalars(select(Case).where(Case.reference == made.reference)).one()
        old = earlier.get(case.id)
        decision = _store(session, case, target, row, made, old, now)
        _move(case, made)
        audit(
            session,
            now,
            case,
            "decision-recorded",
            import_id=row.id,
            decision=decision.id,
            replaced=old is not None,
            heard_as=made.heard_as,
            outcome=made.outcome.name,
            actions=len(made.actions),
        )
        lines.append(_line(made, old is not None))
    row.status = APPLIED
    log.info("decisions workbook applied (import %d): %d cases", row.id, len(decisions))
    context = _context(app, row, target) | {"recorded": lines}
    purpose = f"{RECORDED_PURPOSE}{row.id}"
    enqueue(
        app,
        session,
        staff_draft(app, purpose, "decisions_recorded", context, None, panel=_panel_of(target)),
    )


def _store(
    session: Session,
    case: Case,
    target: Target,
    row: DecisionImport,
    made: CaseDecision,
    old: Decision | None,
    now: datetime,
) -> Decision:
    """The case's decision at this meeting, written over an earlier one (its id kept, so what
    was made from it, such as a decision sheet, is made again from the new version)."""
    decision = old or Decision(case_id=case.id, panel_id=target.panel_id, meeting=target.meeting)
    if old is None:
        session.add(decision)
    decision.import_id = row.id
    decision.heard_as = made.heard_as
    decision.outcome = made.outcome.value
    decision.lead_name = made.lead_name
    decision.lead_agency = made.lead_agency
    decision.lead_email = made.lead_email
    decision.review_date = made.review_date
    decision.no_further_review = made.no_further_review
    decision.larp = made.larp
    decision.larp_note = made.larp_note
    decision.final = made.final
    decision.notes = made.notes
    decision.recorded_at = now
    decision.actions = [
        Action(
            case_id=case.id,
            position=n,
            text=line.text,
            owner=line.owner,
            agency=line.agency,
            due=line.due,
            done_at=now if line.done else None,
        )
        for n, line in enumerate(made.actions, start=1)
    ]
    session.flush()
    return decision


def _move(case: Case, made: CaseDecision) -> None:
    # A Section 20 emergency (or a case listed unscreened) is heard before screening ends:
    # the panel's decision settles it all the same.
    if made.heard_as == rule.PRESENTED and case.state in HEARD_UNDECIDED:
        move(case, CaseState.DECIDED)
    if made.closes and case.state == CaseState.DECIDED:
        move(case, CaseState.CLOSED)


def _line(made: CaseDecision, replaced: bool) -> dict[str, Any]:
    return {
        "reference": made.reference,
        "heard_as": made.heard_as,
        "outcome": made.outcome.value,
        "review_date": f"{made.review_date:%d/%m/%Y}" if made.review_date else "",
        "actions": len(made.actions),
        "closes": made.closes,
        "larp": made.larp,
        "replaced": replaced,
    }
