"""A reply that may not count (a screening decision, an attendance answer): filed, audited, logged
and shown to the administrator, never applied."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.outbox import wording
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.states import MessageCategory
from pipeline.store.audit import audit
from pipeline.store.models import Case, Message


@dataclass(frozen=True)
class Refused:
    """How one kind of reply is refused: its ledger category, its audit action, the handler's
    log and what its line calls the reply, and the alert the administrator is sent (its
    template, its purpose prefix)."""

    category: MessageCategory
    action: str
    # The handler's own logger, so that the line names the handler, as it always has.
    log: logging.Logger
    logged_as: str
    template: str
    purpose: str


def alert(
    app: App,
    session: Session,
    row: Message,
    parsed: ParsedEmail,
    case: Case | None,
    why: str,
    kind: Refused,
) -> None:
    """Show the administrator a reply that was not acted on, and why."""
    context = wording.refused_reply(app, row.id, parsed, case, why)
    draft = staff_draft(app, f"{kind.purpose}:message:{row.id}", kind.template, context, case)
    enqueue(app, session, draft)


def refuse(
    app: App,
    session: Session,
    row: Message,
    parsed: ParsedEmail,
    case: Case | None,
    why: str,
    kind: Refused,
) -> None:
    """File the reply as refused, audit and log why, and tell the administrator."""
    row.category = kind.category
    audit(session, app.clock.now(), case, kind.action, why=why, ledger=row.id)
    kind.log.warning("%s (%s): ledger id %d", kind.logged_as, why, row.id)
    alert(app, session, row, parsed, case, why, kind)
