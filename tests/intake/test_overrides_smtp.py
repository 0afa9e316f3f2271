"""R17 over the real servers: a referrer's address the mail server refuses is corrected, and
the acknowledgement it refused arrives at the right address; a re-sent email arrives again with
a Message-ID of its own."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.intake.address import correct_address
from pipeline.intake.poll import poll
from pipeline.outbox.resend import resend
from pipeline.states import OutboxState
from pipeline.store.models import OutboxItem
from tests.helpers import imap_service, numbered_referral
from tests.servers import ImapAccount, SmtpCapture

TYPO = "ref1@school.example.org"
RIGHT = "ref1.right@school.example.org"
WEB = "web:admin@example.org"


@pytest.fixture
def service(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture) -> Iterator[App]:
    app = imap_service(tmp_path, imap_account, smtp_server)
    yield app
    app.close()


def received_by(smtp: SmtpCapture, address: str) -> list[Message]:
    return [email.message_from_bytes(raw) for _, to, raw in smtp.messages if address in to]


def body_of(message: Message) -> bytes:
    """Everything after the headers: the same content, byte for byte."""
    return message.as_bytes().partition(b"\n\n")[2]


def acknowledgement(app: App) -> OutboxItem:
    with app.store.session() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.template == "acknowledgement"))
        assert item is not None
        session.expunge(item)
        return item


def test_a_refused_address_corrected_gets_the_acknowledgement(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    smtp_server.refuse = {TYPO}
    imap_account.deliver(numbered_referral("Fix", 1).as_bytes())
    poll(service)
    assert received_by(smtp_server, TYPO) == []
    assert acknowledgement(service).attempts == 1
    with service.store.session() as session:
        reference = acknowledgement(service).subject.split(":")[0]
        result = correct_address(service, session, reference, RIGHT, WEB)
    assert result.queued == (acknowledgement(service).id,)
    poll(service)
    [ack] = received_by(smtp_server, RIGHT)
    assert ack["To"] == RIGHT and reference in ack["Subject"]
    assert received_by(smtp_server, TYPO) == []
    assert acknowledgement(service).status == OutboxState.SENT


def test_a_resent_email_arrives_again(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    imap_account.deliver(numbered_referral("Again", 1).as_bytes())
    poll(service)
    [first] = received_by(smtp_server, TYPO)
    with service.store.session() as session:
        copy = resend(service, session, acknowledgement(service).id, WEB)
        assert copy.status == OutboxState.PENDING
    poll(service)
    first, second = received_by(smtp_server, TYPO)
    assert second["Subject"] == first["Subject"] and second["Message-ID"] != first["Message-ID"]
    assert body_of(second) == body_of(first)
