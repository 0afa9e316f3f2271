"""Retention (SPEC §7): working copies are purged once their time is up.

The panel inbox keeps raw emails, the documents, their PDF conversions, the packs and the
emails it sent, all holding special-category data about children. They are working copies:
the council's record of a case lives in its case management system. So, `working_copies_days`
after anything last came in on a case (the referral, a document, an email) or it was last given
a time at a meeting, its files are deleted and what was read from them is cleared, and a case
still waiting for something is closed; it keeps its reference, dates and audit trail, so what
was sent to whom and when can still be shown. Packs and the emails that carried them go
`working_copies_days` after their meeting; other emails about no case (digests, alerts, replies
to loose emails) that long after they were written; emails that never joined a case
(auto-replies, bounces) that long after they arrived, or `quarantine_days` if quarantined.

Files are stored once per content, so the same bytes can belong to a row that is still live
(one genogram sent for two siblings): a file is only deleted when no row points at it any more,
after the purge is committed, and not if it was stored again meanwhile (`delete_unless_touched`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Subquery, event, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.states import WAITING, CaseState, MessageState, OutboxState
from pipeline.store.audit import audit
from pipeline.store.lifecycle import move
from pipeline.store.models import (
    PURGED,
    Case,
    Conversion,
    Decision,
    DecisionSheet,
    Document,
    FollowUp,
    Message,
    OutboxItem,
    Pack,
    ScreeningRequest,
    Slot,
)

log = logging.getLogger(__name__)

# What a purged document's file name becomes: a name can itself name the child.
REMOVED = "(removed after the retention period)"


def retention_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A purge for each case, pack and email whose retention period has run out."""
    keep = timedelta(days=app.config.retention.working_copies_days)
    quarantine = timedelta(days=app.config.retention.quarantine_days)
    for case_id, last in _quiet_cases(session, now - keep):
        # Keyed by the last activity: a case that comes alive again is purged again later.
        key = f"purge:case:{case_id}:{last:%Y%m%dT%H%M%S}"
        yield Job(key, last + keep, bind(purge_case, case_id, last), case_id)
    packs = select(Pack.id, Pack.meeting).where(Pack.stored_path != "", Pack.meeting < now - keep)
    for pack_id, meeting in session.execute(packs):
        yield Job(f"purge:pack:{pack_id}", meeting + keep, bind(purge_pack, pack_id))
    # From when the email was stored here, not the server's date for it (an import of an old
    # mailbox would otherwise purge a fresh quarantine before anyone saw it).
    loose = select(Message.id, Message.status, Message.stored_at).where(
        Message.case_id.is_(None),
        Message.status != MessageState.PURGED,
        Message.stored_at < now - min(keep, quarantine),
    )
    for message_id, status, stored_at in session.execute(loose):
        after = quarantine if status == MessageState.QUARANTINED else keep
        yield Job(f"purge:email:{message_id}", stored_at + after, bind(purge_email, message_id))
    # Emails about no case are many (every pack email is one): one sweep a day takes them,
    # and another the files no row points at.
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yield Job(f"purge:sent:{day:%Y-%m-%d}", day, bind(purge_sent, day - keep))
    yield Job(f"purge:leftovers:{day:%Y-%m-%d}", day, bind(purge_leftovers))


def _quiet_cases(
    session: Session, before: datetime, case_id: int | None = None
) -> list[tuple[int, datetime]]:
    """(case id, its last activity) for cases with files left and nothing since `before`.

    Activity is what came in (the referral, documents, emails), the meetings the case was given
    a time at, the meeting a case that is through screening is listed for, and after its
    meeting its decisions, decision sheets, follow-ups and review date (which can be ahead).
    Not the meeting a waiting case is put forward to at each cut-off, or a referral abandoned
    half-way would be kept, and its referrer told, for ever.
    """
    documents = _latest(Document.case_id, Document.created_at, Document.stored_path != "")
    messages = _latest(Message.case_id, Message.received_at, Message.status != MessageState.PURGED)
    slots = _latest(Slot.case_id, Slot.meeting)
    # After the meeting (R13, R14): a case under review is alive while its decisions, sheets
    # and follow-ups go on, and a review date still to come keeps it (a DECIDED case is not
    # purged from under the panel that is to review it).
    after = [
        _latest(Decision.case_id, Decision.recorded_at),
        _latest(Decision.case_id, Decision.meeting),
        _latest(DecisionSheet.case_id, DecisionSheet.created_at),
        _latest(FollowUp.case_id, FollowUp.due_at),
        _latest(FollowUp.case_id, FollowUp.asked_at),
        _latest(FollowUp.case_id, FollowUp.reminded_at),
        _latest(FollowUp.case_id, FollowUp.answered_at),
    ]
    reviews = _latest(Decision.case_id, Decision.review_date)
    query = (
        select(Case.id, Case.state, Case.meeting, reviews.c.at, Case.received_at)
        .add_columns(documents.c.at, messages.c.at, slots.c.at, *(q.c.at for q in after))
        .outerjoin(documents, documents.c.case_id == Case.id)
        .outerjoin(messages, messages.c.case_id == Case.id)
        .outerjoin(slots, slots.c.case_id == Case.id)
        .outerjoin(reviews, reviews.c.case_id == Case.id)
        # A purged case has no files left, unless something new came in on it since.
        .where(Case.received_at < before)
        .where(or_(documents.c.at.is_not(None), messages.c.at.is_not(None)))
    )
    for q in after:
        query = query.outerjoin(q, q.c.case_id == Case.id)
    if case_id is not None:
        query = query.where(Case.id == case_id)
    found = []
    for row_id, state, meeting, review, *times in session.execute(query):
        if state not in WAITING:
            times.append(meeting)
        if review is not None:
            # The end of the review day (UTC: a day either way is nothing beside the period).
            times.append(datetime.combine(review + timedelta(days=1), time(0), UTC))
        last = max(moment for moment in times if moment is not None)
        if last < before:
            found.append((row_id, last))
    return found


def _latest(
    case_id: InstrumentedAttribute[Any],
    moment: InstrumentedAttribute[Any],
    *where: ColumnElement[bool],
) -> Subquery:
    """Per case, the latest `moment` of the rows matching `where`, as a subquery (case_id, at)."""
    query = select(case_id, func.max(moment).label("at")).where(case_id.is_not(None), *where)
    return query.group_by(case_id).subquery()


def purge_case(app: App, session: Session, case_id: int, last: datetime) -> None:
    """Delete a case's files and clear what was read from them; keep its history.

    Checked again here, in the purge's own transaction: something that came in since the job
    was listed (another `masp` process filing an email) keeps the case.
    """
    keep = timedelta(days=_days(app))
    # Locked before the check: an email being filed to this case (which locks it too, see
    # `intake.cases`) either commits first and is seen by the check, or waits for the purge.
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None or _quiet_cases(session, last + keep, case_id) != [(case_id, last)]:
        return
    paths: list[str] = []
    for document in case.documents:
        if document.stored_path:
            paths += [document.stored_path, *_conversion_paths(session, document)]
        document.stored_path, document.filename = "", REMOVED
        document.fields = {}
        document.classification = ""
    for message in case.messages:
        paths.append(message.raw_path)
        message.raw_path, message.status, message.error = "", MessageState.PURGED, None
    for item in session.scalars(select(OutboxItem).where(OutboxItem.case_id == case.id)):
        paths.append(_forget(item))
    for request in session.scalars(
        select(ScreeningRequest).where(ScreeningRequest.case_id == case.id)
    ):
        # A manager's reason may describe the family; a reply to a request still open would
        # reopen a closed case, so the request is spent.
        request.reason = None
        request.used_at = request.used_at or app.clock.now()
    if case.state in WAITING:
        # Nothing will come of it now: no more reminders, cut-offs or screening for it.
        move(case, CaseState.CLOSED)
        case.meeting = None
    case.fields = {}
    case.child_key = None
    case.flags = [*[flag for flag in case.flags if flag != PURGED], PURGED]
    deleted = _delete_unused(app, session, paths)
    audit(session, app.clock.now(), case, "purged", unused_files=deleted, after_days=_days(app))
    log.info(
        "case %s: working copies purged (%d files)",
        case.reference,
        deleted,
        extra={"reference": case.reference},
    )


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


def _forget(item: OutboxItem) -> str:
    """Clear a sent email's bytes from its row (the row stays: who, what, when); its path."""
    path, item.raw_path = item.raw_path, ""
    if item.status in (OutboxState.PENDING, OutboxState.HELD):
        # Long given up on by now; with its bytes gone it can never be sent.
        item.status = OutboxState.PURGED
    return path


def purge_pack(app: App, session: Session, pack_id: int) -> None:
    """Delete a pack's PDF and the emails that carried it; who received it stays on record."""
    pack = session.get(Pack, pack_id)
    if pack is None or not pack.stored_path:
        return
    paths = [pack.stored_path]
    pack.stored_path = ""
    emails = select(OutboxItem).where(OutboxItem.purpose.startswith(f"pack:{pack.id}:"))
    paths += [_forget(item) for item in session.scalars(emails)]
    deleted = _delete_unused(app, session, paths)
    audit(
        session,
        app.clock.now(),
        None,
        "purged",
        pack=pack.id,
        unused_files=deleted,
        after_days=_days(app),
    )


def purge_sent(app: App, session: Session, before: datetime) -> None:
    """Delete the emails about no case written before `before` (digests, alerts, replies)."""
    emails = select(OutboxItem).where(
        OutboxItem.case_id.is_(None), OutboxItem.raw_path != "", OutboxItem.created_at < before
    )
    paths = [_forget(item) for item in session.scalars(emails)]
    if paths:
        deleted = _delete_unused(app, session, paths)
        audit(session, app.clock.now(), None, "purged", emails=len(paths), unused_files=deleted)


# The areas of data_dir whose files rows point at (`FileStore.put` callers); another area is
# never swept.
SWEPT_AREAS = ("raw", "documents", "pdf", "packs", "outbox")


def purge_leftovers(app: App, session: Session) -> None:
    """Delete files no row points at: left by a crash between a purge's commit and its
    deletions, by a file kept because it was stored again in its last day and then never
    used, or by a crash between storing a file and committing its row (a day on, as always).
    """
    referenced = {
        path for column in _PATH_COLUMNS for path in session.scalars(select(column)) if path
    }
    deleted = sum(
        app.files.delete_unless_touched(path, stored)
        for path, stored in app.files.leftovers(SWEPT_AREAS, referenced)
    )
    if deleted:
        audit(session, app.clock.now(), None, "purged", leftover_files=deleted)


def purge_email(app: App, session: Session, message_id: int) -> None:
    """Delete an email that never joined a case (quarantined, an auto-reply, a bounce)."""
    # Locked as filing locks it (`intake.filing`): an email is purged or filed, never both.
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.case_id is not None or message.status == MessageState.PURGED:
        return
    path = message.raw_path
    quarantined = message.status == MessageState.QUARANTINED
    # The traceback of a quarantined email can quote its contents.
    message.raw_path, message.status, message.error = "", MessageState.PURGED, None
    deleted = _delete_unused(app, session, [path])
    days = app.config.retention.quarantine_days if quarantined else _days(app)
    audit(
        session,
        app.clock.now(),
        None,
        "purged",
        ledger=message.id,
        unused_files=deleted,
        after_days=days,
    )


def _days(app: App) -> int:
    return app.config.retention.working_copies_days


def _delete_unused(app: App, session: Session, paths: list[str]) -> int:
    """Delete, once this transaction commits, each of `paths` no row points at any more.

    Returns how many are to go. A file stored again lately (by another process, maybe for a
    row this transaction cannot see yet) stays (`FileStore.delete_unless_touched`).
    """
    session.flush()
    unused = {path for path in paths if path and not _in_use(session, path)}
    seen = {path: stored for path in unused if (stored := app.files.stored_at_ns(path))}
    if seen:

        def delete(_session: Session) -> None:
            for path, stored in seen.items():
                try:
                    app.files.delete_unless_touched(path, stored)
                # The rows are purged already; a file left over is only a file left over.
                except OSError as exc:
                    log.warning("a purged file could not be deleted: %s", type(exc).__name__)

        event.listen(session, "after_commit", delete, once=True)
    return len(seen)


# Every column that holds a path under data_dir.
_PATH_COLUMNS = (
    Message.raw_path,
    Document.stored_path,
    OutboxItem.raw_path,
    Pack.stored_path,
    Conversion.pdf_path,
)


def _in_use(session: Session, path: str) -> bool:
    return any(
        session.scalar(select(column).where(column == path).limit(1)) is not None
        for column in _PATH_COLUMNS
    )
