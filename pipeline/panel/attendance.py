"""R10: a referrer's answer to their timeslot email — will they attend? — recorded, not answered.

Only a clear yes or no counts, from the case's referrer, in reply to the timeslot email (or a
calendar program's Accepted/Declined answer to the invitation). A reply with documents is
always left to intake, which files them: nothing a referrer sends is lost to this handler.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.intake.mime import Attachment, ParsedEmail
from pipeline.outbox.queue import audit
from pipeline.panel.reply_text import is_calendar_answer, parse_attendance
from pipeline.store.models import Case, Message, OutboxItem, Slot


def _is_calendar(attachment: Attachment) -> bool:
    # A calendar program's answer carries the invitation back: that is not a document.
    return attachment.declared_type.lower().startswith(
        "text/calendar"
    ) or attachment.filename.lower().endswith(".ics")


def _from_referrer(parsed: ParsedEmail, case: Case) -> bool:
    senders = {parsed.from_address.lower(), (parsed.reply_to or "").lower()}
    return case.referrer_email.lower() in senders


def current_slot(app: App, session: Session, case: Case) -> Slot | None:
    """The case's notified slot at a meeting that has not started yet."""
    return session.scalar(
        select(Slot)
        .where(
            Slot.case_id == case.id,
            Slot.notified_at.is_not(None),
            Slot.meeting > app.clock.now(),
        )
        .order_by(Slot.meeting.desc())
        .limit(1)
    )


def answers_timeslot(session: Session, parsed: ParsedEmail, slot: Slot) -> bool:
    """Whether the email is in the thread of this slot's email."""
    # The latest timeslot email for the case is this slot's: each new slot sends one.
    ours = session.scalar(
        select(OutboxItem.message_id)
        .where(OutboxItem.case_id == slot.case_id, OutboxItem.template == "timeslot")
        .order_by(OutboxItem.id.desc())
        .limit(1)
    )
    return ours is not None and ours in (*parsed.in_reply_to, *parsed.references)


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: records a clear yes/no to the timeslot; anything else goes to intake."""
    if case is None or not _from_referrer(parsed, case):
        return False
    if any(not _is_calendar(a) for a in parsed.attachments):
        return False
    slot = current_slot(app, session, case)
    answer = parse_attendance(parsed.subject, parsed.body_text)
    if slot is None or answer is None:
        return False
    if not answers_timeslot(session, parsed, slot) and not is_calendar_answer(parsed.subject):
        return False
    slot.attendance, slot.attendance_at = answer, app.clock.now()
    row.category = "attendance"
    audit(session, app, case, "attendance", answer=answer, slot=slot.id, ledger=row.id)
    return True
