"""The tick's screening work: requests for cases ready to screen, reminders to managers who
have not answered, and the agenda's reminder for cases still unscreened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.panel.screening.queries import open_requests, ready_for_screening, request_count
from pipeline.panel.screening.requests import send_reminder, send_requests
from pipeline.states import MAY_BE_READY, CaseState
from pipeline.store.models import Case, ScreeningRequest


def screening_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """Requests for cases ready to screen; one reminder per unanswered request."""
    for case in session.scalars(select(Case).where(Case.state.in_(MAY_BE_READY))):
        if ready_for_screening(session, case):
            # The counts make a new key for each round: re-screening after more information.
            rounds = f"{request_count(session, case)}.{len(case.documents)}"
            yield Job(f"screen:case:{case.id}:{rounds}", now, bind(send_requests, case.id), case.id)
    wait = timedelta(hours=app.config.screening.reminder_hours)
    waiting = session.execute(
        select(ScreeningRequest, Case)
        .join(Case, Case.id == ScreeningRequest.case_id)
        .where(ScreeningRequest.used_at.is_(None), Case.state == CaseState.SCREENING)
    )
    for request, case in waiting:
        yield Job(
            f"screen-reminder:{request.id}",
            request.sent_at + wait,
            bind(send_reminder, request.id),
            case.id,
            # After the meeting has started a reminder is pointless.
            stale_after=case.meeting,
        )


def remind_unscreened(app: App, session: Session, panel_id: str, starts_at: datetime) -> None:
    """R9: a case still unscreened when the agenda is built brings its managers a reminder."""
    query = select(Case).where(
        Case.panel_id == panel_id, Case.meeting == starts_at, Case.state == CaseState.SCREENING
    )
    for case in session.scalars(query):
        for request in open_requests(session, case):
            send_reminder(app, session, request.id, occasion=":agenda")
