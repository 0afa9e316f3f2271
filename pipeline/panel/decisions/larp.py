"""R13: a recommendation to the resource panel (LARP) goes to its contact with the case papers.

The papers are the case's pages of the meeting's pack, cut from the stored pack PDF by the
case's bookmark: exactly what the panel read, page for page, whatever has happened since.
Rebuilding them from `gather()` would not do: a decided case is no longer listed on its
meeting's agenda, and its documents could have changed. Only when no stored pack holds the case
(a pack purged, a case heard as a review) are its pages laid out afresh from its stored
conversions. The sheet goes with them. With no LARP contact configured the administrator is
sent the same papers and asked to pass them on: a recommendation is never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft, enqueue, staff_draft
from pipeline.outbox.wording import DOCX, when
from pipeline.outputs.decision_sheet import file_name
from pipeline.outputs.pack import case_pages, case_papers, stamp
from pipeline.rules.identifiers import age_on, initials
from pipeline.store.audit import audit
from pipeline.store.models import Decision, DecisionSheet, OutboxItem, Pack

log = logging.getLogger(__name__)

PDF = "application/pdf"


def papers(app: App, session: Session, decision: Decision) -> bytes:
    """The case's pages of the latest stored pack holding it (its meeting's first), else its
    documents laid out afresh."""
    reference = decision.case.reference
    packs = session.scalars(
        select(Pack)
        .where(Pack.panel_id == decision.panel_id, Pack.meeting <= decision.meeting)
        .order_by(
            (Pack.meeting == decision.meeting).desc(), Pack.meeting.desc(), Pack.version.desc()
        )
    )
    for pack in packs:
        if reference not in (pack.references or []):
            continue
        try:
            pages = case_pages(app.files.read(pack.stored_path), reference)
        except Exception as exc:
            # A missing or damaged pack (a disk error, a half-restored backup: StoreError,
            # pikepdf.PdfError, or anything else reading it) must not hold the sheet up:
            # try an older pack, then the case's own stored conversions.
            log.warning(
                "case %s: pack %d could not be read: %s",
                reference,
                pack.id,
                exc,
                extra={"reference": reference},
            )
            continue
        if pages is not None:
            return pages
    return case_papers(app, session, decision.case)


def refer_to_larp(
    app: App,
    session: Session,
    decision: Decision,
    sheet: DecisionSheet,
    docx: bytes,
    pdf: bytes | None,
) -> OutboxItem:
    """Send the papers and the sheet to the LARP contact (or, with none, the administrator);
    record and audit it. Once per sheet version: the purpose names the sheet."""
    case = decision.case
    people = app.config.people_of(decision.panel_id)
    contact = people.larp
    name = contact.name if contact is not None else people.administrator.name
    marking = app.config.pack.protective_marking
    files = [
        FileAttachment(
            f"{case.reference}-papers.pdf",
            PDF,
            stamp(papers(app, session, decision), name, marking=marking),
        ),
        FileAttachment(file_name(case.reference, "pdf"), PDF, pdf)
        if pdf is not None
        else FileAttachment(file_name(case.reference, "docx"), DOCX, docx),
    ]
    context = _context(app, decision, sheet.version, contact is not None)
    purpose = f"larp:{sheet.id}"
    if contact is None:
        draft = staff_draft(app, purpose, "larp_alert", context, case)
    else:
        # A configured person, but not one the sending policy lists: trusted for this email.
        draft = Draft(
            purpose=purpose,
            template="larp_referral",
            to=(contact.email,),
            context=context,
            case=case,
            trusted=(contact.email,),
        )
    item = enqueue(app, session, replace(draft, attachments=tuple(files)))
    audit(
        session,
        app.clock.now(),
        case,
        "larp-referral",
        version=sheet.version,
        outbox=item.id,
        to="larp" if contact is not None else "administrator",
    )
    return item


def _context(app: App, decision: Decision, version: int, contact: bool) -> dict[str, object]:
    case = decision.case
    fields = case.fields or {}
    day = decision.meeting.astimezone(app.config.tz).date()
    return {
        "reference": case.reference,
        "initials": initials(fields.get("child_name")),
        "age": age_on(fields.get("child_dob"), day),
        "panel_name": app.config.panel(decision.panel_id).name,
        "meeting": when(app.config.tz, decision.meeting),
        "larp_note": (decision.larp_note or "").strip() or "no note given",
        "version": version,
        "larp_configured": contact,
        "administrator": app.config.people_of(decision.panel_id).administrator.name,
        "panel_address": app.config.mailbox.address,
    }
