"""Delivers queued emails with retry and backoff; the one place that talks to the mail server.

The bytes (and so the Message-ID) were fixed when the email was queued, so a crash after
the server accepted a message but before we recorded it can only ever resend the same email.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import PartialDelivery, SendError, StoreError, Unsendable, describe_failure
from pipeline.mailbox.base import MailSender
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.states import OutboxState
from pipeline.store import heartbeat
from pipeline.store.audit import audit
from pipeline.store.models import Case, OutboxItem

log = logging.getLogger(__name__)

# Waits between attempts; the last is repeated. An outage of a day is ridden out.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    # The mail server's last refusal in this round, for the heartbeat (`masp health`).
    error: SendError | None = None


def _due(app: App, limit: int) -> list[int]:
    with app.store.session() as session:
        query = (
            select(OutboxItem.id)
            .where(
                OutboxItem.status == OutboxState.PENDING,
                OutboxItem.next_attempt_at <= app.clock.now(),
            )
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def _record_failure(app: App, item: OutboxItem, error: str) -> bool:
    """Count the attempt; return True if we have given up on this email."""
    item.attempts += 1
    item.last_error = error
    if item.attempts >= app.config.limits.send_attempts:
        item.status = OutboxState.FAILED
        return True
    wait = BACKOFF[min(item.attempts - 1, len(BACKOFF) - 1)]
    item.next_attempt_at = app.clock.now() + wait
    return False


def _tell_administrator(
    app: App, session: Session, item: OutboxItem, case: Case | None, error: SendError
) -> None:
    """Alert the administrator, once per email, when the server refused some recipients.

    A refused address is final for that person (mistyped, or closed): without this, a referrer
    whose acknowledgement bounced would wait for an answer that never comes. Other refusals (a
    login, a message size) are the server's settings, not a person's address: they show in
    `masp status`. An email the administrator could not receive is not answered with another.
    """
    refused = list(error.refused)
    administrator = app.config.people_of(case.panel_id if case else None).administrator.email
    administrator = administrator.lower()
    if not refused or administrator in (address.lower() for address in refused):
        return
    context = {
        "reference": case.reference if case is not None else None,
        "refused_addresses": refused,
        "subject": item.subject,
        "error": str(error),
        "partial": isinstance(error, PartialDelivery),
        "gave_up": item.status == OutboxState.FAILED,
        "tries_left": max(app.config.limits.send_attempts - item.attempts, 0),
        "outbox_id": item.id,
        "panel_address": app.config.mailbox.address,
    }
    draft = staff_draft(app, f"undeliverable:{item.id}", "undeliverable_alert", context, case)
    enqueue(app, session, draft)


def deliver(app: App, sender: MailSender, limit: int = 10_000) -> DeliveryReport:
    """Send every pending email that is due. A dead server stops the round without using up
    attempts, so mail waits for the server rather than failing. Nothing about one email (its
    bytes, its addresses, a bug) stops the emails queued after it."""
    report = DeliveryReport()
    for item_id in _due(app, limit):
        try:
            carry_on = _deliver_one(app, sender, item_id, report)
        except Exception as exc:
            _unexpected(app, sender, item_id, exc, report)
            continue
        if not carry_on:
            break
    _beat(app, report)
    return report


def _beat(app: App, report: DeliveryReport) -> None:
    """What the round says of the mail server: it refused (how), or it took mail again."""
    if report.error is not None:
        heartbeat.send_failed(app.store, app.clock.now(), report.error)
    elif report.sent:
        heartbeat.sent(app.store)


def _deliver_one(app: App, sender: MailSender, item_id: int, report: DeliveryReport) -> bool:
    """Try one email; False when the server is away and the round should stop."""
    with app.store.session() as session:
        item = session.get(OutboxItem, item_id)
        if item is None or item.status != OutboxState.PENDING:
            return True
        case = session.get(Case, item.case_id) if item.case_id else None
        try:
            _hand_over(app, sender, item)
        except (StoreError, Unsendable) as exc:
            _fail_at_once(app, session, item, case, exc, report)
            return True
        except PartialDelivery as exc:
            # Some recipients took it, so it counts as sent; the administrator hears who did not.
            audit(
                session, app.clock.now(), case, "partially-refused", outbox=item.id, error=str(exc)
            )
            _tell_administrator(app, session, item, case, exc)
        except SendError as exc:
            return _refused(app, session, item, case, exc, report)
        _mark_sent(app, session, item, case, report)
    return True


def _hand_over(app: App, sender: MailSender, item: OutboxItem) -> None:
    """Give the email's stored bytes to the mail server for its recipients."""
    raw = app.files.read(item.raw_path)
    if not item.addresses:
        raise Unsendable("the email has no valid recipient, so it cannot be sent")
    sender.send(raw, app.config.mailbox.address, item.addresses)


def _fail_at_once(
    app: App,
    session: Session,
    item: OutboxItem,
    case: Case | None,
    exc: StoreError | Unsendable,
    report: DeliveryReport,
) -> None:
    """Its bytes are gone, or no server could ever take it as it is: it fails now, not after
    every retry. The others still go."""
    item.status, item.last_error = OutboxState.FAILED, str(exc)
    item.attempts += 1
    report.failed += 1
    audit(session, app.clock.now(), case, "send-failed", outbox=item.id, error=str(exc))
    if isinstance(exc, Unsendable):
        _tell_administrator(app, session, item, case, exc)


def _refused(
    app: App,
    session: Session,
    item: OutboxItem,
    case: Case | None,
    exc: SendError,
    report: DeliveryReport,
) -> bool:
    """Record a refusal; False when the server is away and the round should stop."""
    report.error = exc
    if exc.temporary:
        # The server is away or said 'later': no attempt is used up, the round stops rather
        # than knock on a closed door for every email, and the next poll (or tick) tries again.
        log.warning("mail server unavailable (%s); the outbox waits", exc)
        item.last_error = str(exc)
        report.waiting += 1
        return False
    gave_up = _record_failure(app, item, str(exc))
    report.failed += int(gave_up)
    report.waiting += int(not gave_up)
    audit(session, app.clock.now(), case, "send-failed", outbox=item.id, error=str(exc))
    _tell_administrator(app, session, item, case, exc)
    return True


def _mark_sent(
    app: App, session: Session, item: OutboxItem, case: Case | None, report: DeliveryReport
) -> None:
    """The server took it: record when, and to whom."""
    item.status = OutboxState.SENT
    item.sent_at = app.clock.now()
    item.attempts += 1
    report.sent += 1
    audit(
        session,
        app.clock.now(),
        case,
        "sent",
        outbox=item.id,
        template=item.template,
        to=item.addresses,
    )


def _unexpected(
    app: App, sender: MailSender, item_id: int, exc: Exception, report: DeliveryReport
) -> None:
    """An error nobody foresaw, in one email: counted as a failed attempt of that email alone.

    The connection is dropped, since the failure may have left it half-way through a
    transaction; the next email opens a fresh one.
    """
    error = describe_failure(exc)
    log.error("outbox email %d could not be sent (%s); the others go on", item_id, error)
    sender.close()
    with app.store.session() as session:
        item = session.get(OutboxItem, item_id)
        if item is None:
            return
        gave_up = _record_failure(app, item, f"unexpected error: {error}")
        report.failed += int(gave_up)
        report.waiting += int(not gave_up)
        case = session.get(Case, item.case_id) if item.case_id else None
        audit(session, app.clock.now(), case, "send-failed", outbox=item.id, error=error)
