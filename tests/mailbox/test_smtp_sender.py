"""SmtpSender against a real aiosmtpd server on loopback: bytes unchanged, reuse, outages."""

from __future__ import annotations

import pytest

from pipeline.config import SmtpConfig
from pipeline.errors import SendError
from pipeline.mailbox.smtp import SmtpSender
from tests.servers import SmtpCapture, free_port

pytestmark = pytest.mark.servers

SENDER = "panel@example.org"


def synthetic_raw(n: int) -> bytes:
    # Built by hand, CRLF throughout, with a leading dot that SMTP must stuff and unstuff.
    return (
        b"From: Panel Inbox <panel@example.org>\r\n"
        b"To: Test Referrer <referrer@example.org>\r\n"
        b"Subject: Synthetic acknowledgement " + str(n).encode() + b"\r\n"
        b"Message-ID: <ack-" + str(n).encode() + b"@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"Thank you for the synthetic referral.\r\n"
        b".this line starts with a dot\r\n"
        b"  trailing spaces kept   \r\n"
    )


def config_for(server: SmtpCapture, **changes: object) -> SmtpConfig:
    base = SmtpConfig(host=server.host, port=server.port, security="none", timeout_seconds=5)
    return base.model_copy(update=changes)


def test_bytes_and_envelope_arrive_unchanged(smtp_server: SmtpCapture) -> None:
    sender = SmtpSender(config_for(smtp_server))
    recipients = ["referrer@example.org", "admin@example.org"]
    try:
        sender.send(synthetic_raw(1), SENDER, recipients)
    finally:
        sender.close()
    [(mail_from, rcpt_tos, raw)] = smtp_server.wait_for(1)
    assert mail_from == SENDER
    assert rcpt_tos == recipients
    assert raw == synthetic_raw(1)


def test_two_sends_reuse_one_connection(smtp_server: SmtpCapture) -> None:
    sender = SmtpSender(config_for(smtp_server))
    try:
        sender.send(synthetic_raw(1), SENDER, ["a@example.org"])
        sender.send(synthetic_raw(2), SENDER, ["b@example.org"])
    finally:
        sender.close()
    smtp_server.wait_for(2)
    assert smtp_server.peers[0] == smtp_server.peers[1]
    assert [m[1] for m in smtp_server.messages] == [["a@example.org"], ["b@example.org"]]


def test_outage_raises_send_error_then_recovers(smtp_server: SmtpCapture) -> None:
    sender = SmtpSender(config_for(smtp_server))
    try:
        sender.send(synthetic_raw(1), SENDER, ["a@example.org"])
        smtp_server.stop()
        with pytest.raises(SendError, match=r"mailbox\.smtp\.host") as caught:
            sender.send(synthetic_raw(2), SENDER, ["a@example.org"])
        assert caught.value.__cause__ is not None
        smtp_server.start()
        sender.send(synthetic_raw(3), SENDER, ["a@example.org"])
    finally:
        sender.close()
    assert [raw for _, _, raw in smtp_server.wait_for(2)] == [synthetic_raw(1), synthetic_raw(3)]


def test_server_down_from_the_start_is_a_send_error() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout_seconds=2)
    with pytest.raises(SendError, match="could not talk to the SMTP server"):
        SmtpSender(config).send(synthetic_raw(1), SENDER, ["a@example.org"])


def test_login_against_a_server_without_auth_is_a_send_error(smtp_server: SmtpCapture) -> None:
    sender = SmtpSender(config_for(smtp_server, username="panel", password="secret"))
    with pytest.raises(SendError, match="lacks a feature"):
        sender.send(synthetic_raw(1), SENDER, ["a@example.org"])
    assert smtp_server.messages == []


def test_no_recipients_is_refused_before_connecting(smtp_server: SmtpCapture) -> None:
    with pytest.raises(SendError, match="no recipients"):
        SmtpSender(config_for(smtp_server)).send(synthetic_raw(1), SENDER, [])


def test_describe_lists_ehlo_features(smtp_server: SmtpCapture) -> None:
    sender = SmtpSender(config_for(smtp_server))
    try:
        facts = sender.describe()
    finally:
        sender.close()
    text = "\n".join(facts)
    assert f"SMTP server 127.0.0.1:{smtp_server.port}" in text
    assert "SIZE" in text
    assert "STARTTLS: not offered" in text
    assert "AUTH mechanisms: none offered" in text
