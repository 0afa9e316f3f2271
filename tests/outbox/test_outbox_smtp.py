"""Poison mail for the outbox (issue 9, items 1 and 5), through a real Dovecot and a real SMTP
server: an address beyond ASCII goes by SMTPUTF8 or fails alone; a huge Message-ID is not
copied into a line the server refuses. Whatever one email holds, the others are delivered."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.store.models import OutboxItem
from tests.helpers import imap_service, numbered_referral
from tests.servers import ImapAccount, SmtpCapture

pytestmark = pytest.mark.servers

UNICODE_REFERRER = "jdöe@mächine.example"
ADMIN = "admin@example.org"


@pytest.fixture
def service(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture) -> Iterator[App]:
    app = imap_service(tmp_path, imap_account, smtp_server)
    yield app
    app.close()


def referral(sender: str, n: int) -> bytes:
    mail = numbered_referral("Smtp", n, sender)
    # As a UTF-8 mail program writes it (RFC 6532): the address is not encoded.
    return mail.build().as_bytes(policy=email.policy.SMTPUTF8)


def received_by(smtp: SmtpCapture, address: str) -> list[bytes]:
    return [raw for _, to, raw in smtp.messages if address in to]


def outbox_row(app: App, template: str, address: str) -> OutboxItem:
    with app.store.session() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.template == template))
        [item] = [i for i in items if address in i.addresses]
        return item


def test_without_smtputf8_the_unicode_address_fails_alone_and_the_rest_are_sent(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    imap_account.deliver(referral(f"Jö Döe <{UNICODE_REFERRER}>", 1))
    # An invisible right-to-left mark is no address of a person: kept, never answered.
    imap_account.deliver(referral("Jo <jo\u200f@school.example.org>", 4))
    imap_account.deliver(referral("Referrer Two <ref2@school.example.org>", 2))
    imap_account.deliver(referral("Referrer Three <ref3@school.example.org>", 3))
    report = poll(service)
    assert report.filing.quarantined == 1
    # Three answers; and the administrator's alert too when the failure came in a round while
    # the filing went on (the alert it queued goes in the poll's last round).
    assert report.delivery.failed == 1 and report.delivery.sent in (3, 4)
    assert len(received_by(smtp_server, "ref2@school.example.org")) == 1
    assert len(received_by(smtp_server, "ref3@school.example.org")) == 1
    item = outbox_row(service, "acknowledgement", UNICODE_REFERRER)
    assert item.status == "failed" and "does not offer SMTPUTF8" in (item.last_error or "")
    assert not any("\u200f" in address for _, to, _ in smtp_server.messages for address in to)
    poll(service)  # the administrator's alert was queued by the failure and goes by now
    # The two administrator's emails, in either order (the alert may go in the first poll).
    [held, alert] = sorted(
        received_by(smtp_server, ADMIN), key=lambda raw: b"kept without" not in raw
    )
    assert b"kept without an answer" in held
    message = email.message_from_bytes(alert, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert UNICODE_REFERRER in text and "It will not be tried again" in text


def test_with_smtputf8_the_unicode_address_is_answered(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    smtp_server.restart(smtputf8=True)
    imap_account.deliver(referral(f"Jö Döe <{UNICODE_REFERRER}>", 1))
    imap_account.deliver(referral("Referrer Two <ref2@school.example.org>", 2))
    poll(service)
    [(_, rcpt_tos, raw)] = [m for m in smtp_server.messages if UNICODE_REFERRER in m[1]]
    assert rcpt_tos == [UNICODE_REFERRER]
    index = [m[2] for m in smtp_server.messages].index(raw)
    assert smtp_server.smtputf8_used[index]
    # The To header carries the address as UTF-8 (RFC 6532), not as an encoded word.
    assert f"To: {UNICODE_REFERRER}\r\n".encode() in raw
    assert len(received_by(smtp_server, "ref2@school.example.org")) == 1
    # Plain-ASCII mail on the same server still goes without asking for SMTPUTF8.
    assert smtp_server.smtputf8_used.count(True) == 1
    assert outbox_row(service, "acknowledgement", UNICODE_REFERRER).status == "sent"


def test_a_huge_message_id_is_not_copied_and_the_acknowledgement_arrives(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    huge = "x" * 5000 + "@sender.example.org"
    mail = referral("Referrer One <ref1@school.example.org>", 1)
    references = b"<ok-1@sender.example.org> <" + b"y" * 4000 + b"@sender.example.org>"
    mail = mail.replace(b"Message-ID: <", b"References: " + references + b"\r\nMessage-ID: <", 1)
    start = mail.index(b"Message-ID: <") + len(b"Message-ID: <")
    end = mail.index(b">", start)
    imap_account.deliver(mail[:start] + huge.encode() + mail[end:])
    poll(service)
    [ack] = received_by(smtp_server, "ref1@school.example.org")
    assert max(len(line) for line in ack.split(b"\r\n")) <= 998
    message = email.message_from_bytes(ack)
    assert message["In-Reply-To"] is None
    assert " ".join(str(message["References"]).split()) == "<ok-1@sender.example.org>"
    assert outbox_row(service, "acknowledgement", "ref1@school.example.org").status == "sent"
