"""Retention (SPEC §7): working copies are purged once their time is up.

The panel inbox keeps raw emails, the documents, their PDF conversions, the packs and the
emails it sent, all holding special-category data about children. They are working copies:
the council's record of a case lives in its case management system. So, `retention` days after
anything last happened on a case (it arrived, it was listed for a meeting, a document or an
email came in), its files are deleted and what was read from them is cleared; the case keeps its
reference, dates, states and audit trail, so what was sent to whom and when can still be shown.
Packs go `working_copies_days` after their meeting, quarantined emails after `quarantine_days`,
and emails that never became part of a case (auto-replies, bounces) after `working_copies_days`.

Files are stored once per content, so the same bytes can belong to a case that is still live
(one chronology sent for two siblings): a file is only deleted when no row still points at it,
and only after the purge is committed, so a failed purge never leaves a row pointing at nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.outbox.queue import audit
from pipeline.panel.jobs import Job, bind
from pipeline.store.models import (
    Case,
    Conversion,
    Document,
    Message,
    OutboxItem,
    Pack,
    ScreeningRequest,
)

log = logging.getLogger(__name__)

PURGED = "purged"
# What a purged document's file name becomes: a name can itself name the child.
REMOVED = "(removed after the retention period)"


def retention_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A purge for each case, pack and loose email whose retention period has run out."""
    keep = timedelta(days=app.config.retention.working_copies_days)
    quarantine = timedelta(days=app.config.retention.quarantine_days)
    for case_id, last in _case_activity(session, now - keep):
        yield Job(f"purge:case:{case_id}", last + keep, bind(purge_case, case_id), case_id)
    packs = select(Pack.id, Pack.meeting).where(Pack.stored_path != "", Pack.meeting < now - keep)
    for pack_id, meeting in session.execute(packs):
        yield Job(f"purge:pack:{pack_id}", meeting + keep, bind(purge_pack, pack_id))
    loose = select(Message.id, Message.status, Message.stored_at).where(
        Message.case_id.is_(None),
        Message.status != PURGED,
        Message.stored_at < now - min(keep, quarantine),
    )
    for message_id, status, stored_at in session.execute(loose):
        after = quarantine if status == "quarantined" else keep
        yield Job(f"purge:email:{message_id}", stored_at + after, bind(purge_email, message_id))


def _case_activity(session: Session, before: datetime) -> list[tuple[int, datetime]]:
    """(case id, when anything last happened on it) for unpurged cases quiet since `before`."""
    documents = (
        select(Document.case_id, func.max(Document.created_at).label("at"))
        .group_by(Document.case_id)
        .subquery()
    )
    messages = (
        select(Message.case_id, func.max(Message.received_at).label("at"))
        .where(Message.case_id.is_not(None))
        .group_by(Message.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case, documents.c.at, messages.c.at)
        .outerjoin(documents, documents.c.case_id == Case.id)
        .outerjoin(messages, messages.c.case_id == Case.id)
        .where(Case.received_at < before)
    )
    found = []
    for case, document_at, message_at in rows:
        if PURGED in case.flags:
            continue
        times = [case.received_at, case.meeting, document_at, message_at]
        last = max(_aware(t) for t in times if t is not None)
        if last < before:
            found.append((case.id, last))
    return found


def _aware(moment: datetime) -> datetime:
    # Aggregates come back from SQLite as naive UTC (the column type is not applied to them).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def purge_case(app: App, session: Session, case_id: int) -> None:
    """Delete a case's files and clear what was read from them; keep its history."""
    case = session.get(Case, case_id)
    if case is None or PURGED in case.flags:
        return
    paths: list[str] = []
    for document in case.documents:
        paths.append(document.stored_path)
        paths += _conversion_paths(session, document)
        document.stored_path, document.filename = "", REMOVED
        document.fields = {}
        document.classification = ""
    for message in case.messages:
        paths.append(message.raw_path)
        message.raw_path, message.status, message.error = "", PURGED, None
    for item in session.scalars(select(OutboxItem).where(OutboxItem.case_id == case.id)):
        paths.append(item.raw_path)
        item.raw_path = ""
        if item.status in ("pending", "held"):
            # Long given up on by now; with its bytes gone it can never be sent.
            item.status = PURGED
    for request in session.scalars(
        select(ScreeningRequest).where(ScreeningRequest.case_id == case.id)
    ):
        # A manager's reason may describe the family.
        request.reason = None
    case.fields = {}
    case.child_key = None
    case.flags = [*case.flags, PURGED]
    deleted = _delete_unused(app, session, paths)
    audit(session, app, case, "purged", files=deleted, after_days=_days(app))
    log.info("case %s: working copies purged (%d files)", case.reference, deleted)


def _conversion_paths(session: Session, document: Document) -> list[str]:
    """The document's PDF conversion, unless the same bytes are still live on another case."""
    others = select(Document.id).where(
        Document.sha256 == document.sha256,
        Document.id != document.id,
        Document.stored_path != "",
    )
    if session.scalar(others.limit(1)) is not None:
        return []
    paths = []
    for conversion in session.scalars(
        select(Conversion).where(Conversion.source_sha256 == document.sha256)
    ):
        if conversion.pdf_path:
            paths.append(conversion.pdf_path)
        session.delete(conversion)
    return paths


def purge_pack(app: App, session: Session, pack_id: int) -> None:
    """Delete a pack's PDF; the record of who received it stays (`pack_sends`)."""
    pack = session.get(Pack, pack_id)
    if pack is None or not pack.stored_path:
        return
    path, pack.stored_path = pack.stored_path, ""
    deleted = _delete_unused(app, session, [path])
    audit(session, app, None, "purged", pack=pack.id, files=deleted, after_days=_days(app))


def purge_email(app: App, session: Session, message_id: int) -> None:
    """Delete an email that never joined a case (quarantined, an auto-reply, a bounce)."""
    message = session.get(Message, message_id)
    if message is None or message.case_id is not None or message.status == PURGED:
        return
    path = message.raw_path
    # The traceback of a quarantined email can quote its contents.
    message.raw_path, message.status, message.error = "", PURGED, None
    deleted = _delete_unused(app, session, [path])
    audit(session, app, None, "purged", ledger=message.id, files=deleted)


def _days(app: App) -> int:
    return app.config.retention.working_copies_days


def _delete_unused(app: App, session: Session, paths: list[str]) -> int:
    """Delete, once this transaction commits, each of `paths` no row points at any more."""
    session.flush()
    unused = sorted({path for path in paths if path and not _in_use(session, path)})
    if unused:

        def delete(_session: Session) -> None:
            for path in unused:
                app.files.absolute(path).unlink(missing_ok=True)

        event.listen(session, "after_commit", delete, once=True)
    return len(unused)


def _in_use(session: Session, path: str) -> bool:
    users = (
        select(Message.id).where(Message.raw_path == path),
        select(Document.id).where(Document.stored_path == path),
        select(OutboxItem.id).where(OutboxItem.raw_path == path),
        select(Pack.id).where(Pack.stored_path == path),
        select(Conversion.id).where(Conversion.pdf_path == path),
    )
    return any(session.scalar(query.limit(1)) is not None for query in users)
