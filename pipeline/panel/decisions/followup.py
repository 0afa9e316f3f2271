"""R14: 12 weeks after its last review, a case with no further panel review (MASG) has its Lead
Professional asked for the outcomes; one reminder, in the same thread, if they are silent.

The job source decides from the current decisions and the clock; each request and reminder is
keyed once for all time, so ticking twice, or late, asks once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.mime.tokens import FOLLOW_UP
from pipeline.outbox.queue import Draft, enqueue
from pipeline.rules.followup import follow_up_due, reminder_due
from pipeline.rules.identifiers import initials, without_name
from pipeline.rules.meetings import meeting_stamp
from pipeline.states import CaseState
from pipeline.store.audit import audit
from pipeline.store.models import Case, Decision, FollowUp, OutboxItem
from pipeline.store.reviews import current_decisions, latest_decision

# Outbox purposes of the emails a Lead Professional may be answering (the thread proves which).
REQUEST = "follow-up-request:"
REMINDER = "follow-up-reminder:"


def due_at(app: App, decision: Decision) -> datetime:
    """When this decision's Lead Professional is asked (`decisions.follow_up_weeks` after it)."""
    day = decision.meeting.astimezone(app.config.tz).date()
    return follow_up_due(day, app.config.decisions.follow_up_weeks, app.config.tz)


def wants_follow_up(decision: Decision) -> bool:
    """MASG: no further panel review, and someone to ask."""
    return decision.no_further_review and not decision.final and bool(decision.lead_email)


def follow_up_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: each MASG decision's request once it is due; one reminder if unanswered."""
    for decision in current_decisions(session):
        if not wants_follow_up(decision):
            continue
        # Keyed by the case and the meeting, not the row: a corrected workbook replaces the
        # decision's row, and must not ask the Lead Professional a second time.
        stamp = meeting_stamp(app.config.tz, decision.meeting)
        key = f"follow-up:case:{decision.case_id}:{stamp}"
        yield Job(key, due_at(app, decision), bind(ask, decision.id), decision.case_id)
    waiting = session.scalars(
        select(FollowUp)
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            FollowUp.asked_at.is_not(None),
            FollowUp.reminded_at.is_(None),
            FollowUp.answered_at.is_(None),
            Case.state == CaseState.DECIDED,
        )
    )
    days = app.config.decisions.follow_up_reminder_days
    for follow_up in waiting:
        assert follow_up.asked_at is not None
        when = reminder_due(follow_up.asked_at, days)
        yield Job(f"follow-up-reminder:{follow_up.id}", when, bind(remind, follow_up.id))


def _context(app: App, case: Case, decision: Decision, follow_up: FollowUp) -> dict[str, Any]:
    """The case reference and the child's initials only, and the actions agreed, with dates."""
    name = (case.fields or {}).get("child_name")
    name = name if isinstance(name, str) else None
    day = decision.meeting.astimezone(app.config.tz).date()
    return {
        "reference": case.reference,
        "initials": initials(name),
        "panel_name": app.config.panel(case.panel_id).name,
        "panel_address": app.config.mailbox.address,
        "lead_name": decision.lead_name or "colleague",
        "decided": f"{day.day} {day:%B %Y}",
        "weeks": app.config.decisions.follow_up_weeks,
        "actions": [
            {
                "text": without_name(a.text, name),
                "agency": a.agency or "",
                "due": f"{a.due.day} {a.due:%B %Y}",
            }
            for a in decision.actions
        ],
        "token": FOLLOW_UP.token_for(app.signer.key, follow_up.nonce),
    }


def ask(app: App, session: Session, decision_id: int) -> None:
    """Ask the Lead Professional for the outcomes, once: a FollowUp row and its email."""
    decision = session.get(Decision, decision_id)
    if decision is None or not wants_follow_up(decision) or decision.lead_email is None:
        return
    case = decision.case
    current = latest_decision(session, case.id)
    if case.state != CaseState.DECIDED or current is None or current.id != decision.id:
        return
    if session.scalar(select(FollowUp.id).where(FollowUp.decision_id == decision.id)):
        return
    now = app.clock.now()
    follow_up = FollowUp(
        case_id=case.id,
        decision_id=decision.id,
        lead_email=decision.lead_email.lower(),
        nonce=secrets.token_hex(8),
        due_at=due_at(app, decision),
        asked_at=now,
    )
    session.add(follow_up)
    session.flush()
    draft = Draft(
        purpose=f"{REQUEST}{follow_up.id}",
        template="follow_up_request",
        to=(follow_up.lead_email,),
        context=_context(app, case, decision, follow_up),
        case=case,
        # Not a configured person: the administrator named them in a workbook that came back
        # under its signed token, from the administrator.
        trusted=(follow_up.lead_email,),
    )
    item = enqueue(app, session, draft)
    audit(session, now, case, "follow-up-asked", follow_up=follow_up.id, outbox=item.id)


def request_email_id(session: Session, follow_up: FollowUp) -> str | None:
    """The Message-ID of the request, which the reminder answers in its thread."""
    query = select(OutboxItem.message_id).where(OutboxItem.purpose == f"{REQUEST}{follow_up.id}")
    return session.scalar(query)


def remind(app: App, session: Session, follow_up_id: int) -> None:
    """One reminder to a Lead Professional who has not answered, in the request's thread."""
    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.answered_at is not None or follow_up.reminded_at:
        return
    case = session.get_one(Case, follow_up.case_id)
    decision = session.get(Decision, follow_up.decision_id)
    if case.state != CaseState.DECIDED or decision is None:
        return
    parent = request_email_id(session, follow_up)
    draft = Draft(
        purpose=f"{REMINDER}{follow_up.id}",
        template="follow_up_reminder",
        to=(follow_up.lead_email,),
        context=_context(app, case, decision, follow_up),
        case=case,
        in_reply_to=parent,
        references=(parent,) if parent else (),
        trusted=(follow_up.lead_email,),
    )
    item = enqueue(app, session, draft)
    follow_up.reminded_at = now = app.clock.now()
    audit(session, now, case, "follow-up-reminded", follow_up=follow_up.id, outbox=item.id)
