"""R13 recording, the reviewers' cases: a Section 20 emergency heard while incomplete, a case
moved away after the workbook was sent, a review action kept open as pre-filled, a late
correction, a review carried to the next meeting, an import before the meeting or replayed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.jobs import run_due
from pipeline.outputs.agenda import build_agenda
from pipeline.panel.decisions.chase import undecided
from pipeline.panel.decisions.record import record_workbook
from pipeline.panel.decisions.sheets import pending
from pipeline.panel.decisions.workbook import workbook_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case, DecisionImport, MeetingWorkbook
from pipeline.store.reviews import reviews_at
from tests.decisions_helpers import MEETING, fill, make_workbook, seeded

AFTER = MEETING + timedelta(hours=4)
JANUARY = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
LEAD: dict[str, Any] = {
    "Outcome": "Accepted: multi-agency support agreed",
    "Lead Professional name": "Jo Lead",
    "Lead Professional email": "jo.lead@school.example.org",
    "Review date": date(2027, 2, 2),
}
DECIDED: dict[str, dict[str, Any]] = {
    "MASP-2026-0001": LEAD,
    "MASP-2026-0002": {"Outcome": "Advice and guidance given", "Review date": date(2027, 3, 2)},
    "MASP-2026-0004": {
        "Outcome": "Closed: no further panel involvement",
        "Final review (closes the case)": "Yes",
    },
}


def at(app: App, moment: datetime) -> App:
    return replace(app, clock=Clock.frozen_at(moment))


def record(app: App, data: bytes, sent: MeetingWorkbook | None) -> DecisionImport:
    with app.store.session() as session:
        workbook = session.get(MeetingWorkbook, sent.id) if sent is not None else None
        row = record_workbook(app, session, data, "email", workbook=workbook)
        session.flush()
        session.expunge(row)
        return row


def state_of(app: App, reference: str) -> str:
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        return str(case.state)


def test_an_incomplete_section20_case_heard_and_decided_gets_its_sheet(tmp_path: Path) -> None:
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == "MASP-2026-0002")).one()
        # An emergency whose chronology is still missing: heard all the same (R7).
        case.state, case.section20 = CaseState.INCOMPLETE, True
    data, sent = make_workbook(app)
    assert "MASP-2026-0002" in sent.references
    app = at(app, AFTER)
    row = record(app, fill(data, DECIDED), sent)
    assert row.status == "applied", row.problems
    assert state_of(app, "MASP-2026-0002") == "decided"
    with app.store.session() as session:
        due = [p.decision.case.reference for p in pending(app, session, app.clock.now())]
    assert "MASP-2026-0002" in due


def test_a_case_moved_after_the_workbook_was_sent_is_skipped_when_left_blank(
    tmp_path: Path,
) -> None:
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    data, sent = make_workbook(app)
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == "MASP-2026-0002")).one()
        case.meeting = JANUARY  # not heard: moved on to January
    app = at(app, AFTER)
    filled = {k: v for k, v in DECIDED.items() if k != "MASP-2026-0002"}
    row = record(app, fill(data, filled), sent)
    assert row.status == "applied", row.problems
    assert state_of(app, "MASP-2026-0002") == "approved"
    assert state_of(app, "MASP-2026-0001") == "decided"


def test_a_review_action_kept_open_as_prefilled_and_a_late_correction(tmp_path: Path) -> None:
    """The review's action due 30 November is pre-filled and kept open (Done = No); the
    workbook is recorded, and a correction a week after the meeting too, with a review date
    between the meeting and that day."""
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    data, sent = make_workbook(app)
    kept_open = DECIDED | {"MASP-2026-0004": LEAD}
    row = record(at(app, AFTER), fill(data, kept_open, done="No"), sent)
    assert row.status == "applied", row.problems
    late = at(app, MEETING + timedelta(days=7))
    corrected = kept_open | {"MASP-2026-0001": LEAD | {"Review date": date(2026, 12, 10)}}
    again = record(late, fill(data, corrected, done="No"), sent)
    assert again.status == "applied", again.problems


def test_a_review_not_decided_at_its_meeting_comes_back_and_is_chased(tmp_path: Path) -> None:
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    panel = app.config.panel("masp")
    with app.store.session() as session:
        assert [r.case.reference for r in reviews_at(session, panel, app.config.tz, MEETING)]
    data, sent = make_workbook(app)
    app = at(app, AFTER)
    # December's workbook never comes back (not reached, lost): the chase counts the review
    # with the cases presented, and the review carries to January's agenda.
    with app.store.session() as session:
        missing = [c.reference for c in undecided(app, session, "masp", MEETING)]
        later = [r.case.reference for r in reviews_at(session, panel, app.config.tz, JANUARY)]
        agenda = build_agenda(app, session, "masp", JANUARY)
    assert missing == ["MASP-2026-0001", "MASP-2026-0002", "MASP-2026-0004"]
    assert later == ["MASP-2026-0004"], "the review vanished from every later agenda"
    assert any(ref == "MASP-2026-0004" for _text, ref in agenda.follow_ups)
    # Decided (late) at December's meeting, it is chased no more and leaves January's agenda.
    partial = DECIDED | {"MASP-2026-0004": LEAD}
    assert record(app, fill(data, partial, done="No"), sent).status == "applied"
    with app.store.session() as session:
        assert undecided(app, session, "masp", MEETING) == []
        assert [r.case.reference for r in reviews_at(session, panel, app.config.tz, JANUARY)] == []


def test_a_section20_case_heard_in_screening_is_chased(tmp_path: Path) -> None:
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == "MASP-2026-0002")).one()
        case.state, case.section20 = CaseState.SCREENING, True
    app = at(app, AFTER)
    with app.store.session() as session:
        missing = [c.reference for c in undecided(app, session, "masp", MEETING)]
    assert "MASP-2026-0002" in missing and "MASP-2026-0004" in missing


def test_a_workbook_missed_while_the_service_was_down_goes_after_the_meeting(
    tmp_path: Path,
) -> None:
    """Down from before the pack until after the meeting began: the workbook still goes, once,
    until the sheets' due day; after that day, never."""
    app = seeded(tmp_path, now=MEETING + timedelta(hours=2))
    run_due(app, (workbook_jobs,))
    run_due(at(app, MEETING + timedelta(days=1)), (workbook_jobs,))
    with app.store.session() as session:
        [sent] = session.scalars(select(MeetingWorkbook)).all()
        assert sent.meeting == MEETING and "MASP-2026-0001" in sent.references
    (tmp_path / "late").mkdir()
    late = seeded(tmp_path / "late", now=MEETING + timedelta(days=9))
    run_due(late, (workbook_jobs,))
    with late.store.session() as session:
        assert [w.meeting for w in session.scalars(select(MeetingWorkbook))] == []
