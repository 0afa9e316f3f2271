"""The administrator's reply bringing the filled decisions workbook (R13).

An email carrying a `[decisions:…]` token, or in the thread of a workbook email (or of the
emails saying an import was refused or recorded, or chasing the decisions: each carries the
workbook's token), is claimed here. It counts only when its token is valid and names a
workbook we sent, it comes from the configured administrator, and it carries exactly one .xlsx
file; anything else is refused, audited and shown to the administrator, never applied (as a
forged screening reply is).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import Attachment, ParsedEmail
from pipeline.mime.tokens import DECISIONS
from pipeline.panel import threads
from pipeline.panel.decisions.chase import PURPOSE as CHASE_PURPOSE
from pipeline.panel.decisions.record import RECORDED_PURPOSE, REFUSED_PURPOSE, record_workbook
from pipeline.panel.decisions.workbook import PURPOSE as WORKBOOK_PURPOSE
from pipeline.panel.decisions.workbook import XLSX
from pipeline.panel.refusals import Refused, refuse
from pipeline.states import MessageCategory
from pipeline.store.models import Case, MeetingWorkbook, Message

log = logging.getLogger(__name__)
# Our emails about a meeting's decisions: the workbook, an import refused or recorded, a chase.
# Each carries the workbook's token; a reply in the thread of any claims to bring decisions.
THREADS = (WORKBOOK_PURPOSE, REFUSED_PURPOSE, RECORDED_PURPOSE, CHASE_PURPOSE)
REFUSED = Refused(
    category=MessageCategory.DECISIONS_REFUSED,
    action="decisions-reply-refused",
    log=log,
    logged_as="decisions workbook reply refused",
    template="decisions_alert",
    purpose="decisions-alert",
)


def _threaded(app: App, session: Session, parsed: ParsedEmail) -> bool:
    """Whether the email answers one of our decisions emails (our signed Message-IDs)."""
    return any(p.startswith(THREADS) for p in threads.answered(app, session, parsed))


def _workbook(
    app: App, session: Session, tokens: tuple[tuple[str, str], ...], malformed: bool
) -> MeetingWorkbook | str:
    """The one workbook the email's token names, or why it names none."""
    if malformed:
        return "a damaged decisions token"
    if not tokens:
        return "no decisions token: reply to the workbook email, keeping its subject"
    if len(tokens) > 1:
        return "more than one decisions token"
    nonce, signature = tokens[0]
    if not DECISIONS.is_valid(app.signer.key, nonce, signature):
        return "bad token"
    row = session.scalar(select(MeetingWorkbook).where(MeetingWorkbook.nonce == nonce))
    return row if row is not None else "the token names no workbook we sent"


def _spreadsheets(parsed: ParsedEmail) -> list[Attachment]:
    return [
        a
        for a in parsed.attachments
        if a.filename.lower().endswith(".xlsx") or a.declared_type.lower() == XLSX
    ]


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: takes every email that claims to bring the meeting's decisions."""
    tokens, malformed = DECISIONS.read(f"{parsed.subject}\n{parsed.body_text}")
    if not tokens and not malformed and not _threaded(app, session, parsed):
        return False
    # The reply is about a meeting, not one case, whatever reference it may quote.
    row.case_id = None
    workbook = _workbook(app, session, tokens, malformed)
    # The administrator of the panel whose meeting the workbook is for.
    panel = workbook.panel_id if isinstance(workbook, MeetingWorkbook) else None
    administrator = app.config.people_of(panel).administrator.email.lower()
    files = _spreadsheets(parsed)
    why = None
    if isinstance(workbook, str):
        why = workbook
    elif parsed.from_address.lower() != administrator:
        why = "not from the administrator"
    elif len(files) != 1:
        why = f"it carries {len(files)} .xlsx files, not the one filled workbook"
    if why is not None or isinstance(workbook, str):
        refuse(app, session, row, parsed, None, why or "bad token", REFUSED)
        return True
    row.category = MessageCategory.DECISIONS
    record_workbook(app, session, files[0].data, "email", row, workbook=workbook)
    return True
