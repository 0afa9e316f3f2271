"""The states of a case, a ledgered email and an outbox email, and the named groups of them."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    """Where a referral stands; `pipeline.rules.lifecycle` says which moves between them are legal.

    A StrEnum: each member is the very string the database stores and compares equal to it.
    """

    # Documents still missing (R4).
    INCOMPLETE = "incomplete"
    # Every document it needs is in; not yet sent to the Service Managers.
    COMPLETE = "complete"
    # Sent to the Service Managers; waiting for the first valid answer (R9).
    SCREENING = "screening"
    # A Service Manager asked the referrer for more information.
    MORE_INFO = "more_info"
    APPROVED = "approved"
    DECLINED = "declined"
    # Opened from an email that quoted another case's reference without standing to (R5):
    # nothing happens to it until the administrator releases, attaches or dismisses it.
    HELD = "held"
    # Heard at its meeting and its decision recorded (R13): reviews and follow-ups from here.
    DECIDED = "decided"
    # Attached to another case, dismissed, closed by the retention purge while it waited,
    # closed after the meeting by a final review (R14), or closed by the administrator (R17).
    CLOSED = "closed"
    # Withdrawn by the administrator before it was heard, its referrer told (R17): the referral
    # no longer asks the panel anything.
    WITHDRAWN = "withdrawn"


class MessageState(StrEnum):
    """Where an inbound email stands in the ledger."""

    # Ledgered, not yet filed.
    NEW = "new"
    FILED = "filed"
    # Our own mail, or automatic mail (bounces, auto-replies): stored, never answered.
    IGNORED = "ignored"
    # A second copy of bytes already ledgered.
    DUPLICATE = "duplicate"
    # Could not be filed, or cannot be answered: kept for the administrator to replay.
    QUARANTINED = "quarantined"
    # The retention purge deleted its bytes.
    PURGED = "purged"


class OutboxState(StrEnum):
    """Where an outgoing email stands in the outbox."""

    # Waiting for the sender (or for its next attempt).
    PENDING = "pending"
    SENT = "sent"
    # Not an allowed recipient, or a rate fuse tripped: waits for the administrator.
    HELD = "held"
    # The sender gave up on it.
    FAILED = "failed"
    # Never sent, and its bytes deleted by the retention purge.
    PURGED = "purged"


class Verdict(StrEnum):
    """A screening decision, a Service Manager's or the administrator's (R9), as a screening
    request records it."""

    APPROVE = "approve"
    DECLINE = "decline"
    # Asks the referrer for more information; the case is screened again when it comes.
    MORE_INFO = "more_info"


class MessageCategory(StrEnum):
    """What an inbound email was taken to be, as the ledger records it beside its state."""

    # It brought documents, or opened a case (the default for mail that is filed).
    REFERRAL = "referral"
    # On a case that is over or otherwise for a person to read; nothing answers it.
    REPLY = "reply"
    # It quoted another case's reference without standing to, or came on a held case (R5).
    HELD = "held"
    # Nothing attached and no case: its sender is sent the blank form.
    NO_ATTACHMENT = "no_attachment"
    # Our own mail, come back.
    OWN = "own"
    # A machine sent it (R16): a delivery failure, or an auto-reply, list or no-reply mail.
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    # A person may have sent it, but an answer would go to an unreadable address, the panel's
    # own, or a machine's: kept unanswered for the administrator.
    BAD_ADDRESS = "bad_address"
    OWN_ADDRESS = "own_address"
    MACHINE_REPLY_TO = "machine_reply_to"
    # A Service Manager's decision, one that may not count, or one that says no decision.
    SCREENING = "screening"
    SCREENING_REFUSED = "screening_refused"
    SCREENING_UNCLEAR = "screening_unclear"
    # A referrer's answer to their timeslot email, or a calendar answer that may not count.
    ATTENDANCE = "attendance"
    ATTENDANCE_REFUSED = "attendance_refused"
    # A Lead Professional's outcomes, 12 weeks on (R14), or a reply to that request that may
    # not count (another sender, a forged token).
    FOLLOW_UP = "follow_up"
    FOLLOW_UP_REFUSED = "follow_up_refused"
    # The administrator's filled decisions workbook (R13), or a reply claiming to be it that
    # may not count (a bad token, another sender, no workbook attached).
    DECISIONS = "decisions"
    DECISIONS_REFUSED = "decisions_refused"
    # Quarantined: over the size limit, or it could not be filed.
    TOO_LARGE = "too_large"
    ERROR = "error"


class Outcome(StrEnum):
    """The panel's decision on a case (R13), as the workbook's drop-down list offers it.

    The value is what a person picks in Excel and what the decision sheet prints.
    """

    ACCEPTED = "Accepted: multi-agency support agreed"
    ADVICE = "Advice and guidance given"
    SIGNPOSTED = "Signposted or referred to another service"
    MORE_INFO = "Deferred: more information needed"
    NOT_ACCEPTED = "Not accepted"
    # The case is over: no further panel involvement, and it closes (R14).
    CLOSED = "Closed: no further panel involvement"


# A case with one of these outcomes has someone leading the plan: it needs a Lead Professional.
NEEDS_LEAD = frozenset({Outcome.ACCEPTED})
# Outcomes that end the panel's part: the case closes, unless the decision also gives a review
# date or "no further panel review" (the Lead Professional then reports back in 12 weeks).
CLOSES = frozenset({Outcome.NOT_ACCEPTED, Outcome.SIGNPOSTED, Outcome.ADVICE, Outcome.CLOSED})


class ConversionState(StrEnum):
    """Where a document's conversion to PDF for the pack stands."""

    PENDING = "pending"
    DONE = "done"
    # The pack then carries a page saying so in its place.
    FAILED = "failed"


# Waiting for the referrer: missing documents, or the information a Service Manager asked for.
AWAITING = (CaseState.INCOMPLETE, CaseState.MORE_INFO)
# Complete, and not yet decided by the Service Managers.
AWAITING_SCREENING = (CaseState.COMPLETE, CaseState.SCREENING)
# Still to be heard at a meeting; a declined, held or closed case has nowhere to go.
IN_PLAY = (
    CaseState.INCOMPLETE,
    CaseState.COMPLETE,
    CaseState.SCREENING,
    CaseState.MORE_INFO,
    CaseState.APPROVED,
)
# Still waiting for someone (the referrer, a manager, the administrator for a held case):
# the retention purge closes such a case when nothing has happened to it for too long.
WAITING = (
    CaseState.INCOMPLETE,
    CaseState.COMPLETE,
    CaseState.SCREENING,
    CaseState.MORE_INFO,
    CaseState.HELD,
)
# Nobody has acted on it yet: held, or waiting for documents or screening (a form for a
# different child opened it), so it may be attached to another case.
ATTACHABLE = (CaseState.HELD, CaseState.INCOMPLETE, CaseState.COMPLETE)
# The administrator may screen, or screen again, any case whose documents are complete.
ADMINISTRATOR_MAY_SCREEN = (
    CaseState.COMPLETE,
    CaseState.SCREENING,
    CaseState.MORE_INFO,
    CaseState.APPROVED,
    CaseState.DECLINED,
)
# Complete, or waiting for the information a manager asked for: may be ready to screen (again).
MAY_BE_READY = (CaseState.COMPLETE, CaseState.MORE_INFO)
# The states the documents alone decide between: recomputed whenever a document comes or goes.
BY_DOCUMENTS = (CaseState.INCOMPLETE, CaseState.COMPLETE)
# Listed at a meeting and heard there, with no decision yet (R7, R9, R13): the states in which
# `rules.slots.is_listed` can list a case. Approved; a Section 20 emergency in any state still in
# play (heard even while its documents or screening are outstanding); or, when configured, a
# case listed unscreened. A decision moves each of them to DECIDED (`rules.lifecycle`).
HEARD_UNDECIDED = (
    CaseState.APPROVED,
    CaseState.INCOMPLETE,
    CaseState.COMPLETE,
    CaseState.SCREENING,
    CaseState.MORE_INFO,
)
# Heard and decided, or closed: an email on such a case is for a person to read, whatever it
# brings; nothing answers it automatically.
OVER = (CaseState.DECIDED, CaseState.CLOSED, CaseState.WITHDRAWN)
# The administrator may withdraw a case not yet heard, its referrer told (R17).
WITHDRAWABLE = (*IN_PLAY, CaseState.DECLINED)
# The administrator may close any case not already over, or one heard and decided (R17).
CLOSABLE = (*IN_PLAY, CaseState.DECLINED, CaseState.DECIDED)
# Mail a machine sent us: a referrer from whom only these came is not reminded (R8).
AUTOMATIC = frozenset({MessageCategory.AUTO_REPLY, MessageCategory.BOUNCE})
