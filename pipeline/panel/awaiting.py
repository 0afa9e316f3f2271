"""Cases still waiting for something from their referrer before a deadline (R6, R8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import Kind
from pipeline.outbox.wording import case_context
from pipeline.rules.awaiting import Waiting
from pipeline.rules.meetings import Meeting, held_meeting
from pipeline.states import AWAITING, CaseState, Verdict
from pipeline.store.models import Case, ScreeningRequest


def case_meeting(app: App, case: Case) -> Meeting | None:
    """The meeting the case is listed for, with its deadline, or None if it has none.

    A meeting no longer held (cancelled, or its time changed) is None too: its deadline means
    nothing now, so no reminder or cut-off is due for it; `unheard` moves the case on.
    """
    if case.meeting is None:
        return None
    return held_meeting(app.config.panel(case.panel_id), app.config.tz, case.meeting)


def awaiting_cases(session: Session) -> list[Case]:
    query = select(Case).where(Case.state.in_(AWAITING), Case.meeting.is_not(None))
    return list(session.scalars(query.order_by(Case.id)))


def waiting(case: Case) -> Waiting:
    """The case's facts as the reminder and cut-off rules read them."""
    return Waiting(case.state, case.referrer_email, case.section20)


def _requested_info(session: Session, case: Case) -> str:
    """What the Service Manager asked for, when the case waits for more information."""
    if case.state != CaseState.MORE_INFO:
        return ""
    reason = session.scalar(
        select(ScreeningRequest.reason)
        .where(ScreeningRequest.case_id == case.id, ScreeningRequest.decision == Verdict.MORE_INFO)
        .order_by(ScreeningRequest.id.desc())
    )
    return reason or ""


def referrer_context(app: App, session: Session, case: Case, missing: list[Kind]) -> dict[str, Any]:
    """What a referrer-facing reminder or deferral shows: the case, plus any screening request."""
    return case_context(app, case, missing) | {
        "more_info": case.state == CaseState.MORE_INFO,
        "requested": _requested_info(session, case),
    }
