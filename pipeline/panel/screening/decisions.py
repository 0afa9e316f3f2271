"""Applying a screening decision, a manager's or the administrator's: record it on its request,
close the round, move the case on and, when it is no longer to be heard, tell the referrer."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import NotFound, ScreeningError
from pipeline.outbox import wording
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.panel import slots
from pipeline.panel.screening.queries import open_requests
from pipeline.rules.reply_text import Decision
from pipeline.rules.screening import administrator_refusal, coopt_flags, outcome
from pipeline.store.audit import audit
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, ScreeningRequest


def _tell_referrer(
    app: App,
    session: Session,
    case: Case,
    request: ScreeningRequest,
    template: str,
    withdrawn: tuple[str, tuple[FileAttachment, ...]],
) -> None:
    """Tell the referrer the decision, with the slot withdrawn (its times and the calendar
    cancellation), if they had one."""
    context = wording.case_context(app, case, [])
    context["reason"] = request.reason or ""
    context["withdrawn_slot"], cancel = withdrawn
    purpose = f"{template}:request:{request.id}"
    enqueue(app, session, referrer_draft(session, case, purpose, template, context, cancel))


def apply_decision(
    app: App, session: Session, case: Case, request: ScreeningRequest, decision: Decision, by: str
) -> None:
    """Record the decision on its request, close the round, move the case on, tell the referrer."""
    now = app.clock.now()
    request.used_at, request.decision = now, decision.verb
    request.reason = decision.reason or None
    request.coopt = list(decision.coopt)
    for other in open_requests(session, case):
        if other.id != request.id:
            # Answered by someone else: a later reply with this token is refused as stale.
            other.used_at = now
    result = outcome(decision.verb)
    move(case, result.state)
    case.flags = coopt_flags(case.flags, decision.coopt)
    audit(
        session,
        app.clock.now(),
        case,
        "screening-decision",
        decision=decision.verb,
        by=by,
        request=request.id,
        coopt=list(decision.coopt) or None,
    )
    if result.referrer_template is not None:
        # No longer to be heard (for now): a slot it was given is taken back.
        withdrawn = slots.withdraw(app, session, case)
        _tell_referrer(app, session, case, request, result.referrer_template, withdrawn)


def decide_by_administrator(app: App, session: Session, reference: str, decision: Decision) -> Case:
    """`masp screen`: the administrator's decision, with the same effects as a manager's."""
    # Locked, like a manager's reply (`replies.take_reply`): one decision per round.
    case = session.scalar(
        select(Case)
        .where(Case.reference == reference.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise NotFound(f"no case {reference}: see `masp status`")
    why = administrator_refusal(case.state)
    if why is not None:
        raise ScreeningError(why, reference=case.reference)
    request = ScreeningRequest(
        case_id=case.id,
        manager_email=app.config.people_of(case.panel_id).administrator.email.lower(),
        nonce=secrets.token_hex(8),
        sent_at=app.clock.now(),
        coopt=[],
    )
    session.add(request)
    session.flush()
    apply_decision(app, session, case, request, decision, by="administrator")
    return case
