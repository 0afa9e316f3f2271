"""The audit trail: what happened to a case, when, and why, in ids and reasons only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pipeline.errors import PipelineError
from pipeline.store.models import AuditEvent, Case
from pipeline.text import clean_text

# An actor is written to the audit trail as given ("cli:jo", "web:jo@example.org").
MAX_ACTOR = 200


def audit(session: Session, at: datetime, case: Case | None, action: str, **detail: Any) -> None:
    """Record what happened; details hold ids and reasons, never names or document text."""
    audit_case(session, at, case.id if case is not None else None, action, **detail)


def audit_case(
    session: Session, at: datetime, case_id: int | None, action: str, **detail: Any
) -> None:
    """`audit`, for a step that has the case's id only."""
    # Written at once, as one plain INSERT: an event is never changed once written, so the
    # ORM's bookkeeping of an object (about a third of a filing's database time went on it for
    # the three events a referral writes) would buy nothing.
    session.connection().execute(
        insert(AuditEvent).values(
            at=at,
            case_id=case_id,
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )


def checked_actor(actor: str) -> str:
    """Who did something, as the audit trail records it (R17): one line, never empty."""
    cleaned = " ".join(clean_text(actor).split())
    if not cleaned or len(cleaned) > MAX_ACTOR:
        raise PipelineError(
            f"say who made the change (one line of at most {MAX_ACTOR} characters), "
            "e.g. 'cli:jo' or 'web:jo@example.org'"
        )
    return cleaned
