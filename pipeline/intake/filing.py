"""Step two of intake: each ledgered email is read, filed to a case and answered, in its own
transaction. A failure quarantines that one email (raw bytes kept, traceback recorded)."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from typing import Any

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import Kind
from pipeline.documents.results import (
    Classification,
    DocumentResult,
    FormFacts,
    megabytes,
    resolve_competition,
)
from pipeline.errors import IntakeError, StoreError, describe_failure
from pipeline.intake import claims, emergency, held, unanswered
from pipeline.intake.ahead import reading_ahead
from pipeline.intake.budget import EmailBudget, read_within
from pipeline.intake.cases import (
    add_document,
    adopt_named_referrer,
    apply_facts,
    find_case,
    is_other_child,
    open_case,
    route_by_first_form,
)
from pipeline.intake.loops import detect_automatic, detect_unanswerable, is_our_own
from pipeline.mime.addresses import Mailbox, read_mailbox
from pipeline.mime.message import Attachment, ParsedEmail, parse_email
from pipeline.outbox import wording
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.panel import replies
from pipeline.rules.filing import Route, route
from pipeline.states import CaseState, MessageCategory, MessageState
from pipeline.store.audit import audit
from pipeline.store.facts import refresh_state, section20_questioned
from pipeline.store.models import Case, Document, Message

log = logging.getLogger(__name__)


@dataclass
class FilingReport:
    filed: int = 0
    ignored: int = 0
    quarantined: int = 0
    cases: list[str] = field(default_factory=list)

    def add(self, other: FilingReport) -> None:
        """Count `other`'s emails in this report too."""
        self.filed += other.filed
        self.ignored += other.ignored
        self.quarantined += other.quarantined
        self.cases.extend(c for c in other.cases if c not in self.cases)


@dataclass(frozen=True)
class Read:
    """One attachment as read: the attachment and what it turned out to be."""

    attachment: Attachment
    result: DocumentResult

    @property
    def classification(self) -> Classification:
        return self.result.classification


def read_all(app: App, attachments: tuple[Attachment, ...]) -> list[Read]:
    """Read every attachment; where two compete for one kind, the better keeps it."""
    # Each file is read in the isolated worker, under its time and memory limits, and the whole
    # email within its budget (SPEC §7). Chronology dates after today are reported; "today" is
    # the panel's, from the one clock.
    today = app.clock.now().astimezone(app.config.tz).date()
    budget = EmailBudget.of(app.config.limits)
    results = read_within(app.documents, budget, attachments, today)
    reads = [Read(a, result) for a, result in zip(attachments, results, strict=True)]
    resolved = resolve_competition([r.classification for r in reads])
    return [
        Read(r.attachment, replace(r.result, classification=c))
        for r, c in zip(reads, resolved, strict=True)
    ]


def store_documents(
    app: App, session: Session, case: Case, row: Message, reads: list[Read]
) -> list[Document]:
    documents = []
    for read in reads:
        result = read.classification
        sha, path = app.files.put("documents", read.attachment.data)
        document = Document(
            message_row_id=row.id,
            kind=result.kind.value,
            filename=read.attachment.filename,
            content_type=read.attachment.declared_type,
            sha256=sha,
            size=len(read.attachment.data),
            stored_path=path,
            status=result.status.value,
            reason=result.reason,
            classification=result.note,
            fields={"sniffed": read.result.sniffed.type, **read.result.fields},
            created_at=app.clock.now(),
        )
        add_document(session, case, document)
        documents.append(document)
    return documents


def form_facts(reads: list[Read]) -> FormFacts | None:
    """What the referral form in this email says, if there is a readable one."""
    for read in reads:
        if read.classification.kind == Kind.REFERRAL_FORM and read.result.facts is not None:
            return read.result.facts
    return None


def _answer_follow_up(
    app: App, session: Session, case: Case, row: Message, parsed: ParsedEmail, was_complete: bool
) -> None:
    missing = refresh_state(case)
    context = wording.case_context(app, case, missing)
    context["now_complete"] = not missing and not was_complete
    draft = wording.reply_draft(
        wording.Correspondent.of(parsed), f"update:message:{row.id}", "update", context, case
    )
    enqueue(app, session, draft)


def acknowledge(
    app: App,
    session: Session,
    case: Case,
    who: wording.Correspondent,
    purpose: str,
    received_at: datetime,
) -> None:
    """A new case's acknowledgement, then the alerts it calls for (R7)."""
    missing = refresh_state(case)
    context = wording.case_context(app, case, missing)
    has_form = any(d.kind == Kind.REFERRAL_FORM for d in case.documents)
    attach = () if has_form else (wording.blank_form(),)
    context["form_attached"] = bool(attach)
    draft = wording.reply_draft(who, purpose, "acknowledgement", context, case, attach)
    enqueue(app, session, draft)
    if case.section20:
        emergency.alert(app, session, case, received_at)
    elif section20_questioned(case):
        emergency.ask_administrator(app, session, case)


def _link_other_child(app: App, session: Session, row: Message, case: Case, earlier: Case) -> None:
    """R5: a form for another child opened `case` instead of superseding `earlier`'s form."""
    case.linked_case_id = earlier.id
    case.flags = [*case.flags, f"different child from {earlier.reference}: opened on its own"]
    earlier.flags = [*earlier.flags, f"a form for a different child arrived: {case.reference}"]
    audit(
        session, app.clock.now(), earlier, "different-child", opened=case.reference, ledger=row.id
    )
    context = wording.staff_context(app, case) | {"earlier": earlier.reference, "ledger_id": row.id}
    draft = staff_draft(app, f"other-child:message:{row.id}", "different_child", context, case)
    enqueue(app, session, draft)


def _file_documents(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> Case:
    reads = read_all(app, parsed.attachments)
    facts = form_facts(reads)
    # R5: a form for a different child from the case's opens a case of its own.
    other = case is not None and facts is not None and is_other_child(app, case, facts)
    earlier = case if other else None
    is_new = case is None or earlier is not None
    if case is None or earlier is not None:
        case = open_case(app, session, parsed, row.received_at, facts)
    was_complete = case.state == CaseState.COMPLETE
    was_s20 = case.section20
    had_form = bool(case.fields)
    store_documents(app, session, case, row, reads)
    if earlier is not None:
        _link_other_child(app, session, row, case, earlier)
    if facts is not None:
        if not had_form and not is_new:
            route_by_first_form(app, session, case, facts)
        apply_facts(app, session, case, facts)
        if not had_form and case.forwarded_by is None:
            adopt_named_referrer(app, case)
    if case.section20 and not was_s20:
        emergency.bring_forward(app, session, case, row.received_at)
    asked = emergency.email_says_section20(parsed) and emergency.flag_question(case)
    who = wording.Correspondent.of(parsed)
    if is_new:
        acknowledge(app, session, case, who, f"ack:message:{row.id}", row.received_at)
        return case
    _answer_follow_up(app, session, case, row, parsed, was_complete)
    if case.section20 and not was_s20:
        emergency.alert(app, session, case, row.received_at)
    elif asked:
        emergency.ask_administrator(app, session, case)
    return case


def _file_held(
    app: App,
    session: Session,
    row: Message,
    parsed: ParsedEmail,
    case: Case | None,
    quoted: Case | None,
) -> Case:
    """R5: an email that quoted a reference without standing, or came on a held case."""
    reads = read_all(app, parsed.attachments)
    facts = form_facts(reads)
    if case is None:
        if quoted is None:
            raise IntakeError("a held email needs the case it quoted")
        case = held.open_held(app, session, parsed, row.received_at, facts, quoted)
    store_documents(app, session, case, row, reads)
    if facts is not None:
        apply_facts(app, session, case, facts)
    if emergency.email_says_section20(parsed):
        emergency.flag_question(case)
    row.category = MessageCategory.HELD
    held.tell(app, session, case, row, parsed)
    return case


def _file_without_documents(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> None:
    if case is None:
        # Someone wrote to the panel without a referral: help them make one.
        context: dict[str, Any] = {
            "panel_address": app.config.mailbox.address,
            "problems": list(parsed.problems),
        }
        draft = wording.reply_draft(
            wording.Correspondent.of(parsed),
            f"noattach:message:{row.id}",
            "no_attachment",
            context,
            None,
            (wording.blank_form(),),
        )
        enqueue(app, session, draft)
        row.category = MessageCategory.NO_ATTACHMENT
        return
    # A reply with nothing attached is for a person to read, not for an automatic answer.
    row.category = MessageCategory.REPLY
    if emergency.email_says_section20(parsed) and emergency.flag_question(case):
        emergency.ask_administrator(app, session, case)
    _tell_administrator(app, session, row, parsed, case)


def _file_closed(app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case) -> Case:
    """An email on a case that is over (dismissed, or closed with no meeting): its documents
    are kept on it, and the administrator decides; nobody is answered automatically, since a
    closed case has nothing to say (and a dismissed one was a stranger's)."""
    store_documents(app, session, case, row, read_all(app, parsed.attachments))
    row.category = MessageCategory.REPLY
    _tell_administrator(app, session, row, parsed, case)
    return case


def _tell_administrator(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case
) -> None:
    """The administrator hears of an email on a case that is for a person to read."""
    notice = {
        "reference": case.reference,
        "subject": parsed.subject,
        "ledger_id": row.id,
        "panel_address": app.config.mailbox.address,
    }
    enqueue(
        app,
        session,
        staff_draft(app, f"reply:message:{row.id}", "reply_received", notice, case),
    )


def file_message(
    app: App, session: Session, row: Message, parsed: ParsedEmail | None = None
) -> str | None:
    """File one ledgered email (`parsed` already, when read ahead); return the case reference
    it went to, if any."""
    if row.size > app.config.limits.max_email_bytes:
        raise EmailTooLarge(row.size)
    if parsed is None:
        parsed = parse_email(app.files.read(row.raw_path))
    if is_our_own(parsed.headers, app.config.mailbox.address):
        row.status, row.category = MessageState.IGNORED, MessageCategory.OWN
        return None
    found = find_case(app, session, parsed)
    case = found.case
    automatic = detect_automatic(parsed.headers, parsed.from_address)
    if automatic is not None:
        # Stored on the case, never answered (R16): answering is how mail loops start.
        row.status, row.category, row.case_id = (
            MessageState.IGNORED,
            automatic.category,
            case.id if case else None,
        )
        audit(
            session,
            app.clock.now(),
            case,
            "automatic-mail",
            category=automatic.category,
            reason=automatic.reason,
        )
        return case.reference if case else None
    unanswerable = detect_unanswerable(
        parsed.from_address, parsed.reply_to, parsed.address_problem, app.config.mailbox.address
    )
    if unanswerable is not None:
        unanswered.hold(app, session, row, parsed, case, unanswerable)
        return None
    row.status, row.category = MessageState.FILED, MessageCategory.REFERRAL
    # A screening or attendance reply proves itself (a signed token, the referrer's address):
    # its handler is shown the case the email names, even one quoted without standing.
    named = case or found.quoted
    if replies.handle(app, session, row, parsed, named):
        row.case_id = named.id if named else row.case_id
        return named.reference if named else None
    return _file(app, session, row, parsed, case, found.quoted)


def _file(
    app: App,
    session: Session,
    row: Message,
    parsed: ParsedEmail,
    case: Case | None,
    quoted: Case | None,
) -> str | None:
    """File an email as `rules.filing.route` says; return the reference of its case, if any."""
    how = route(
        quoted is not None,
        case.state if case else None,
        case is not None and case.meeting is not None,
        bool(parsed.attachments),
    )
    if how is Route.HELD:
        case = _file_held(app, session, row, parsed, case, quoted)
    elif how is Route.CLOSED and case is not None:
        case = _file_closed(app, session, row, parsed, case)
    elif how is Route.DOCUMENTS:
        case = _file_documents(app, session, row, parsed, case)
    else:
        _file_without_documents(app, session, row, parsed, case)
    row.case_id = case.id if case else None
    return case.reference if case else None


class EmailTooLarge(IntakeError):
    """The whole email is over the size limit: it is kept unopened and its sender told."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the email is {megabytes(size)}, over the configured max_email_bytes")
        self.size = size


def _sender_of(raw: bytes, our_address: str) -> tuple[wording.Correspondent | None, bool]:
    """Who sent an email we could not file, and whether it was automatic (then no reply)."""
    headers = BytesHeaderParser().parsebytes(raw[:256_000])
    sender = read_mailbox(str(headers.get("From") or ""))
    reply_raw = str(headers.get("Reply-To") or "")
    reply_to = read_mailbox(reply_raw, "Reply-To") if reply_raw.strip() else sender
    if not isinstance(sender, Mailbox) or not isinstance(reply_to, Mailbox):
        return None, True
    automatic = (
        detect_automatic(headers, sender.address) is not None
        or is_our_own(headers, "")
        or detect_unanswerable(sender.address, reply_to.address, None, our_address) is not None
    )
    message_id = str(headers.get("Message-ID") or "").strip().strip("<>") or None
    references = tuple(
        str(headers.get("References") or "").replace("<", " ").replace(">", " ").split()
    )
    return wording.Correspondent(reply_to.address, message_id, references), automatic


def quarantine(app: App, row_id: int, error: BaseException) -> None:
    """Keep the email, record why, tell the administrator, and tell the sender once."""
    with app.store.session() as session:
        row = session.get(Message, row_id)
        if row is None:
            return
        row.status = MessageState.QUARANTINED
        row.attempts += 1
        too_large = isinstance(error, EmailTooLarge)
        row.category = MessageCategory.TOO_LARGE if too_large else MessageCategory.ERROR
        row.error = "".join(traceback.format_exception(error))
        try:
            who, automatic = _sender_of(app.files.read(row.raw_path), app.config.mailbox.address)
        except StoreError:
            # Its bytes are missing: there is nobody to answer; the administrator still hears.
            who, automatic = None, True
        context: dict[str, Any] = {
            "ledger_id": row.id,
            "error": type(error).__name__,
            "too_large": too_large,
            "limit": megabytes(app.config.limits.max_email_bytes),
            "size": megabytes(row.size),
            "panel_address": app.config.mailbox.address,
        }
        enqueue(
            app,
            session,
            staff_draft(
                app, f"quarantine:{row.id}:{row.attempts}", "quarantine_alert", context, None
            ),
        )
        if who is not None and not automatic:
            template = "too_large" if too_large else "could_not_process"
            enqueue(
                app,
                session,
                wording.reply_draft(who, f"quarantine-reply:{row.id}", template, context, None),
            )
        audit(
            session, app.clock.now(), None, "quarantined", ledger=row.id, error=type(error).__name__
        )
    log.warning("email (ledger id %d) quarantined: %s", row_id, type(error).__name__)


def _quarantine_safely(app: App, row_id: int, error: BaseException) -> None:
    """Quarantine, and should that fail too, at least mark the email quarantined: one email
    must never stop the filing of the others."""
    try:
        quarantine(app, row_id, error)
    except Exception as exc:
        log.error("email (ledger id %d) quarantined bare: %s", row_id, describe_failure(exc))
        with app.store.session() as session:
            row = session.get(Message, row_id)
            if row is not None:
                row.status, row.category = MessageState.QUARANTINED, MessageCategory.ERROR
                row.attempts += 1
                row.error = "".join(traceback.format_exception(error))


@dataclass(frozen=True)
class _Filed:
    """How one email was filed, read before its transaction commits."""

    reference: str | None
    ignored: bool
    held: bool


def _file_row(app: App, session: Session, row_id: int, parsed: ParsedEmail | None) -> _Filed | None:
    """File the ledgered email `row_id` unless it is filed already or being filed; None then."""
    # Locked for this transaction; one that another worker is filing now is left to it (a
    # worker that lost the mailbox to another may still be finishing its last poll, or a
    # `quarantine replay` may be at it). Should that worker fail, the email is still NEW and
    # the next poll files it.
    row = session.get(
        Message, row_id, with_for_update={"skip_locked": True}, populate_existing=True
    )
    if row is None or row.status not in (MessageState.NEW, MessageState.QUARANTINED):
        return None
    reference = file_message(app, session, row, parsed)
    return _Filed(
        reference, row.status == MessageState.IGNORED, row.status == MessageState.QUARANTINED
    )


def file_one(
    app: App, row_id: int, report: FilingReport, parsed: ParsedEmail | None = None
) -> None:
    """File one email in its own transaction (run again if it loses a deadlock with another
    writer); any failure quarantines just this email."""
    try:
        filed = app.store.transaction(lambda session: _file_row(app, session, row_id, parsed))
    except Exception as exc:
        _quarantine_safely(app, row_id, exc)
        report.quarantined += 1
        return
    if filed is None:
        return
    report.ignored += int(filed.ignored)
    report.quarantined += int(filed.held)
    report.filed += int(not filed.ignored and not filed.held)
    if filed.reference and filed.reference not in report.cases:
        report.cases.append(filed.reference)


def file_pending(app: App) -> FilingReport:
    """File every ledgered email not yet filed that this worker can claim, in the order the
    server received them; other workers may be filing the rest at the same time (claims.py).
    When the service is asked to stop, the email being filed is finished and the rest are
    given back."""
    report = FilingReport()
    size = claims.batch_size(app.config.limits.readers)
    tried: set[int] = set()
    while not app.stop.is_set():
        batch = claims.claim(app, size)
        # An email tried already and still to be filed is being filed elsewhere (a replay
        # holds it): it is given back, not tried again and again.
        again = [row_id for row_id, _path, _size in batch if row_id in tried]
        claims.release(app, again)
        fresh = [row for row in batch if row[0] not in tried]
        if not fresh:
            return report
        tried.update(row_id for row_id, _path, _size in fresh)
        _file_batch(app, fresh, report)
    return report


def _file_batch(app: App, batch: list[claims.Claimed], report: FilingReport) -> None:
    """File the claimed emails in turn; those not reached (a stop, a failure between them)
    go back."""
    # With several readers, the next emails' attachments are read while this one is filed.
    ahead = reading_ahead(app, batch)
    left = [row_id for row_id, _path, _size in batch]
    renew_at = time.monotonic() + claims.LEASE.total_seconds() / 2
    try:
        for row_id, _path, _size in batch:
            if app.stop.is_set():
                break
            file_one(app, row_id, report, ahead.take(row_id) if ahead else None)
            left.remove(row_id)
            if ahead:
                ahead.done(row_id)
            if left and time.monotonic() >= renew_at:
                claims.renew(app, left)
                renew_at = time.monotonic() + claims.LEASE.total_seconds() / 2
    finally:
        if ahead:
            ahead.close()
        if left:
            claims.release(app, left)


def replay(app: App, row_id: int) -> FilingReport:
    """File a quarantined email again (after a fix, or after raising a limit)."""
    report = FilingReport()
    file_one(app, row_id, report)
    return report
