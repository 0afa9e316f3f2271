"""A Lead Professional's answer to the 12-week follow-up (R14): recorded, and the case closes.

An email claims to answer when it carries a `[follow-up:…]` token or sits in the thread of a
request or reminder (proven by our signed Message-IDs). It counts only with valid tokens, from
the address the request went to, about that case (`rules.followup` decides); anything else is
refused, audited and shown to the administrator, never recorded. The answer's text stays in
the raw email; the administrator is told where to read it.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.mime.tokens import FOLLOW_UP
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.panel import threads
from pipeline.panel.decisions.followup import REMINDER, REQUEST
from pipeline.panel.refusals import Refused, refuse
from pipeline.panel.threads import Claim
from pipeline.rules.followup import ClaimedFollowUp, reply_refusal
from pipeline.states import CaseState, MessageCategory
from pipeline.store.audit import audit
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, FollowUp, Message

log = logging.getLogger(__name__)
REFUSED = Refused(
    category=MessageCategory.FOLLOW_UP_REFUSED,
    action="follow-up-refused",
    log=log,
    logged_as="follow-up reply refused",
    template="follow_up_alert",
    purpose="follow-up-alert",
)


def find_claim(app: App, session: Session, parsed: ParsedEmail) -> Claim | None:
    """None when the email does not claim to answer a follow-up at all."""
    return threads.find_claim(app, session, parsed, FOLLOW_UP, (REQUEST, REMINDER))


def _claimed(app: App, session: Session, claim: Claim) -> list[FollowUp] | None:
    """The follow-ups the claim names; None when any token is forged, mangled or unknown."""
    return threads.claimed(app, session, claim, FOLLOW_UP, FollowUp)


def _tell_administrator(app: App, session: Session, row: Message, case: Case, again: bool) -> None:
    context = {
        "reference": case.reference,
        "ledger_id": row.id,
        "again": again,
        "panel_name": app.config.panel(case.panel_id).name,
        "panel_address": app.config.mailbox.address,
    }
    purpose = f"follow-up-received:message:{row.id}"
    enqueue(app, session, staff_draft(app, purpose, "follow_up_received", context, case))


def record_answer(app: App, session: Session, row: Message, follow_up: FollowUp) -> None:
    """The first answer: recorded, the administrator told, the case closed. A later one is
    kept on the case and the administrator told; nothing else changes."""
    case = session.get_one(Case, follow_up.case_id)
    row.category = MessageCategory.FOLLOW_UP
    now = app.clock.now()
    if follow_up.answered_at is not None:
        audit(session, now, case, "follow-up-answered-again", follow_up=follow_up.id, ledger=row.id)
        _tell_administrator(app, session, row, case, again=True)
        return
    follow_up.answered_at, follow_up.answer_row_id = now, row.id
    audit(session, now, case, "follow-up-answered", follow_up=follow_up.id, ledger=row.id)
    _tell_administrator(app, session, row, case, again=False)
    if case.state == CaseState.DECIDED:
        move(case, CaseState.CLOSED)
        why = "no further panel review, outcomes received"
        audit(session, now, case, "closed", why=why, follow_up=follow_up.id)


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: takes every email that claims to answer a 12-week follow-up."""
    claim = find_claim(app, session, parsed)
    if claim is None:
        return False
    claimed = _claimed(app, session, claim)
    target = session.get(Case, claimed[0].case_id) if claimed else case
    row.case_id = target.id if target else None
    facts = [ClaimedFollowUp(f.case_id, f.lead_email) for f in claimed] if claimed else None
    sender = parsed.from_address.lower()
    why = reply_refusal(sender, case.id if case else None, facts)
    if why is not None or not claimed or target is None:
        refuse(app, session, row, parsed, target, why or "bad token", REFUSED)
        return True
    mine = [f for f in claimed if f.lead_email == sender]
    record_answer(app, session, row, mine[0])
    return True
