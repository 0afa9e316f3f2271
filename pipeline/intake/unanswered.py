"""Email kept without an answer because the address an answer would go to must not get one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.intake.loops import Automatic
from pipeline.mime.headers import header_text
from pipeline.mime.message import ParsedEmail
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.states import MessageState
from pipeline.store.audit import audit
from pipeline.store.models import Case, Message

# Enough of a From header for the administrator to recognise the sender, never a whole essay.
MAX_SHOWN = 200


def hold(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None, why: Automatic
) -> None:
    """Keep the email in quarantine (raw bytes, listed, replayable) and tell the administrator.

    It opens no case and adds nothing to one: a case would answer its referrer, and the only
    address we have is unreadable, our own or a machine's. A person may still have written
    it (a referral sent from the shared mailbox, a mail program that set Reply-To to
    no-reply), so the administrator reads it and answers them by hand.
    """
    row.status, row.category, row.error = MessageState.QUARANTINED, why.category, why.reason
    row.case_id = case.id if case is not None else None
    audit(session, app.clock.now(), case, "held-unanswered", ledger=row.id, category=why.category)
    context = {
        "reference": case.reference if case is not None else None,
        "why": why.reason,
        "sender": header_text(parsed.headers, "From")[:MAX_SHOWN] or "(no From header)",
        "subject": parsed.subject[:MAX_SHOWN],
        "ledger_id": row.id,
        "panel_address": app.config.mailbox.address,
    }
    draft = staff_draft(app, f"unanswered:message:{row.id}", "unanswered_alert", context, case)
    enqueue(app, session, draft)
