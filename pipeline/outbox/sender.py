"""Delivers queued emails with retry and backoff; the one place that talks to the mail server.

The bytes (and so the Message-ID) were fixed when the email was queued, so a crash after
the server accepted a message but before we recorded it can only ever resend the same email.
Several workers may send from one outbox: each claims a few due emails at a time with a lease
(`claimed_until`), so no email is sent by two at once, and the emails of a worker that died
are taken by another once their lease has run out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, lazyload

from pipeline.app import App
from pipeline.errors import PartialDelivery, SendError, StoreError, Unsendable, describe_failure
from pipeline.mailbox.base import MailSender
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.states import OutboxState
from pipeline.store import heartbeat
from pipeline.store.audit import audit, audit_case
from pipeline.store.models import Case, OutboxItem, OutboxRecipient

log = logging.getLogger(__name__)

# Waits between attempts; the last is repeated. An outage of a day is ridden out.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
# A worker holds the emails it claimed for this long: one that died holding them (killed, its
# machine gone) delays them by at most this much before another worker sends them.
LEASE = timedelta(minutes=2)
# No email is begun in the last part of its lease, so its send ends before the lease does.
LEASE_MARGIN = timedelta(seconds=45)
# Emails claimed at once: few, so that a round finishes them well within their lease.
CLAIM_BATCH = 10


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    # The mail server's last refusal in this round, for the heartbeat (`masp health`).
    error: SendError | None = None
    # The round stopped because the server was away or said 'later' (`waiting` counts the one
    # email that found it so; the rest were not tried).
    away: bool = False

    def add(self, later: DeliveryReport) -> None:
        """Count in a later round of the same pass."""
        if self.away:
            # The email that found the server away was tried again by the later round.
            self.waiting -= 1
        self.sent += later.sent
        self.failed += later.failed
        self.waiting += later.waiting
        self.error = later.error or self.error
        self.away = later.away


def _claim(app: App, after: int, last: int, count: int) -> tuple[list[int], float]:
    """Take up to `count` due emails (ids after `after`, up to `last`) for this worker; with
    the moment, on this worker's own clock, by which it must begin sending the last of them.

    One short transaction: the rows another worker is claiming at this instant are skipped
    (SKIP LOCKED), and those another worker holds a lease on are not due.
    """
    now = app.clock.now()
    with app.store.session() as session:
        query = (
            select(OutboxItem.id)
            .where(
                OutboxItem.status == OutboxState.PENDING,
                OutboxItem.next_attempt_at <= now,
                or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until <= now),
                OutboxItem.id > after,
                OutboxItem.id <= last,
            )
            .order_by(OutboxItem.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids))
                .values(claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
    return ids, time.monotonic() + (LEASE - LEASE_MARGIN).total_seconds()


def _release(app: App, ids: list[int]) -> None:
    """Give back emails claimed but not tried: any worker may take them at once."""
    if not ids:
        return
    with app.store.session() as session:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids))
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


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
    bytes, its addresses, a bug) stops the emails queued after it.

    Emails are claimed a few at a time (`_claim`), so several workers send side by side and
    never the same email; each is sent outside any transaction and recorded in its own.
    """
    report = DeliveryReport()
    after, tried = 0, 0
    # The round sends what was queued when it began; what it queues itself (an alert about a
    # refused email) goes in the next round.
    with app.store.session() as session:
        last = session.scalar(select(func.max(OutboxItem.id))) or 0
    while tried < limit and not app.stop.is_set():
        ids, deadline = _claim(app, after, last, min(CLAIM_BATCH, limit - tried))
        if not ids:
            break
        stop = _send_claimed(app, sender, ids, deadline, report)
        tried, after = tried + len(ids), ids[-1]
        if stop:
            break
    _beat(app, report)
    return report


def _send_claimed(
    app: App, sender: MailSender, ids: list[int], deadline: float, report: DeliveryReport
) -> bool:
    """Send the emails this worker claimed; True when the server is away or the service is
    stopping, and the round stops.

    None is begun once its lease is nearly over: another worker may take it from then on. When
    the service is asked to stop, the ones not yet begun are let go at once, not left leased.
    """
    for index, item_id in enumerate(ids):
        if app.stop.is_set():
            _release(app, ids[index:])
            return True
        if time.monotonic() > deadline:
            _release(app, ids[index:])
            return False
        try:
            carry_on = _deliver_one(app, sender, item_id, report)
        except Exception as exc:
            _unexpected(app, sender, item_id, exc, report)
            continue
        if not carry_on:
            _release(app, ids[index + 1 :])
            return True
    return False


def _beat(app: App, report: DeliveryReport) -> None:
    """What the round says of the mail server: it refused (how), or it took mail again."""
    if report.error is not None:
        heartbeat.send_failed(app.store, app.clock.now(), report.error)
    elif report.sent:
        heartbeat.sent(app.store)


def _deliver_one(app: App, sender: MailSender, item_id: int, report: DeliveryReport) -> bool:
    """Try one email; False when the server is away and the round should stop.

    The mail server is spoken to between two transactions, never inside one: no database
    lock waits on the network. A crash between the server's acceptance and the second
    transaction leaves the email pending, to be sent again once its lease runs out: the same
    stored bytes, so the same Message-ID.
    """
    pending = _still_pending(app, item_id)
    if pending is None:
        # Sent, held or withdrawn since it was claimed: let go of it.
        _release(app, [item_id])
        return True
    raw_path, addresses = pending
    failure: SendError | StoreError | None = None
    try:
        _hand_over(app, sender, raw_path, addresses)
    except (StoreError, SendError) as exc:
        failure = exc
    if failure is None:
        _record_sent(app, item_id, addresses, report)
        return True
    with app.store.session() as session:
        # Its recipients are loaded only if the outcome needs them.
        item = session.get(OutboxItem, item_id, options=[lazyload(OutboxItem.recipients)])
        if item is None:
            return True
        item.claimed_until = None
        case = session.get(Case, item.case_id) if item.case_id else None
        return _record_outcome(app, session, item, case, failure, report, addresses)


def _still_pending(app: App, item_id: int) -> tuple[str, list[str]] | None:
    """Where email `item_id`'s bytes are, and its recipients, if it is still to be sent. Only
    read: on SQLite it waits for no writer."""
    with app.store.reading() as session:
        connection = session.connection()
        raw_path = connection.scalar(
            select(OutboxItem.raw_path).where(
                OutboxItem.id == item_id, OutboxItem.status == OutboxState.PENDING
            )
        )
        if raw_path is None:
            return None
        addresses = connection.scalars(
            select(OutboxRecipient.address)
            .where(OutboxRecipient.outbox_id == item_id)
            .order_by(OutboxRecipient.id)
        )
        return raw_path, list(addresses)


def _record_outcome(
    app: App,
    session: Session,
    item: OutboxItem,
    case: Case | None,
    failure: SendError | StoreError | None,
    report: DeliveryReport,
    addresses: list[str],
) -> bool:
    """Record what the server said of one email (sent to `addresses`); False when it is away
    and the round stops."""
    if isinstance(failure, StoreError | Unsendable):
        _fail_at_once(app, session, item, case, failure, report)
        return True
    if isinstance(failure, PartialDelivery):
        # Some recipients took it, so it counts as sent; the administrator hears who did not.
        audit(
            session, app.clock.now(), case, "partially-refused", outbox=item.id, error=str(failure)
        )
        _tell_administrator(app, session, item, case, failure)
    elif failure is not None:
        return _refused(app, session, item, case, failure, report)
    _mark_sent(app, session, item, case, report, addresses)
    return True


def _hand_over(app: App, sender: MailSender, raw_path: str, addresses: list[str]) -> None:
    """Give the email's stored bytes to the mail server for its recipients."""
    raw = app.files.read(raw_path)
    if not addresses:
        raise Unsendable("the email has no valid recipient, so it cannot be sent")
    sender.send(raw, app.config.mailbox.address, addresses)


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
        report.away = True
        return False
    gave_up = _record_failure(app, item, str(exc))
    report.failed += int(gave_up)
    report.waiting += int(not gave_up)
    audit(session, app.clock.now(), case, "send-failed", outbox=item.id, error=str(exc))
    _tell_administrator(app, session, item, case, exc)
    return True


def _record_sent(app: App, item_id: int, addresses: list[str], report: DeliveryReport) -> None:
    """The server took it (as it does nearly always): recorded in one UPDATE and the audit
    event, without loading the email (`_mark_sent` is the same for an email loaded already)."""
    now = app.clock.now()
    with app.store.session() as session:
        sent = session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id)
            .values(
                status=OutboxState.SENT,
                sent_at=now,
                attempts=OutboxItem.attempts + 1,
                claimed_until=None,
            )
            .returning(OutboxItem.case_id, OutboxItem.template)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if sent is None:
            return
        report.sent += 1
        audit_case(
            session, now, sent.case_id, "sent", outbox=item_id, template=sent.template, to=addresses
        )


def _mark_sent(
    app: App,
    session: Session,
    item: OutboxItem,
    case: Case | None,
    report: DeliveryReport,
    addresses: list[str],
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
        to=addresses,
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
        item.claimed_until = None
        gave_up = _record_failure(app, item, f"unexpected error: {error}")
        report.failed += int(gave_up)
        report.waiting += int(not gave_up)
        case = session.get(Case, item.case_id) if item.case_id else None
        audit(session, app.clock.now(), case, "send-failed", outbox=item.id, error=error)
