"""R10: a referrer's answer to their timeslot email — will they attend? — recorded, not answered.

Two kinds of answer count, and only from the case's referrer:
- a calendar program's answer to the invitation (an iTIP REPLY, read by `itip`): the UID,
  which we signed, names the case and the meeting, and the referrer's own ATTENDEE line says
  ACCEPTED, DECLINED or TENTATIVE, in whatever language the subject is written;
- a clear YES or NO typed in reply to the timeslot email (proven by our signed Message-ID).

A calendar answer that does not pass (forged UID, someone else's answer, a stranger's, one for
a slot since taken back, or one to an earlier invitation for a time the slot no longer has) is
not recorded, and the administrator is told. A reply with documents is always left to intake,
which files them: nothing a referrer sends is lost to this handler. Whether an answer counts
is decided in `rules.attendance`; this step finds the case and its slot, and records or refuses.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.panel.refusals import Refused, refuse
from pipeline.panel.revisions import invited_sequence
from pipeline.panel.slots import calendar_uid
from pipeline.rules.attendance import (
    calendar_answer,
    calendar_refusal,
    carries_documents,
    stale_refusal,
    typed_answer,
)
from pipeline.rules.itip import CalendarReply, find_reply
from pipeline.states import MessageCategory
from pipeline.store.audit import audit
from pipeline.store.models import PURGED, Case, Message, OutboxItem, Slot

log = logging.getLogger(__name__)
# A reply that may not count: filed apart, audited, logged and shown to the administrator.
REFUSED = Refused(
    category=MessageCategory.ATTENDANCE_REFUSED,
    action="attendance-refused",
    log=log,
    logged_as="calendar answer not recorded",
    template="attendance_alert",
    purpose="attendance-alert",
)


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


def _record(
    app: App, session: Session, row: Message, case: Case, slot: Slot, answer: str, via: str
) -> None:
    slot.attendance, slot.attendance_at = answer, app.clock.now()
    row.category, row.case_id = MessageCategory.ATTENDANCE, case.id
    audit(
        session,
        app.clock.now(),
        case,
        "attendance",
        answer=answer,
        slot=slot.id,
        ledger=row.id,
        via=via,
    )


# --- Calendar answers (iTIP) ----------------------------------------------------------------


def _invited_case(
    app: App, session: Session, reply: CalendarReply
) -> tuple[Case, Slot | None] | None:
    """The case a REPLY's UID names, when the UID is ours, and its slot at that meeting (None
    when it has been taken back)."""
    # Imported here: intake loads this module for every email, the invitation's calendar
    # library only matters for a calendar answer.
    from pipeline.outputs.invitation import read_slot_uid

    identity = read_slot_uid(app.signer.key, reply.uid)
    if identity is None:
        return None
    case = session.scalar(select(Case).where(Case.reference == identity.reference))
    if case is None or PURGED in case.flags:
        return None
    slot = session.scalar(
        select(Slot).where(
            Slot.case_id == case.id,
            Slot.meeting == identity.meeting,
            Slot.notified_at.is_not(None),
        )
    )
    return case, slot


def _stale(app: App, session: Session, reply: CalendarReply, case: Case, slot: Slot) -> str | None:
    """Why an answer does not count for the slot as it now stands, or None."""
    invited = invited_sequence(session, case.id, calendar_uid(app, case, slot.meeting))
    return stale_refusal(reply, invited, slot.starts_at)


def _take_calendar_answer(
    app: App,
    session: Session,
    row: Message,
    parsed: ParsedEmail,
    case: Case | None,
    reply: CalendarReply,
) -> None:
    invited = _invited_case(app, session, reply)
    if invited is None:
        refuse(app, session, row, parsed, case, "not an invitation of ours", REFUSED)
        return
    target, slot = invited
    if slot is None:
        refuse(app, session, row, parsed, target, "its timeslot was withdrawn", REFUSED)
        return
    why = calendar_refusal(
        parsed.from_address, reply, target.referrer_email, slot.meeting, app.clock.now()
    ) or _stale(app, session, reply, target, slot)
    if why is not None:
        refuse(app, session, row, parsed, target, why, REFUSED)
        return
    answer = calendar_answer(reply, target.referrer_email)
    _record(app, session, row, target, slot, answer, via="calendar")


# --- Typed answers ----------------------------------------------------------------------------


def _take_text_answer(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    if case is None:
        return False
    answer = typed_answer(
        parsed.from_address, case.referrer_email, parsed.subject, parsed.body_text
    )
    if answer is None:
        return False
    slot = current_slot(app, session, case)
    if slot is None or not answers_timeslot(session, parsed, slot):
        return False
    _record(app, session, row, case, slot, answer, via="email")
    return True


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: takes every calendar answer and a clear typed yes/no; else intake files it."""
    if carries_documents(parsed.attachments):
        return False
    reply = find_reply(parsed.attachments)
    if reply is not None:
        _take_calendar_answer(app, session, row, parsed, case, reply)
        return True
    return _take_text_answer(app, session, row, parsed, case)
