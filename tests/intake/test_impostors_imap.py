"""R5 against a real Dovecot and a real SMTP server: what a stranger quoting a reference and a
forwarder actually receive, byte for byte, at the mail server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from tests.helpers import imap_service, status_of, status_rows
from tests.servers import ImapAccount, SmtpCapture

pytestmark = pytest.mark.servers

SCHOOL = samples.Child()
STRANGER = "mal@elsewhere.example.net"
DUTY = "duty.desk@council.example.org"


@pytest.fixture
def service(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture) -> Iterator[App]:
    domains = ["example.org", "school.example.org"]
    app = imap_service(
        tmp_path, imap_account, smtp_server, limits__allowed_recipient_domains=domains
    )
    yield app
    app.close()


def received(smtp: SmtpCapture, address: str) -> list[tuple[list[str], bytes]]:
    return [(rcpts, raw) for _, rcpts, raw in smtp.messages if address in rcpts]


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_stranger_receives_nothing_about_the_case_they_quote(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    sender = f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>"
    imap_account.deliver(
        samples.Mail(sender, "Referral", files=samples.full_referral(SCHOOL)).as_bytes()
    )
    poll(service)
    [first] = status_rows(service)
    other = samples.Child(name="Kit Otherchild", dob=date(2015, 2, 3), section20=True)
    quoting = samples.Mail(
        STRANGER, f"{first['reference']} update", files=samples.full_referral(other)
    )
    imap_account.deliver(quoting.as_bytes())
    poll(service)
    [(rcpts, raw)] = received(smtp_server, STRANGER)
    assert rcpts == [STRANGER]
    message = parsed(raw)
    said = raw.decode("ascii", "replace") + "\n".join(
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    )
    for secret in (first["reference"], SCHOOL.name, *(d["filename"] for d in first["documents"])):
        assert secret not in said
    held = status_rows(service)[1]
    assert held["state"] == "held" and held["meeting"] is None
    assert status_of(service, first["reference"])["fields"]["child_name"] == SCHOOL.name
    assert received(smtp_server, "chair@example.org") == []


def test_the_forwarder_is_copied_at_the_mail_server(
    service: App, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    inner = samples.Mail(SCHOOL.referrer_email, "Referral", files=samples.full_referral(SCHOOL))
    imap_account.deliver(samples.forwarded(inner, by=f"Duty Desk <{DUTY}>").as_bytes())
    poll(service)
    [(rcpts, raw)] = received(smtp_server, DUTY)
    assert sorted(rcpts) == sorted([SCHOOL.referrer_email, DUTY])
    message = parsed(raw)
    assert message["To"] == SCHOOL.referrer_email and message["Cc"] == DUTY
    assert "referral received" in message["Subject"]
