"""The back-end contract: every mailbox back-end (maildir, imap with SMTP, and those registered
in `harnesses.HARNESSES`) fetches new mail once and only once, oldest first, whatever a person
does in their mail program, moves what was processed, sends whole emails with big attachments,
and loses nothing while its server is away. Each runs against its real server, or where none
can run here (Microsoft Graph, EWS) against a stand-in that speaks Microsoft's documented
payloads (see each harness)."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from pipeline.errors import MailboxError, SendError
from pipeline.mailbox.base import InboundMessage, Location, MemoryCursor
from tests.mailbox.contract import Harness, message
from tests.mailbox.harnesses import HARNESSES

pytestmark = pytest.mark.servers

FIVE_MB = bytes(range(256)) * 20_480
FOUR_MB = FIVE_MB[: 4 * 1024 * 1024]


class Ledger:
    """What the intake ledger does for a back-end: remembers what it holds, and the cursor."""

    def __init__(self) -> None:
        self.held: set[Location] = set()
        self.cursor = MemoryCursor()

    def last_seen(self, folder: str, uidvalidity: int) -> int | None:
        uids = [
            int(loc.uid)
            for loc in self.held
            if (loc.folder, loc.uidvalidity) == (folder, uidvalidity) and loc.uid.isdigit()
        ]
        return max(uids, default=None)

    def known(self, location: Location) -> bool:
        return location in self.held

    def fetch(self, harness: Harness) -> list[InboundMessage]:
        """One poll: a fresh source (as after a restart), everything new, then held."""
        with harness.source() as source:
            got = list(source.fetch_new(self.last_seen, self.known, self.cursor))
        self.held |= {m.location for m in got}
        return got


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with HARNESSES[request.param](tmp_path / request.param, request) as made:
        yield made


def parsed(raw: bytes) -> EmailMessage:
    found = email.message_from_bytes(raw, policy=default)
    assert isinstance(found, EmailMessage)
    return found


def subjects(messages: list[InboundMessage]) -> list[str]:
    return [str(parsed(m.raw)["Subject"]) for m in messages]


def attachment_of(raw: bytes) -> bytes:
    [part] = list(parsed(raw).iter_attachments())
    content = part.get_content()
    assert isinstance(content, bytes)
    return content


def test_new_mail_is_fetched_oldest_first(harness: Harness) -> None:
    for n in (1, 2, 3):
        harness.deliver(message(n))
    got = Ledger().fetch(harness)
    assert subjects(got) == ["Contract referral 1", "Contract referral 2", "Contract referral 3"]
    assert all(m.received_at is not None for m in got)


def test_nothing_is_fetched_twice_not_even_after_a_restart(harness: Harness) -> None:
    ledger = Ledger()
    harness.deliver(message(1))
    harness.deliver(message(2))
    assert len(ledger.fetch(harness)) == 2
    assert ledger.fetch(harness) == []
    harness.deliver(message(3))
    assert subjects(ledger.fetch(harness)) == ["Contract referral 3"]
    assert ledger.fetch(harness) == []


def test_mail_a_person_read_first_is_still_fetched(harness: Harness) -> None:
    harness.deliver(message(1))
    harness.read_by_person()
    assert subjects(Ledger().fetch(harness)) == ["Contract referral 1"]


def test_mail_a_person_moved_away_is_left_alone_without_an_error(harness: Harness) -> None:
    ledger = Ledger()
    harness.deliver(message(1))
    harness.deliver(message(2))
    got = ledger.fetch(harness)
    harness.move_away_by_person("Contract referral 1")
    with harness.source() as source:
        moved = source.mark_processed([m.location for m in got])
    assert moved == [got[1].location]
    assert [str(parsed(raw)["Subject"]) for raw in harness.processed()] == ["Contract referral 2"]
    assert ledger.fetch(harness) == []


def test_big_attachments_arrive_whole_both_ways(harness: Harness) -> None:
    harness.deliver(message(1, attachment=FIVE_MB))
    [got] = Ledger().fetch(harness)
    assert attachment_of(got.raw) == FIVE_MB
    outgoing = message(2, to="someone@school.example.org", attachment=FOUR_MB)
    sender = harness.sender()
    try:
        sender.send(outgoing, harness.address, ["someone@school.example.org"])
    finally:
        sender.close()
    [(recipients, raw)] = harness.sent()
    assert recipients == ["someone@school.example.org"]
    assert attachment_of(raw) == FOUR_MB


def test_sending_keeps_the_email_whole_for_every_recipient(harness: Harness) -> None:
    outgoing = message(1, to="a@school.example.org, b@health.example.org", attachment=b"%PDF-1.7")
    sender = harness.sender()
    try:
        sender.send(outgoing, harness.address, ["a@school.example.org", "b@health.example.org"])
    finally:
        sender.close()
    [(recipients, raw)] = harness.sent()
    assert sorted(recipients) == ["a@school.example.org", "b@health.example.org"]
    sent, original = parsed(raw), parsed(outgoing)
    assert sent["Message-ID"] == original["Message-ID"] and sent["Subject"] == original["Subject"]
    assert attachment_of(raw) == b"%PDF-1.7"


def test_a_server_away_and_back_loses_nothing(harness: Harness) -> None:
    ledger = Ledger()
    harness.deliver(message(1))
    outgoing = message(2, to="someone@school.example.org")
    with harness.outage():
        with pytest.raises(MailboxError):
            ledger.fetch(harness)
        with pytest.raises(SendError):
            sender = harness.sender()
            try:
                sender.send(outgoing, harness.address, ["someone@school.example.org"])
            finally:
                sender.close()
    assert subjects(ledger.fetch(harness)) == ["Contract referral 1"]
    sender = harness.sender()
    try:
        sender.send(outgoing, harness.address, ["someone@school.example.org"])
    finally:
        sender.close()
    assert [r for r, _ in harness.sent()] == [["someone@school.example.org"]]
