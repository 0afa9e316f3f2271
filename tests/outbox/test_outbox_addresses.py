"""Addresses read strictly (issue 9, items 8 and 10): a folded name is one person, a quoted
local part or a second address is never answered, and neither is our own address or a
machine's; such email is kept and the administrator told, on the maildir back-end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.mime.addresses import Mailbox, Unreadable, read_mailbox
from pipeline.mime.message import parse_email
from pipeline.store.models import Case, Message
from tests.helpers import Sent, drop, open_service, sent_mail
from tests.panel.test_screening import referral as screening_referral
from tests.panel.test_screening import reply, request_mail, tick_only

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SCHOOL = samples.Child()
ADMIN = "admin@example.org"
PLACEHOLDER = "placeholder@example.org"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    yield app
    app.close()


def crlf(raw: bytes) -> bytes:
    """Lines ending CRLF, as mail comes from an IMAP server."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def referral_from(from_header: bytes) -> bytes:
    mail = samples.Mail(PLACEHOLDER, "Referral for panel", files=samples.full_referral(SCHOOL))
    raw = crlf(mail.as_bytes())
    return raw.replace(f"From: {PLACEHOLDER}".encode(), b"From: " + from_header, 1)


def envelope_recipients(service: App) -> list[str]:
    return [s.to for s in sent_mail(service)]


def alerts(service: App) -> list[Sent]:
    return [s for s in sent_mail(service) if s.to == ADMIN and "without an answer" in s.subject]


def held_rows(service: App) -> list[tuple[str, int | None]]:
    with service.store.session() as session:
        rows = session.scalars(select(Message).where(Message.status == "quarantined"))
        return [(r.category or "", r.case_id) for r in rows]


def case_count(service: App) -> int:
    with service.store.session() as session:
        return len(session.scalars(select(Case)).all())


def test_a_name_folded_inside_quotes_is_one_referrer(service: App) -> None:
    folded = b'"Jo Example, Designated Safeguarding\r\n Lead" <jo.example@school.example.org>'
    drop(service, referral_from(folded), NOW - timedelta(hours=1))
    poll(service)
    with service.store.session() as session:
        [case] = session.scalars(select(Case))
        assert case.referrer_email == "jo.example@school.example.org"
    # Exactly one recipient, the referrer: never 'jo' and 'designated' completed by a server.
    assert envelope_recipients(service) == ["jo.example@school.example.org"]


def test_a_quoted_local_part_holding_another_address_is_never_answered(service: App) -> None:
    drop(service, referral_from(b'"jo,evil@evil.example.com"@school.example.org'), NOW)
    report = poll(service)
    assert report.filing.quarantined == 1 and case_count(service) == 0
    assert not any("evil" in to for to in envelope_recipients(service))
    assert held_rows(service) == [("bad_address", None)]
    [alert] = alerts(service)
    assert "is not one plain email address" in alert.text()
    assert "masp quarantine list (email 1)" in alert.text()


@pytest.mark.parametrize(
    ("header", "name"),
    [
        # Encoded words are decoded after the address is found: their colon or angle
        # brackets belong to the name.
        (
            b"=?utf-8?q?Jo_Example_<evil@evil.example.com>?= <jo.example@school.example.org>",
            "Jo Example <evil@evil.example.com>",
        ),
        (
            b"=?utf-8?q?Safeguarding:_Jo_Example?= <jo.example@school.example.org>",
            "Safeguarding: Jo Example",
        ),
        (
            b"=?utf-8?b?Sm8gRXhhbXBsZTogPGV2aWxAZXZpbC5leGFtcGxlLmNvbT4=?= "
            b"<jo.example@school.example.org>",
            "Jo Example: <evil@evil.example.com>",
        ),
    ],
)
def test_an_encoded_name_holding_colons_or_brackets_stays_a_name(
    service: App, header: bytes, name: str
) -> None:
    raw = referral_from(header)
    parsed = parse_email(raw)
    assert (parsed.from_name, parsed.from_address) == (name, "jo.example@school.example.org")
    drop(service, raw, NOW)
    poll(service)
    assert envelope_recipients(service) == ["jo.example@school.example.org"]


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (b"Jo Example, Sam Example <jo.example@school.example.org>", "not one plain"),
        (b"jo.example@school.example.org, sam@school.example.org", "holds 2 addresses"),
        (b"jo.example", "not one plain"),
        (b"Jo <jo.example@school.example.org> trailing words", "text that is not part"),
    ],
)
def test_a_from_that_is_not_one_address_is_kept_for_the_administrator(
    service: App, header: bytes, why: str
) -> None:
    drop(service, referral_from(header), NOW)
    poll(service)
    assert envelope_recipients(service) == [ADMIN]
    [alert] = alerts(service)
    assert why in alert.text()
    assert held_rows(service) == [("bad_address", None)]


def test_a_managers_reply_with_a_folded_name_is_applied(service: App) -> None:
    drop(service, screening_referral(), NOW - timedelta(hours=1))
    poll(service)
    tick_only(service)
    answer = crlf(reply(request_mail(service), "APPROVE").as_bytes())
    folded = b'"Manager, Service\r\n (Children and Families)" <sm@example.org>'
    assert b"From: S Manager <sm@example.org>" in answer
    drop(service, answer.replace(b"S Manager <sm@example.org>", folded, 1), NOW)
    poll(service)
    with service.store.session() as session:
        assert session.scalars(select(Case.state)).one() == "approved"


def test_mail_from_our_own_address_opens_no_case_and_is_answered_to_nobody(
    service: App,
) -> None:
    drop(service, referral_from(b"Panel Inbox <panel@example.org>"), NOW)
    poll(service)
    assert case_count(service) == 0
    assert envelope_recipients(service) == [ADMIN]
    [alert] = alerts(service)
    assert "the panel inbox's own" in alert.text()
    assert held_rows(service) == [("own_address", None)]


@pytest.mark.parametrize("machine", ["MAILER-DAEMON@mx.example.org", "no-reply@school.example.org"])
def test_a_reply_to_a_machine_opens_no_case_and_is_answered_to_nobody(
    service: App, machine: str
) -> None:
    mail = samples.Mail(
        f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>",
        "Referral for panel",
        files=samples.full_referral(SCHOOL),
        headers={"Reply-To": machine},
    )
    drop(service, mail.as_bytes(), NOW)
    poll(service)
    assert case_count(service) == 0
    assert envelope_recipients(service) == [ADMIN]
    [alert] = alerts(service)
    assert "answers would go to a machine" in alert.text()
    assert held_rows(service) == [("machine_reply_to", None)]


def test_an_unanswerable_email_replayed_stays_held_and_alerts_once(service: App) -> None:
    from pipeline.intake.filing import replay

    drop(service, referral_from(b"Panel Inbox <panel@example.org>"), NOW)
    poll(service)
    assert replay(service, 1).quarantined == 1
    poll(service)
    assert len(alerts(service)) == 1 and case_count(service) == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Smith, Jo" <Jo.Smith@School.Example.org>', "jo.smith@school.example.org"),
        ('"=?utf-8?B?Sm8gw5Zsc2Vu?=" <jo@school.example.org>', "jo@school.example.org"),
        ("Jo A. Smith <jo@school.example.org> (Lead)", "jo@school.example.org"),
        ("jdöe@mächine.example", "jdöe@mächine.example"),
        ('"jo"@school.example.org', "jo@school.example.org"),
        ('"jo,evil@evil.example.com"@school.example.org', None),
        ("jo@school", None),
        ("jo@[192.0.2.1]", None),
        ("jo..x@school.example.org", None),
        ("<jo@school.example.org", None),
        ("jo\u200f@school.example.org", None),
        ("", None),
        ("undisclosed-recipients:;", None),
    ],
)
def test_read_mailbox(raw: str, expected: str | None) -> None:
    found = read_mailbox(raw)
    if expected is None:
        assert isinstance(found, Unreadable)
    else:
        assert isinstance(found, Mailbox) and found.address == expected
