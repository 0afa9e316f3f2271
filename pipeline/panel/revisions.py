"""The revisions of a timeslot's calendar entry (one UID): each one sent at a higher SEQUENCE.

RFC 5546: a calendar program keeps the revision of an event with the highest SEQUENCE and
ignores one that is not newer. A slot taken back (CANCEL) and given again at the same meeting
is the same UID, so its new invitation must outrank the cancellation, or the referrer's
calendar keeps the meeting cancelled.

The sequences sent are read back from the audit trail: each invitation and cancellation is
recorded there with its UID and SEQUENCE in the transaction that queues the email carrying it
(whose bytes are fixed from then on). A crash rolls back both, so the job that runs again
writes the same sequence; a job already done is not run again. The audit trail is kept for
good, unlike the slot row, which is deleted when the slot is taken back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.store.models import AuditEvent

SENT, WITHDRAWN = "timeslot-sent", "timeslot-withdrawn"
# Before sequences were recorded, every invitation went out at 0 and every cancellation at 1.
# Such an entry names no UID, so it is taken to be this one's: a sequence higher than needed
# does no harm, one too low is ignored by the calendar.
_UNRECORDED = {SENT: 0, WITHDRAWN: 1}


def _sent(session: Session, case_id: int, uid: str) -> list[tuple[str, int]]:
    """Each revision sent for this UID, oldest first: (audit action, sequence)."""
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.case_id == case_id, AuditEvent.action.in_(_UNRECORDED))
        .order_by(AuditEvent.id)
    )
    found = []
    for action, detail in rows:
        if "uid" not in detail:
            found.append((action, _UNRECORDED[action]))
        elif detail["uid"] == uid:
            found.append((action, int(detail["sequence"])))
    return found


def next_sequence(session: Session, case_id: int, uid: str) -> int:
    """The SEQUENCE for the next invitation or cancellation of this UID: above every one sent."""
    return max((sequence for _, sequence in _sent(session, case_id, uid)), default=-1) + 1


def invited_sequence(session: Session, case_id: int, uid: str) -> int:
    """The SEQUENCE of the latest invitation sent for this UID (0 if none is recorded)."""
    invitations = [sequence for action, sequence in _sent(session, case_id, uid) if action == SENT]
    return invitations[-1] if invitations else 0
