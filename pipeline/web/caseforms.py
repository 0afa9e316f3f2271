"""What the administrator's overrides on a case page offer (R17): the documents that may be
reclassified or accepted, the meetings the case may move to (of every panel), the words the
referrer would be sent on a withdrawal or a closure, and the sent emails that may go again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import LABELS, Kind, Status
from pipeline.intake.moves import ENDINGS, Ending, default_message
from pipeline.rules.meetings import upcoming
from pipeline.states import OVER, CaseState, OutboxState
from pipeline.store.models import Case, OutboxItem

# How many of the panel's coming meetings a case may be moved to from the page.
MOVE_CHOICES = 6


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class ChoiceGroup:
    """Choices under one heading (an <optgroup>): one panel's meetings."""

    label: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class SentEmail:
    id: int
    subject: str
    to: str
    sent_at: datetime | None


@dataclass(frozen=True)
class CaseForms:
    """The override forms a case page shows; an empty tuple or None hides a form."""

    reclassifiable: tuple[Choice, ...]
    kinds: tuple[Choice, ...]
    needs_review: tuple[Choice, ...]
    # Each panel's coming meetings, the case's own panel first: "<panel id>/<YYYY-MM-DD>".
    meetings: tuple[ChoiceGroup, ...]
    # The default words for the referrer, or None when the case cannot end that way.
    withdraw_message: str | None
    close_message: str | None
    sent: tuple[SentEmail, ...]


def _document_label(filename: str, doc_id: int, kind: str) -> str:
    return f"{filename} (document {doc_id}, read as {kind.replace('_', ' ')})"


def case_forms(app: App, session: Session, case: Case) -> CaseForms:
    open_case = case.state not in OVER and case.state != CaseState.HELD
    current = [d for d in case.documents if not d.superseded]
    # A document made into (or out of) the referral form is read again (`intake.reread`).
    reclassifiable = tuple(
        Choice(str(d.id), _document_label(d.filename, d.id, d.kind))
        for d in current
        if open_case and d.status != Status.REFUSED
    )
    needs_review = tuple(
        Choice(str(d.id), _document_label(d.filename, d.id, d.kind))
        for d in current
        if open_case and d.status == Status.NEEDS_REVIEW
    )
    kinds = tuple(Choice(k.value, LABELS[k]) for k in Kind)
    return CaseForms(
        reclassifiable=reclassifiable,
        kinds=kinds,
        needs_review=needs_review,
        meetings=_meetings(app, case),
        withdraw_message=_ending(app, session, case, "withdrawn"),
        close_message=_ending(app, session, case, "closed"),
        sent=_sent(session, case),
    )


def _meetings(app: App, case: Case) -> tuple[ChoiceGroup, ...]:
    if case.meeting is None or case.state in OVER or case.state == CaseState.HELD:
        return ()
    tz = app.config.tz
    # Routing may have chosen the wrong panel (R1): every panel's meetings are offered.
    panels = sorted(app.config.panels, key=lambda p: p.id != case.panel_id)
    groups = []
    for panel in panels:
        choices = tuple(
            Choice(
                f"{panel.id}/{m.starts_at.astimezone(tz).date().isoformat()}",
                _meeting_label(m.starts_at, tz),
            )
            for m in upcoming(panel, tz, app.clock.now(), MOVE_CHOICES)
            if panel.id != case.panel_id or m.starts_at != case.meeting
        )
        own = " (its panel now)" if panel.id == case.panel_id else ""
        if choices:
            groups.append(ChoiceGroup(f"{panel.name}{own}", choices))
    return tuple(groups)


def _meeting_label(starts_at: datetime, tz: tzinfo) -> str:
    local = starts_at.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


def _ending(app: App, session: Session, case: Case, ending: Ending) -> str | None:
    _, allowed = ENDINGS[ending]
    if case.state not in allowed or case.meeting is None:
        return None
    return default_message(app, session, case.reference, ending)


def _sent(session: Session, case: Case) -> tuple[SentEmail, ...]:
    items = session.scalars(
        select(OutboxItem)
        .where(OutboxItem.case_id == case.id, OutboxItem.status == OutboxState.SENT)
        .order_by(OutboxItem.sent_at, OutboxItem.id)
    )
    return tuple(SentEmail(i.id, i.subject, ", ".join(i.addresses), i.sent_at) for i in items)
