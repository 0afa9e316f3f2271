"""SPEC §7 after the meeting: a decided case under review is not purged while it is alive.

Decisions, decision sheets, follow-ups and a review date still to come count as activity: a case
heard long ago, reviewed every few months, keeps its files until `working_copies_days` after
the last of them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline.intake.poll import poll
from pipeline.states import CaseState, Outcome
from pipeline.store.models import Case, Decision, DecisionSheet, FollowUp, Slot
from tests.decisions_helpers import applied_import
from tests.helpers import drop
from tests.panel.test_retention import FIRST, KEEP, T0, at, purge, referral

MEETING = T0 + timedelta(days=20)


def _decided(folder: Path, review: date | None, sheet_at: datetime | None = None) -> None:
    """A referral heard at MEETING, its decision recorded the next day (and its sheet)."""
    app = at(folder, T0)
    drop(app, referral(FIRST), T0)
    poll(app)
    recorded = MEETING + timedelta(days=1)
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        case.state, case.meeting = CaseState.DECIDED, MEETING
        session.add(
            Slot(
                case_id=case.id,
                panel_id=case.panel_id,
                meeting=MEETING,
                position=1,
                starts_at=MEETING,
                ends_at=MEETING + timedelta(minutes=30),
            )
        )
        imported = applied_import(session, MEETING, recorded, case.panel_id)
        decision = Decision(
            case_id=case.id,
            panel_id=case.panel_id,
            meeting=MEETING,
            import_id=imported.id,
            outcome=Outcome.ACCEPTED.value,
            review_date=review,
            no_further_review=review is None,
            recorded_at=recorded,
        )
        session.add(decision)
        session.flush()
        if sheet_at is not None:
            session.add(
                DecisionSheet(
                    case_id=case.id,
                    decision_id=decision.id,
                    inputs_sha256="1" * 64,
                    docx_path="decisions/x.docx",
                    created_at=sheet_at,
                    sent_at=sheet_at,
                )
            )
            session.add(
                FollowUp(
                    case_id=case.id,
                    decision_id=decision.id,
                    lead_email="lead@example.org",
                    nonce="f" * 32,
                    due_at=sheet_at + timedelta(days=84),
                )
            )
    app.close()


def test_a_review_date_still_to_come_keeps_a_decided_case(tmp_path: Path) -> None:
    review = (MEETING + timedelta(days=KEEP + 100)).date()
    _decided(tmp_path, review)
    app = at(tmp_path, MEETING + timedelta(days=KEEP + 2))
    assert purge(app) == []
    app.close()
    app = at(tmp_path, datetime.combine(review, MEETING.timetz()) + timedelta(days=KEEP + 2))
    assert purge(app) == ["purge:case:1"]
    app.close()


def test_a_sheet_and_follow_up_after_the_meeting_count_as_activity(tmp_path: Path) -> None:
    sheet_at = MEETING + timedelta(days=30)
    _decided(tmp_path, None, sheet_at)
    # The follow-up is due 84 days after the sheet: the case lives until that long after it.
    app = at(tmp_path, sheet_at + timedelta(days=KEEP + 2))
    assert purge(app) == []
    app.close()
    app = at(tmp_path, sheet_at + timedelta(days=84 + KEEP + 2))
    assert purge(app) == ["purge:case:1"]
    app.close()
