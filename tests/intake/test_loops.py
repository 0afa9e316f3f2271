"""Tests for recognising automatic mail and our own mail, with a close eye on false positives."""

from __future__ import annotations

import email
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.intake.loops import detect_automatic, is_our_own
from pipeline.outbox.compose import LOOP_HEADER

PERSON = "sam.sample@police.example.net"


def message(*head: str, sender: str = PERSON, body: str = "Hello.") -> Message:
    lines = [f"From: Sam Sample <{sender}>", "To: panel@masp.example.org", *head]
    return email.message_from_string("\r\n".join(lines) + "\r\n\r\n" + body, policy=compat32)


def category(msg: Message, sender: str = PERSON) -> str | None:
    found = detect_automatic(msg, sender)
    return found.category if found else None


@pytest.mark.parametrize(
    "head",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-generated; owner-email=x@example.org",),
        ("Precedence: bulk",),
        ("Precedence: junk",),
        ("Precedence: list",),
        ("Precedence: auto_reply",),
        ("X-Autoreply: yes",),
        ("X-Autorespond: Out of office",),
        ("X-Autoresponder: true",),
        ("X-AutoReply-From: sam.sample@police.example.net",),
        ("X-Mail-Autoreply: yes",),
        ("X-FC-MachineGenerated: true",),
        ("List-Id: News <news.lists.example.org>",),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>",),
        ("Subject: Automatic reply: MASP referral",),
        ("Subject: Out of Office: MASP referral",),
        ("Subject: Out of Office AutoReply: MASP referral",),
        ("Subject: Out of office",),
        ("Subject: Auto-Reply: referral",),
        ("Subject: [EXTERNAL] Automatic reply: referral",),
        ("Subject: Abwesend: Überweisung",),
        ("Subject: =?utf-8?q?R=C3=A9ponse_automatique_:_dossier?=",),
        ("Subject: [EXT] I am on annual leave", "X-Auto-Response-Suppress: All"),
        ("Subject: Away from the office this week", "X-Auto-Response-Suppress: DR, OOF, AutoReply"),
    ],
)
def test_auto_replies(head: tuple[str, ...]) -> None:
    assert category(message(*head)) == "auto_reply"


@pytest.mark.parametrize(
    "head",
    [
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x",),
        ("Return-Path: <>",),
        ("Return-Path:",),
    ],
)
def test_bounces(head: tuple[str, ...]) -> None:
    assert category(message(*head)) == "bounce"


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MAILER-DAEMON@mx.example.net", "bounce"),
        ("postmaster@example.net", "bounce"),
        ("bounces+abc=example.org@lists.example.net", "bounce"),
        ("bounce@example.net", "bounce"),
        ("no-reply@portal.example.org", "auto_reply"),
        ("noreply@portal.example.org", "auto_reply"),
        ("do-not-reply@portal.example.org", "auto_reply"),
        ("donotreply@portal.example.org", "auto_reply"),
        ("noreply-alerts@portal.example.org", "auto_reply"),
        # People whose names merely start like those addresses.
        ("noreen.example@school.example.org", None),
        ("bouncer.example@school.example.org", None),
        ("postmistress@school.example.org", None),
    ],
)
def test_senders(sender: str, expected: str | None) -> None:
    assert category(message(sender=sender), sender) == expected


def test_delivery_status_part_without_a_report_is_a_bounce() -> None:
    body = (
        "--x\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        "--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n\r\n--x--\r\n"
    )
    msg = message("Content-Type: multipart/mixed; boundary=x", body=body)
    assert category(msg) == "bounce"


def test_read_receipt_report_is_automatic_but_not_a_bounce() -> None:
    msg = message(
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=x"
    )
    assert category(msg) == "auto_reply"


@pytest.mark.parametrize(
    "head",
    [
        ("Auto-Submitted: no",),
        ("Precedence: first-class",),
        ("X-Autoreply: no",),
        ("Return-Path: <sam.sample@police.example.net>",),
        # Exchange puts X-Auto-Response-Suppress on ordinary mail (distribution lists, rules).
        ("X-Auto-Response-Suppress: All",),
        ("X-Auto-Response-Suppress: RN, NRN", "Subject: On annual leave next week"),
        ("X-Auto-Response-Suppress: All", "Subject: RE: Automatic reply: MASP referral"),
        ("X-Auto-Response-Suppress: OOF", "Subject: Re: Out of office cover for Child AB"),
        ("Subject: RE: Automatic reply: MASP referral",),
        ("Subject: FW: Out of Office: referral",),
        ("Subject: Out of office cover for Child AB",),
        ("Subject: Annual leave cover: referral for Child AB",),
        ("Subject: Chronology for the panel", "In-Reply-To: <ack@masp.example.org>"),
    ],
)
def test_people_are_not_automatic(head: tuple[str, ...]) -> None:
    assert category(message(*head)) is None


def test_headers_only_message_is_enough() -> None:
    raw = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: failure\r\n\r\nbody"
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    assert category(headers, "mailer-daemon@mx.example.net") == "bounce"


def test_reason_names_the_evidence() -> None:
    found = detect_automatic(message("Auto-Submitted: auto-replied"), PERSON)
    assert found is not None and found.reason == "Auto-Submitted: auto-replied"


@pytest.mark.parametrize(
    ("value", "ours", "expected"),
    [
        ("panel@masp.example.org", "panel@masp.example.org", True),
        ("MASP Panel <Panel@MASP.example.org>", "panel@masp.example.org", True),
        ("other@masp.example.org", "panel@masp.example.org", False),
        ("panel@masp.example.org", "", True),
        (None, "panel@masp.example.org", False),
        (None, "", False),
    ],
)
def test_is_our_own(value: str | None, ours: str, expected: bool) -> None:
    head = (f"{LOOP_HEADER}: {value}",) if value is not None else ()
    assert is_our_own(message(*head), ours) is expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_headers_are_judged_without_error(raw: bytes) -> None:
    msg = email.message_from_bytes(raw, policy=compat32)
    detect_automatic(msg, "")
    is_our_own(msg, "panel@masp.example.org")
