"""Which cases await screening, their requests, and who may screen: read from the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Person
from pipeline.rules.screening import ready_to_screen
from pipeline.states import MAY_BE_READY, CaseState
from pipeline.store.facts import missing_for
from pipeline.store.models import Case, ScreeningRequest


def _decided_at(session: Session, case: Case) -> datetime | None:
    return session.scalar(
        select(func.max(ScreeningRequest.used_at)).where(
            ScreeningRequest.case_id == case.id, ScreeningRequest.decision.is_not(None)
        )
    )


def ready_for_screening(session: Session, case: Case) -> bool:
    """Complete, or asked for more information and since sent documents that complete it."""
    # The rule decides; this only spares reading the rest's documents and requests.
    if case.state not in MAY_BE_READY:
        return False
    asked = _decided_at(session, case) if case.state == CaseState.MORE_INFO else None
    return ready_to_screen(
        case.state, missing_for(case), asked, (d.created_at for d in case.documents)
    )


def request_count(session: Session, case: Case) -> int:
    query = select(func.count(ScreeningRequest.id)).where(ScreeningRequest.case_id == case.id)
    return session.scalar(query) or 0


def open_requests(session: Session, case: Case) -> list[ScreeningRequest]:
    return list(
        session.scalars(
            select(ScreeningRequest)
            .where(ScreeningRequest.case_id == case.id, ScreeningRequest.used_at.is_(None))
            .order_by(ScreeningRequest.id)
        )
    )


def manager(app: App, panel_id: str, email: str) -> Person | None:
    """The panel's screener (a Service Manager or its CAF co-ordinator) with this address, if
    they still are one."""
    screeners = app.config.people_of(panel_id).screeners
    return next((m for m in screeners if m.email.lower() == email.lower()), None)
