"""Replies that answer the panel rather than bring documents: a Service Manager's screening
decision, the meeting's decisions workbook, a referrer's attendance answer. Each handler says
whether it took the email."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.panel import attendance
from pipeline.panel.decisions import followup_replies
from pipeline.panel.decisions import replies as decisions
from pipeline.panel.screening import replies as screening
from pipeline.store.models import Case, Message

# A handler files the email (setting `row.category`) and returns True, or returns False to
# let intake treat it as a referral email. Handlers are tried in order.
Handler = Callable[[App, Session, Message, ParsedEmail, Case | None], bool]
# Screening first: an email carrying a screening token is never read as anything else. The
# decisions workbook and a Lead Professional's follow-up answer (R13, R14) before attendance:
# each carries its own token, and neither is an attendance answer.
HANDLERS: list[Handler] = [
    screening.take_reply,
    decisions.take_reply,
    followup_replies.take_reply,
    attendance.take_reply,
]


def handle(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """True when a handler took this email as a reply to one of the panel's requests."""
    return any(handler(app, session, row, parsed, case) for handler in HANDLERS)
