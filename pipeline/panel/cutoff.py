"""R6: at the deadline, a case still waiting moves to the next meeting and its referrer is told.

`rules.cutoff` decides whether the case moves and where to; this step moves it, flags and
audits it, and queues the referrer's email.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outbox.wording import when
from pipeline.panel.awaiting import (
    awaiting_cases,
    case_meeting,
    referrer_context,
    waiting,
)
from pipeline.rules.cutoff import deferral
from pipeline.rules.meetings import meeting_stamp
from pipeline.store.audit import audit
from pipeline.store.facts import refresh_state
from pipeline.store.models import Case


def cutoff_key(app: App, case_id: int, starts_at: datetime) -> str:
    """The unique key of a case's cut-off at one meeting."""
    return f"cutoff:case:{case_id}:{meeting_stamp(app.config.tz, starts_at)}"


def cutoff_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one cut-off per waiting case, at its meeting's deadline."""
    for case in awaiting_cases(session):
        meeting = case_meeting(app, case)
        if meeting is None or case.section20:
            continue
        key = cutoff_key(app, case.id, meeting.starts_at)
        yield Job(
            key,
            meeting.deadline,
            bind(defer_case, case.id, meeting.starts_at, key),
            case_id=case.id,
        )


def defer_case(
    app: App, session: Session, case_id: int, meeting_starts: datetime, key: str
) -> None:
    """Move the case to the next meeting, flag and audit it, and tell the referrer what is missing.

    The case is checked again first: a document that arrived just before the deadline wins.
    """
    case = session.get(Case, case_id)
    if case is None or case.meeting != meeting_starts:
        return
    old = case_meeting(app, case)
    missing = refresh_state(case)
    if old is None:
        return
    panel = app.config.panel(case.panel_id)
    found = deferral(waiting(case), missing, panel, app.config.tz, old, app.clock.now())
    if found is None:
        return
    case.meeting = found.to.starts_at
    case.flags = [*case.flags, found.flag]
    detail = {"from_meeting": meeting_stamp(app.config.tz, old.starts_at), "missing": found.missing}
    audit(
        session,
        app.clock.now(),
        case,
        "deferred",
        to_meeting=meeting_stamp(app.config.tz, found.to.starts_at),
        **detail,
    )
    context = referrer_context(app, session, case, missing) | {
        "old_meeting": when(app.config.tz, old.starts_at)
    }
    enqueue(app, session, referrer_draft(session, case, key, "deferred", context))
