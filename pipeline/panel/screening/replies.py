"""A Service Manager's reply: does it claim to answer a screening request, may it, and what it says.

A reply counts only when it carries a valid token, comes from the manager that token was sent
to, belongs to the case the thread is about, and was not used before (`rules.screening`
decides); anything else is refused, audited and shown to the administrator, never applied.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.mime.tokens import SCREENING
from pipeline.panel import threads
from pipeline.panel.refusals import Refused, alert, refuse
from pipeline.panel.screening.decisions import apply_decision
from pipeline.panel.threads import Claim
from pipeline.rules.reply_text import parse_decision
from pipeline.rules.screening import ClaimedRequest, reply_refusal
from pipeline.states import MessageCategory
from pipeline.store.audit import audit
from pipeline.store.locks import lock
from pipeline.store.models import Case, Message, ScreeningRequest

log = logging.getLogger(__name__)
# A reply that may not count: filed apart, audited, logged and shown to the administrator.
REFUSED = Refused(
    category=MessageCategory.SCREENING_REFUSED,
    action="screening-refused",
    log=log,
    logged_as="screening reply refused",
    template="screening_alert",
    purpose="screen-alert",
)

# Outbox purposes of the emails a manager may be answering (the thread proves the request).
REQUEST_PURPOSES = ("screen-request:", "screen-reminder:")


def find_claim(app: App, session: Session, parsed: ParsedEmail) -> Claim | None:
    """None when the email does not claim to answer a screening request at all."""
    return threads.find_claim(app, session, parsed, SCREENING, REQUEST_PURPOSES)


def _claimed_requests(app: App, session: Session, claim: Claim) -> list[ScreeningRequest] | None:
    """The requests the claim names; None when any token is forged or unknown."""
    return threads.claimed(app, session, claim, SCREENING, ScreeningRequest)


def _facts(session: Session, request: ScreeningRequest) -> ClaimedRequest:
    return ClaimedRequest(
        request.case_id,
        request.manager_email,
        decided=request.decision is not None,
        closed=request.used_at is not None,
        case_state=session.get_one(Case, request.case_id).state,
    )


def refusal(
    app: App,
    session: Session,
    sender: str,
    case: Case | None,
    requests: list[ScreeningRequest] | None,
) -> str | None:
    """Why this reply must not count (`rules.screening` decides, the handler acts), or None."""
    facts = [_facts(session, r) for r in requests] if requests is not None else None
    # The screeners of the panel whose case the request is about: another panel's manager
    # decides nothing here, however the reply came to them.
    panel = session.get_one(Case, requests[0].case_id).panel_id if requests else None
    managers = {m.email.lower() for m in app.config.people_of(panel).screeners}
    return reply_refusal(sender, case.id if case else None, facts, managers)


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: takes every email that claims to answer a screening request."""
    claim = find_claim(app, session, parsed)
    if claim is None:
        return False
    requests = _claimed_requests(app, session, claim)
    target = session.get(Case, requests[0].case_id) if requests else case
    if target is not None:
        # Two replies at once (the same token twice, two managers, `masp screen`): the second
        # waits here, then sees the decision the first recorded and is refused as stale.
        lock(session, target, *(requests or ()))
    row.case_id = target.id if target else None
    why = refusal(app, session, parsed.from_address.lower(), case, requests)
    if why is not None or requests is None or target is None:
        refuse(app, session, row, parsed, target, why or "bad token", REFUSED)
        return True
    decision = parse_decision(parsed.body_text)
    if decision is None:
        # The manager meant to answer but wrote something else: a person reads it; the
        # request stays open so their next reply still counts.
        row.category = MessageCategory.SCREENING_UNCLEAR
        audit(session, app.clock.now(), target, "screening-unclear", ledger=row.id)
        unclear = "unclear: no decision on the first line"
        alert(app, session, row, parsed, target, unclear, REFUSED)
        return True
    row.category = MessageCategory.SCREENING
    apply_decision(app, session, target, requests[0], decision, by="manager")
    return True
