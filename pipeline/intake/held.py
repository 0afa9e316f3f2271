"""R5: an email that quotes a case's reference from someone with no standing on that case is
held. It opens a case of its own that nothing acts on until the administrator does; its
sender is told only that a person will look at it, never anything about the case it quoted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.results import FormFacts
from pipeline.intake.cases import open_case
from pipeline.mime.message import ParsedEmail
from pipeline.outbox import wording
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.states import CaseState
from pipeline.store.audit import audit
from pipeline.store.models import Case, Message

# How the flag that says why a case is held begins.
HELD_PREFIX = "held:"


def why_held(reference: str, quoted: str) -> str:
    """The flag that says why a case is held and what the administrator can do."""
    return (
        f"{HELD_PREFIX} the email quotes {quoted}, but its sender is not its referrer; "
        f"masp case attach {reference} --to {quoted}, release or dismiss"
    )


def open_held(
    app: App,
    session: Session,
    parsed: ParsedEmail,
    received_at: datetime,
    facts: FormFacts | None,
    quoted: Case,
) -> Case:
    """A case for the email, held: no meeting, linked to the case it quoted."""
    case = open_case(app, session, parsed, received_at, facts, CaseState.HELD)
    case.meeting, case.linked_case_id = None, quoted.id
    case.flags = [why_held(case.reference, quoted.reference)]
    audit(session, app.clock.now(), case, "held", quoted=quoted.reference)
    return case


def tell(app: App, session: Session, case: Case, row: Message, parsed: ParsedEmail) -> None:
    """The sender hears only that a person will look at their email; the administrator hears
    what came in, from whom, and what they can do about it."""
    notice = {
        "panel_name": app.config.panel(case.panel_id).name,
        "administrator": app.config.people_of(case.panel_id).administrator.name,
        "panel_address": app.config.mailbox.address,
    }
    who = wording.Correspondent.of(parsed)
    enqueue(
        app,
        session,
        wording.reply_draft(who, f"held:message:{row.id}", "held_notice", notice, case),
    )
    quoted = session.get(Case, case.linked_case_id) if case.linked_case_id else None
    context: dict[str, Any] = wording.staff_context(app, case) | {
        "quoted": quoted.reference if quoted is not None else "",
        "sender": ", ".join(dict.fromkeys(a for a in (parsed.from_address, parsed.reply_to) if a)),
        "ledger_id": row.id,
    }
    enqueue(
        app, session, staff_draft(app, f"held-alert:message:{row.id}", "held_alert", context, case)
    )
