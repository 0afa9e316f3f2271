"""The audit trail: what happened to a case, when, and why, in ids and reasons only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.store.models import AuditEvent, Case


def audit(session: Session, at: datetime, case: Case | None, action: str, **detail: Any) -> None:
    """Record what happened; details hold ids and reasons, never names or document text."""
    session.add(
        AuditEvent(
            at=at,
            case_id=case.id if case is not None else None,
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )
