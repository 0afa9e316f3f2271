"""R8: reminders to referrers whose case still lacks documents as its deadline approaches.

`rules.reminders` decides when a reminder is due and whether one may go; this step lists the
jobs and queues the email.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.panel.awaiting import (
    awaiting_cases,
    case_meeting,
    referrer_context,
    waiting,
)
from pipeline.rules.meetings import Meeting, meeting_stamp
from pipeline.rules.reminders import reminder_blocked, reminders_due
from pipeline.store.audit import audit
from pipeline.store.facts import refresh_state
from pipeline.store.models import Case, Message


def reminder_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: the reminders every waiting case's current meeting calls for."""
    for case in awaiting_cases(session):
        meeting = case_meeting(app, case)
        if meeting is not None and now < meeting.starts_at:
            yield from _case_reminders(app, case, meeting)


def _case_reminders(app: App, case: Case, meeting: Meeting) -> Iterator[Job]:
    config = app.config
    stamp = meeting_stamp(app.config.tz, meeting.starts_at)
    for due in reminders_due(config.reminders, config.tz, meeting.deadline, case.received_at):
        key = f"reminder:{due.moment.name}:case:{case.id}:{stamp}"
        action = bind(send_reminder, case.id, meeting.starts_at, key)
        yield Job(key, due.moment.at, action, case_id=case.id, stale_after=due.stale_after)


def send_reminder(
    app: App, session: Session, case_id: int, meeting_starts: datetime, key: str
) -> None:
    """Queue one reminder, checking the case again: it may have changed since the job was listed."""
    case = session.get(Case, case_id)
    if case is None or case.meeting != meeting_starts:
        return
    missing = refresh_state(case)
    categories = session.scalars(
        select(Message.category).where(Message.case_id == case.id).order_by(Message.id)
    )
    reason = reminder_blocked(waiting(case), missing, [c or "" for c in categories])
    if reason is not None:
        audit(session, app.clock.now(), case, "reminder-not-sent", job=key, reason=reason)
        return
    context = referrer_context(app, session, case, missing)
    enqueue(app, session, referrer_draft(session, case, key, "reminder", context))
