"""R13: each decision's sheet, made and sent to the referrer (cc the Lead Professional) as soon
as the decision is recorded; the requirement is within `decisions.sheet_days` of the meeting.

A sheet is versioned by the digest of what it says: the same contents never make (or send) a
second version, and a corrected decision makes the next version and sends it. A meeting's
pending sheets are converted to PDF in one LibreOffice call (starting it costs more than a
page). A PDF that cannot be made never holds a sheet up: the Word copy goes alone and the
administrator is told. A sheet sent late still goes; its `sent_at` and audit line show when.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import ConversionError
from pipeline.jobs import Job, bind
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outbox.wording import DOCX, when
from pipeline.outputs.decision_sheet import (
    SheetFacts,
    file_name,
    sheet_docx,
    sheet_facts,
    sheets_to_pdf,
    template_bytes,
)
from pipeline.panel.decisions.larp import refer_to_larp
from pipeline.rules.chase import sheets_due
from pipeline.rules.meetings import meeting_stamp
from pipeline.states import OVER
from pipeline.store.audit import audit
from pipeline.store.models import PURGED, Case, Decision, DecisionSheet

log = logging.getLogger(__name__)

PDF = "application/pdf"


@dataclass(frozen=True)
class Pending:
    """A decision whose sheet, for what it now says, has not been made and sent."""

    decision: Decision
    facts: SheetFacts
    version: int

    @property
    def tag(self) -> str:
        return f"{self.decision.id}:v{self.version}:{self.facts.digest()[:16]}"


def latest_sheet(session: Session, decision_id: int) -> DecisionSheet | None:
    query = select(DecisionSheet).where(DecisionSheet.decision_id == decision_id)
    return session.scalar(query.order_by(DecisionSheet.version.desc()).limit(1))


def _current(session: Session, now: datetime) -> Iterator[Decision]:
    """Each decided (or since closed) case's latest decision, from a meeting that has begun."""
    latest = (
        select(Decision.case_id, func.max(Decision.meeting).label("meeting"))
        .where(Decision.meeting <= now)
        .group_by(Decision.case_id)
        .subquery()
    )
    query = (
        select(Decision)
        .join(
            latest,
            (Decision.case_id == latest.c.case_id) & (Decision.meeting == latest.c.meeting),
        )
        .join(Case, Case.id == Decision.case_id)
        .where(Case.state.in_(OVER))
        .order_by(Decision.panel_id, Decision.meeting, Decision.case_id)
    )
    yield from session.scalars(query)


def pending(app: App, session: Session, now: datetime) -> list[Pending]:
    """Every decision whose sheet is still to make and send, by panel and meeting.

    Only a decision recorded since its last sheet is read again (an import sets
    `recorded_at`), so a tick does not re-read years of decided cases.
    """
    found = []
    for decision in _current(session, now):
        if PURGED in (decision.case.flags or []):
            continue
        last = latest_sheet(session, decision.id)
        if last is not None and decision.recorded_at <= last.created_at:
            continue
        facts = sheet_facts(app.config, decision.case, decision)
        if last is not None and last.inputs_sha256 == facts.digest():
            continue
        found.append(Pending(decision, facts, 1 if last is None else last.version + 1))
    return found


def sheet_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one job per meeting with sheets to send, due at once.

    The key holds each pending decision's version and digest: a corrected decision makes a
    new key (its next version), and the same contents never make a second job.
    """
    for (panel_id, meeting), group in groupby(
        pending(app, session, now), key=lambda p: (p.decision.panel_id, p.decision.meeting)
    ):
        items = list(group)
        digest = hashlib.sha256(",".join(p.tag for p in items).encode()).hexdigest()[:16]
        key = f"sheets:{panel_id}:{meeting_stamp(app.config.tz, meeting)}:{digest}"
        due = min(min(p.decision.recorded_at for p in items), now)
        ids = [p.decision.id for p in items]
        yield Job(key, due, bind(send_sheets, ids))


def send_sheets(app: App, session: Session, decision_ids: Sequence[int]) -> None:
    """Make, store and send the sheet of each decision still pending (read again now)."""
    wanted = set(decision_ids)
    items = [p for p in pending(app, session, app.clock.now()) if p.decision.id in wanted]
    if not items:
        return
    template = template_bytes()
    made_at = app.clock.now()
    documents = [sheet_docx(p.facts, p.version, made_at, template) for p in items]
    pdfs, problem = _pdfs(app, documents)
    for item, docx, pdf in zip(items, documents, pdfs, strict=True):
        send_sheet(app, session, item, docx, pdf, problem)


def _pdfs(app: App, documents: Sequence[bytes]) -> tuple[list[bytes | None], str]:
    """Each sheet's PDF (None where none was made), and why any was not."""
    try:
        made = sheets_to_pdf(app.config, documents)
    except ConversionError as exc:
        log.warning("decision sheets were not converted to PDF: %s", exc)
        return [None] * len(documents), str(exc)
    return made, "LibreOffice could not convert it"


def send_sheet(
    app: App, session: Session, item: Pending, docx: bytes, pdf: bytes | None, problem: str
) -> DecisionSheet:
    """Store one sheet, refer a LARP recommendation, email the referrer, record and audit."""
    decision, case = item.decision, item.decision.case
    now = app.clock.now()
    sheet = DecisionSheet(
        case_id=case.id,
        decision_id=decision.id,
        version=item.version,
        inputs_sha256=item.facts.digest(),
        docx_path=app.files.put("decisions", docx, ".docx")[1],
        pdf_path=app.files.put("decisions", pdf, ".pdf")[1] if pdf is not None else None,
        created_at=now,
    )
    session.add(sheet)
    session.flush()
    # The LARP contact first: the referrer's sheet says the papers have gone to it.
    if decision.larp:
        sheet.larp_outbox_id = refer_to_larp(app, session, decision, sheet, docx, pdf).id
    files = [FileAttachment(file_name(case.reference, "docx"), DOCX, docx)]
    if pdf is not None:
        files.insert(0, FileAttachment(file_name(case.reference, "pdf"), PDF, pdf))
    draft = referrer_draft(
        session,
        case,
        f"decision-sheet:{sheet.id}",
        "decision_sheet",
        _context(app, item, pdf is not None),
        tuple(files),
    )
    if decision.lead_email:
        # The Lead Professional was named by the administrator in a token-checked workbook.
        lead = decision.lead_email
        draft = replace(draft, cc=(*draft.cc, lead), trusted=(*draft.trusted, lead))
    outbox = enqueue(app, session, draft)
    sheet.outbox_id, sheet.sent_at = outbox.id, now
    due = sheets_due(decision.meeting, app.config.tz, app.config.decisions.sheet_days)
    audit(
        session,
        now,
        case,
        "decision-sheet-sent",
        version=item.version,
        outbox=outbox.id,
        pdf=pdf is not None,
        on_time=now < due,
    )
    if pdf is None:
        _alert_no_pdf(app, session, case, item.version, problem)
    return sheet


def _context(app: App, item: Pending, has_pdf: bool) -> dict[str, object]:
    decision, facts = item.decision, item.facts
    return {
        "reference": facts.reference,
        "panel_name": facts.panel_name,
        "meeting": when(app.config.tz, decision.meeting),
        "outcome": facts.outcome,
        "review": facts.review,
        "larp": bool(facts.larp),
        "version": item.version,
        "has_pdf": has_pdf,
        "lead_name": decision.lead_name or "",
        "panel_address": app.config.mailbox.address,
    }


def _alert_no_pdf(app: App, session: Session, case: Case, version: int, problem: str) -> None:
    context = {
        "reference": case.reference,
        "version": version,
        "problem": problem,
        "panel_address": app.config.mailbox.address,
    }
    purpose = f"decision-sheet-no-pdf:{case.id}:v{version}"
    enqueue(app, session, staff_draft(app, purpose, "decision_sheet_alert", context, case))
