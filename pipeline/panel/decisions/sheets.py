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

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import ConversionError, describe_failure
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
from pipeline.store.reviews import current_decisions

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
    return current_decisions(session, states=OVER, up_to=now, by_meeting=True)


@dataclass(frozen=True)
class Broken:
    """A decision whose sheet could not even be worked out (its facts raised)."""

    decision_id: int
    case_id: int
    reference: str
    recorded_at: datetime
    problem: str


def _scan(app: App, session: Session, now: datetime) -> tuple[list[Pending], list[Broken]]:
    """Every decision whose sheet is still to make and send, by panel and meeting, and those
    whose facts could not be read. Each decision is guarded: one that raises never keeps the
    other referrers' sheets (this runs in the job source) from going.

    Only a decision recorded since its last sheet is read again (an import sets
    `recorded_at`), so a tick does not re-read years of decided cases.
    """
    found: list[Pending] = []
    broken: list[Broken] = []
    for decision in _current(session, now):
        try:
            item = _pending_one(app, session, decision)
        except Exception as exc:
            reference = decision.case.reference
            problem = describe_failure(exc)
            log.error(
                "case %s: its decision sheet could not be prepared: %s",
                reference,
                problem,
                extra={"reference": reference},
            )
            at = decision.recorded_at
            broken.append(Broken(decision.id, decision.case_id, reference, at, problem))
            continue
        if item is not None:
            found.append(item)
    return found, broken


def _pending_one(app: App, session: Session, decision: Decision) -> Pending | None:
    if PURGED in (decision.case.flags or []):
        return None
    last = latest_sheet(session, decision.id)
    if last is not None and decision.recorded_at <= last.created_at:
        return None
    facts = sheet_facts(app.config, decision.case, decision)
    if last is not None and last.inputs_sha256 == facts.digest():
        return None
    return Pending(decision, facts, 1 if last is None else last.version + 1)


def pending(app: App, session: Session, now: datetime) -> list[Pending]:
    """Every decision whose sheet is still to make and send, by panel and meeting."""
    return _scan(app, session, now)[0]


def sheet_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one job per meeting with sheets to send, due at once.

    The key holds each pending decision's version and digest: a corrected decision makes a
    new key (its next version), and the same contents never make a second job. It holds the
    panel's day too: a sheet that failed (the others of its meeting went) is tried again
    the next day, and the administrator is told once (see `_alert_failed`).
    """
    found, broken = _scan(app, session, now)
    day = now.astimezone(app.config.tz).date().isoformat()
    for (panel_id, meeting), group in groupby(
        found, key=lambda p: (p.decision.panel_id, p.decision.meeting)
    ):
        items = list(group)
        digest = hashlib.sha256(",".join(p.tag for p in items).encode()).hexdigest()[:16]
        key = f"sheets:{panel_id}:{meeting_stamp(app.config.tz, meeting)}:{day}:{digest}"
        due = min(min(p.decision.recorded_at for p in items), now)
        ids = [p.decision.id for p in items]
        yield Job(key, due, bind(send_sheets, ids))
    for b in broken:
        key = f"sheet-broken:{b.decision_id}:{b.recorded_at.isoformat()}"
        yield Job(key, now, bind(_alert_broken, b), b.case_id)


def _alert_broken(app: App, session: Session, broken: Broken) -> None:
    case = session.get(Case, broken.case_id)
    if case is not None:
        tag = f"{broken.decision_id}:{broken.recorded_at.isoformat()}"
        _alert_failed(app, session, case, tag, broken.problem)


def send_sheets(app: App, session: Session, decision_ids: Sequence[int]) -> None:
    """Make, store and send the sheet of each decision still pending (read again now).

    Each case is its own unit (a savepoint): one whose sheet or LARP papers fail is rolled
    back alone, the administrator is told once for that version, and the others go.
    """
    wanted = set(decision_ids)
    items = [p for p in pending(app, session, app.clock.now()) if p.decision.id in wanted]
    if not items:
        return
    template = template_bytes()
    made_at = app.clock.now()
    made: list[tuple[Pending, bytes]] = []
    for item in items:
        try:
            made.append((item, sheet_docx(item.facts, item.version, made_at, template)))
        except Exception as exc:
            _failed(app, session, item, exc)
    pdfs, problem = _pdfs(app, [docx for _, docx in made])
    for (item, docx), pdf in zip(made, pdfs, strict=True):
        try:
            with session.begin_nested():
                send_sheet(app, session, item, docx, pdf, problem)
        except Exception as exc:
            _failed(app, session, item, exc)


def _failed(app: App, session: Session, item: Pending, exc: Exception) -> None:
    case = item.decision.case
    log.error(
        "case %s: decision sheet v%d was not sent (tried again tomorrow): %s",
        case.reference,
        item.version,
        describe_failure(exc),
    )
    _alert_failed(app, session, case, f"{item.decision.id}:v{item.version}", describe_failure(exc))


def _alert_failed(app: App, session: Session, case: Case, tag: str, problem: str) -> None:
    """Tell the administrator a sheet did not go: once per decision version (the purpose)."""
    context = {
        "reference": case.reference,
        "problem": problem,
        "panel_address": app.config.mailbox.address,
    }
    purpose = f"decision-sheet-failed:{tag}"
    enqueue(app, session, staff_draft(app, purpose, "decision_sheet_failed", context, case))


def _pdfs(app: App, documents: Sequence[bytes]) -> tuple[list[bytes | None], str]:
    """Each sheet's PDF (None where none was made), and why any was not."""
    if not documents:
        return [], ""
    try:
        made = sheets_to_pdf(app.config, documents, app.stop)
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
        # With no LARP contact the administrator passes the papers on: the referrer is told so.
        "larp_configured": app.config.people_of(decision.panel_id).larp is not None,
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
