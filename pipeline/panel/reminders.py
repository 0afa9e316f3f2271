"""R8: reminders to referrers whose case still lacks documents as its deadline approaches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Config
from pipeline.documents.kinds import Kind
from pipeline.jobs import Job, bind
from pipeline.mime.addresses import is_machine_address
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.panel.awaiting import (
    awaiting_cases,
    case_meeting,
    meeting_stamp,
    referrer_context,
    still_missing,
)
from pipeline.rules.meetings import Meeting, local_instant
from pipeline.states import AWAITING, CaseState
from pipeline.store.audit import audit
from pipeline.store.models import Case, Message

# Ledger categories of mail a machine sent us (intake/filing.py records them).
AUTOMATIC = frozenset({"auto_reply", "bounce"})


@dataclass(frozen=True)
class Moment:
    """One reminder time before a deadline: `name` goes into the job key ('72h', 'deadline-day')."""

    name: str
    at: datetime


def reminder_moments(config: Config, deadline: datetime) -> list[Moment]:
    """When to remind before `deadline`, earliest first, each strictly before it."""
    moments = [
        Moment(f"{h}h", deadline - timedelta(hours=h)) for h in config.reminders.hours_before
    ]
    day_time = config.reminders.deadline_day_time
    if day_time is not None:
        day = deadline.astimezone(config.tz).date()
        moments.append(Moment("deadline-day", local_instant(day, day_time, config.tz)))
    # Two settings can name the same instant; one reminder then stands for both.
    unique = {m.at: m for m in sorted(moments, key=lambda m: (m.at, m.name)) if m.at < deadline}
    return sorted(unique.values(), key=lambda m: m.at)


def reminder_blocked(case: Case, missing: Sequence[Kind], categories: Sequence[str]) -> str | None:
    """Why this case's referrer must not be reminded now, or None if they may be."""
    if case.state not in AWAITING:
        return f"the case is {case.state}"
    if case.state == CaseState.INCOMPLETE and not missing:
        return "nothing is missing"
    if is_machine_address(case.referrer_email):
        return "the referrer's address is a no-reply or mail-system address"
    if categories and AUTOMATIC.issuperset(categories):
        return "only automatic mail has come from this referrer"
    return None


def reminder_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: the reminders every waiting case's current meeting calls for."""
    for case in awaiting_cases(session):
        meeting = case_meeting(app, case)
        if meeting is not None and now < meeting.starts_at:
            yield from _case_reminders(app, case, meeting)


def _case_reminders(app: App, case: Case, meeting: Meeting) -> Iterator[Job]:
    # A moment before the referral arrived is not reminded of: the acknowledgement said it all.
    moments = [m for m in reminder_moments(app.config, meeting.deadline) if m.at > case.received_at]
    # Each reminder goes stale when the next one is due, so after an outage only the latest
    # is sent; the last goes stale at the deadline, when the cut-off takes over.
    ends = [m.at for m in moments[1:]] + [meeting.deadline]
    stamp = meeting_stamp(app, meeting.starts_at)
    for moment, end in zip(moments, ends, strict=True):
        key = f"reminder:{moment.name}:case:{case.id}:{stamp}"
        action = bind(send_reminder, case.id, meeting.starts_at, key)
        yield Job(key, moment.at, action, case_id=case.id, stale_after=end)


def send_reminder(
    app: App, session: Session, case_id: int, meeting_starts: datetime, key: str
) -> None:
    """Queue one reminder, checking the case again: it may have changed since the job was listed."""
    case = session.get(Case, case_id)
    if case is None or case.meeting != meeting_starts:
        return
    missing = still_missing(case)
    categories = session.scalars(
        select(Message.category).where(Message.case_id == case.id).order_by(Message.id)
    )
    reason = reminder_blocked(case, missing, [c or "" for c in categories])
    if reason is not None:
        audit(session, app.clock.now(), case, "reminder-not-sent", job=key, reason=reason)
        return
    context = referrer_context(app, session, case, missing)
    enqueue(app, session, referrer_draft(session, case, key, "reminder", context))
