"""Intake against a real Dovecot and a real SMTP server on loopback: idempotency and no loss."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.filing import file_pending
from pipeline.intake.ledger import Ledger
from pipeline.intake.poll import poll
from pipeline.mailbox.imap import ImapSource
from pipeline.store.models import Case, Message, OutboxItem
from tests.helpers import imap_service, numbered_referral
from tests.servers import ImapAccount, SmtpCapture

pytestmark = pytest.mark.servers


@pytest.fixture
def service(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture) -> Iterator[App]:
    app = imap_service(tmp_path, imap_account, smtp_server)
    yield app
    app.close()


def referral(i: int) -> samples.Mail:
    return numbered_referral("Imap", i)


def received_by(smtp: SmtpCapture, address: str) -> list[email.message.Message]:
    return [email.message_from_bytes(raw) for _, to, raw in smtp.messages if address in to]


def folder_counts(account: ImapAccount, port: int) -> dict[str, int]:
    with MailBoxUnencrypted("127.0.0.1", port).login(account.user, account.password) as box:
        return {f.name: box.folder.status(f.name)["MESSAGES"] for f in box.folder.list()}


def test_poll_twice_gives_one_case_and_one_acknowledgement(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture, dovecot
) -> None:
    imap_account.deliver(referral(1).as_bytes())
    poll(service)
    poll(service)
    [ack] = received_by(smtp_server, "ref1@school.example.org")
    assert "MASP-" in ack["Subject"]
    with service.store.session() as session:
        assert len(session.scalars(select(Case)).all()) == 1
    assert folder_counts(imap_account, dovecot.imap_port) == {"INBOX": 0, "Processed": 1}


def test_messages_a_person_has_read_are_still_processed(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture, dovecot
) -> None:
    for i in range(3):
        imap_account.deliver(referral(i).as_bytes())
    with MailBoxUnencrypted("127.0.0.1", dovecot.imap_port).login(
        imap_account.user, imap_account.password
    ) as box:
        box.flag(box.uids(), ["\\Seen"], True)
    poll(service)
    for i in range(3):
        assert len(received_by(smtp_server, f"ref{i}@school.example.org")) == 1


def test_uidvalidity_change_neither_duplicates_nor_misses(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture, dovecot
) -> None:
    imap_account.deliver(referral(1).as_bytes())
    # Filed but not yet moved (as if the move failed), then the server renumbers the folder.
    with ImapSource(service.config.mailbox.imap) as source:
        Ledger(service).ingest(source)
    file_pending(service)
    imap_account.force_uidvalidity_change()
    imap_account.deliver(referral(2).as_bytes())
    poll(service)
    assert len(received_by(smtp_server, "ref1@school.example.org")) == 1
    assert len(received_by(smtp_server, "ref2@school.example.org")) == 1
    with service.store.session() as session:
        statuses = sorted(session.scalars(select(Message.status)))
        assert statuses == ["duplicate", "filed", "filed"]
        assert len(session.scalars(select(Case)).all()) == 2
    assert folder_counts(imap_account, dovecot.imap_port) == {"INBOX": 0, "Processed": 2}


def test_out_of_office_and_bounce_get_no_answer(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    imap_account.deliver(referral(1).as_bytes())
    poll(service)
    [ack] = received_by(smtp_server, "ref1@school.example.org")
    ack_id = "".join(str(ack["Message-ID"]).split())
    ooo = samples.out_of_office(ack_id, "Referrer 1 <ref1@school.example.org>", "Referral")
    imap_account.deliver(ooo.as_bytes())
    dsn = samples.Mail(
        "MAILER-DAEMON@mx.example.org",
        "Delivery Status Notification (Failure)",
        body="Delivery to the following recipient failed permanently.",
    )
    imap_account.deliver(dsn.as_bytes())
    before = len(smtp_server.messages)
    poll(service)
    assert len(smtp_server.messages) == before
    with service.store.session() as session:
        rows = session.scalars(select(Message).where(Message.status == "ignored")).all()
        assert sorted(r.category or "" for r in rows) == ["auto_reply", "bounce"]


def test_received_time_is_the_servers_not_the_date_header(
    service: App, imap_account: ImapAccount
) -> None:
    mail = referral(1)
    # The sender's clock claims a date long before the deadline; only the server's counts.
    mail.headers["X-Note"] = "Date header below is from 2020"
    imap_account.deliver(mail.as_bytes().replace(b"Mon, 23 Nov 2026", b"Mon, 23 Nov 2020"))
    poll(service)
    with service.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert abs((case.received_at - datetime.now(UTC)).total_seconds()) < 120


def alerts_to_administrator(smtp: SmtpCapture) -> list[str]:
    """The subject and text of each alert about a refused email that reached the administrator."""
    found = []
    for _, to, raw in smtp.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if "admin@example.org" in to and "was refused" in str(message["Subject"]):
            assert isinstance(message, email.message.EmailMessage)
            body = message.get_body(("plain",))
            assert body is not None
            found.append(f"{message['Subject']}\n{body.get_content()}")
    return found


def test_a_referrer_whose_address_is_refused_is_reported_to_the_administrator(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    smtp_server.refuse = {"ref1@school.example.org"}
    imap_account.deliver(referral(1).as_bytes())
    poll(service)
    assert received_by(smtp_server, "ref1@school.example.org") == []
    poll(service)  # the alert was queued by the refusal and goes with the next round
    [text] = alerts_to_administrator(smtp_server)
    with service.store.session() as session:
        reference = session.scalars(select(Case.reference)).one()
        ack = session.scalars(select(OutboxItem).where(OutboxItem.template == "acknowledgement"))
        (item,) = ack
        assert (item.status, item.attempts) == ("pending", 1)
    assert f"{reference}: an email from the panel inbox was refused" in text
    assert "ref1@school.example.org" in text and "refused every recipient" in text
    assert "tried again 7 more time(s)" in text
    # Another refusal of the same email does not alert again.
    with service.store.session() as session:
        stored = session.get(OutboxItem, item.id)
        assert stored is not None
        stored.next_attempt_at = datetime(2000, 1, 1, tzinfo=UTC)
    poll(service)
    assert len(alerts_to_administrator(smtp_server)) == 1


def test_a_recipient_refused_among_others_is_reported_and_the_rest_not_resent(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    smtp_server.refuse = {"chair@example.org"}
    child = samples.Child(name="Child Urgent", referrer_email="ref9@school.example.org")
    mail = samples.Mail(
        child.referrer_email,
        "Emergency",
        files=samples.full_referral(replace(child, section20=True)),
    )
    imap_account.deliver(mail.as_bytes())
    poll(service)
    poll(service)
    section20 = [
        m
        for m in received_by(smtp_server, "admin@example.org")
        if "Section 20" in str(m["Subject"])
    ]
    assert len(section20) == 1, "sent once to those who accepted it, never again"
    [text] = alerts_to_administrator(smtp_server)
    assert "chair@example.org" in text and "Everyone else it was addressed to received it" in text
