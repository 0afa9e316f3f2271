"""What every administrator override (R17) shares: who did it, what it changed, and putting a
case back where the rules say once its documents or meeting have changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.panel.cutoff import cutoff_key
from pipeline.states import CaseState
from pipeline.store.models import Case, JobRun, OutboxItem


@dataclass(frozen=True)
class Changed:
    """What an override did to a case: its state and meeting afterwards, one sentence per
    change (for the terminal and the console), and the ids of the emails it queued.

    The sentences may name a document's file: show them to the administrator, never log them
    (SPEC §7: a file name can name a child)."""

    reference: str
    state: CaseState
    meeting: date | None
    changes: tuple[str, ...]
    queued: tuple[int, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return " ".join(self.changes) or f"{self.reference}: nothing changed."


def changed(app: App, case: Case, changes: list[str], queued: list[OutboxItem]) -> Changed:
    meeting = case.meeting.astimezone(app.config.tz).date() if case.meeting else None
    return Changed(
        case.reference, case.state, meeting, tuple(changes), tuple(item.id for item in queued)
    )


def next_purpose(session: Session, case: Case, template: str) -> str:
    """A fresh outbox purpose for the case's next email of `template`: an override done twice
    tells the referrer twice, where a job's purpose would send once."""
    sent = session.scalar(
        select(func.count(OutboxItem.id)).where(
            OutboxItem.case_id == case.id, OutboxItem.template == template
        )
    )
    return f"{template}:case:{case.id}:{(sent or 0) + 1}"


def keep_at_meeting(app: App, session: Session, case: Case, starts_at: datetime) -> None:
    """The administrator put the case on a meeting whose deadline has passed: its cut-off there
    (R6) is recorded as skipped, so the next tick does not defer it straight back."""
    key = cutoff_key(app, case.id, starts_at)
    if session.scalar(select(JobRun.id).where(JobRun.key == key)) is None:
        session.add(
            JobRun(
                key=key,
                case_id=case.id,
                ran_at=app.clock.now(),
                outcome="skipped",
                detail={"reason": "the administrator listed the case for this meeting"},
            )
        )
