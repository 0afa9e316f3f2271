"""Emails the panel sends a case's referrer of its own accord (a decision, a timeslot),
threaded under the acknowledgement they already have, so they read as one conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft
from pipeline.store.models import Case, OutboxItem


def acknowledgement_id(session: Session, case: Case) -> str | None:
    """The Message-ID of the first acknowledgement sent for this case, if there was one."""
    return session.scalar(
        select(OutboxItem.message_id)
        .where(OutboxItem.case_id == case.id, OutboxItem.template == "acknowledgement")
        .order_by(OutboxItem.id)
        .limit(1)
    )


def referrer_draft(
    session: Session,
    case: Case,
    purpose: str,
    template: str,
    context: dict[str, Any],
    attachments: tuple[FileAttachment, ...] = (),
) -> Draft:
    """An email to the case's referrer, in the thread of their acknowledgement."""
    parent = acknowledgement_id(session, case)
    # R5: whoever forwarded the referral to us is copied on everything its referrer is sent.
    cc = (case.forwarded_by,) if case.forwarded_by else ()
    return Draft(
        purpose=purpose,
        template=template,
        to=(case.referrer_email,),
        cc=cc,
        context=context,
        case=case,
        in_reply_to=parent,
        references=(parent,) if parent else (),
        attachments=attachments,
        # SPEC §7: the referrer (and forwarder) may always be written to about their own case.
        trusted=(case.referrer_email, *cc),
    )
