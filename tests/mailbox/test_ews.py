"""The `ews` back-end (on-premises Exchange Server) against the EWS stand-in on 127.0.0.1:
contract tests against a stand-in; no Exchange Server here (`tests/stand_ins/ews.py` says which
EWS reference page each answer's shape comes from). The stand-in signs in with basic auth; NTLM
and Kerberos are checked only as the sign-in the configuration chooses."""

from __future__ import annotations

import email
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import yaml
from exchangelib import BASIC, NTLM
from sqlalchemy import select

from pipeline.app import App
from pipeline.config import EwsConfig, MailboxConfig
from pipeline.errors import ConfigError, MailboxError, SendError
from pipeline.intake.ledger import Ledger
from pipeline.mailbox.base import MemoryCursor
from pipeline.mailbox.ews import ONLINE_WARNING, EwsSender, EwsSource, _Connection
from pipeline.store.models import Message
from tests.helpers import config_tree, masp, numbered_referral, open_service
from tests.mailbox.contract import message
from tests.stand_ins.ews import Ews, running_ews

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def ews(tmp_path: Path) -> Iterator[Ews]:
    with running_ews(tmp_path / "tls") as running:
        yield running


def mailbox(ews: Ews, **overrides: Any) -> MailboxConfig:
    return MailboxConfig(backend="ews", address="panel@example.org",
                         ews=EwsConfig(**ews.ews_config(**overrides)))  # fmt: skip


def subjects(raws: list[bytes]) -> list[str]:
    return [str(email.message_from_bytes(r, policy=default)["Subject"]) for r in raws]


@pytest.fixture
def service(tmp_path: Path, ews: Ews) -> Iterator[App]:
    app = open_service(tmp_path, NOW, mailbox__backend="ews", mailbox__ews=ews.ews_config())
    yield app
    app.close()


def ledgered(app: App) -> list[Message]:
    with app.store.session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def test_two_polls_sync_from_the_state_kept_in_the_database(service: App, ews: Ews) -> None:
    ews.mailbox.deliver(message(1))
    with EwsSource(service.config.mailbox) as source:
        Ledger(service).ingest(source)
    ews.mailbox.deliver(message(2))
    ews.mailbox.requests.clear()
    with EwsSource(service.config.mailbox) as source:
        report = Ledger(service).ingest(source)
    assert report.stored == 1
    assert [m.folder for m in ledgered(service)] == ["Inbox", "Inbox"]
    assert all(m.backend == "ews" and m.uidvalidity == 0 for m in ledgered(service))
    # The second poll asked only for what changed since the stored state: one GetItem.
    assert ews.mailbox.requests.count("GetItem") == 1


def test_a_sync_state_the_server_forgot_resyncs_and_files_nothing_twice(
    service: App, ews: Ews, caplog: pytest.LogCaptureFixture
) -> None:
    ews.mailbox.deliver(message(1))
    with EwsSource(service.config.mailbox) as source:
        Ledger(service).ingest(source)
    ews.mailbox.invalidate_sync_states()
    ews.mailbox.deliver(message(2))
    with caplog.at_level(logging.WARNING), EwsSource(service.config.mailbox) as source:
        report = Ledger(service).ingest(source)
    assert report.stored == 1 and report.duplicates == 0
    assert len(ledgered(service)) == 2
    assert "syncing afresh" in caplog.text


def test_a_message_a_person_moved_first_is_not_moved_and_raises_nothing(ews: Ews) -> None:
    for n in (1, 2, 3):
        ews.mailbox.deliver(message(n))
    with EwsSource(mailbox(ews)) as source:
        got = list(source.fetch_new(lambda f, v: None, lambda loc: False, MemoryCursor()))
        ews.mailbox.move_by_person("Contract referral 2")
        ews.mailbox.requests.clear()
        moved = source.mark_processed([m.location for m in got])
    assert moved == [got[0].location, got[2].location]
    # One MoveItem for all three: a bulk move.
    assert ews.mailbox.requests.count("MoveItem") == 1
    assert subjects(ews.mailbox.contents("Processed")) == [
        "Contract referral 1", "Contract referral 3"]  # fmt: skip
    assert subjects(ews.mailbox.contents("Elsewhere")) == ["Contract referral 2"]


def test_a_file_attachment_is_sent_intact_and_a_copy_kept(ews: Ews) -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    outgoing = message(7, to="sw@council.example.org", attachment=pdf)
    sender = EwsSender(mailbox(ews))
    try:
        sender.send(outgoing, "panel@example.org", ["sw@council.example.org"])
    finally:
        sender.close()
    [sent] = ews.mailbox.sent
    assert sent.raw == outgoing and sent.disposition == "SendAndSaveCopy"
    assert sent.recipients == ["sw@council.example.org"]
    assert subjects(ews.mailbox.contents("Sent Items")) == ["Contract referral 7"]


def test_a_recipient_the_headers_do_not_name_is_sent_a_blind_copy(ews: Ews) -> None:
    outgoing = message(8, to="sw@council.example.org")
    sender = EwsSender(mailbox(ews))
    sender.send(outgoing, "panel@example.org", ["sw@council.example.org", "dsl@school.example.org"])
    sender.close()
    [sent] = ews.mailbox.sent
    assert sorted(sent.recipients) == ["dsl@school.example.org", "sw@council.example.org"]
    assert sent.raw.endswith(outgoing)


def test_a_busy_server_is_waited_for_within_the_bound(ews: Ews) -> None:
    ews.mailbox.deliver(message(1))
    ews.mailbox.faults.append(("SyncFolderItems", "ErrorServerBusy", 1500))
    started = time.monotonic()
    with EwsSource(mailbox(ews)) as source:
        got = list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert subjects([m.raw for m in got]) == ["Contract referral 1"]
    assert 1.4 <= time.monotonic() - started < 5
    # Asked to wait longer than mailbox.ews.max_wait_seconds: give up until the next poll.
    ews.mailbox.faults.append(("SyncFolderItems", "ErrorServerBusy", 300_000))
    started = time.monotonic()
    with pytest.raises(MailboxError) as busy, EwsSource(mailbox(ews)) as source:
        list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert "busy" in str(busy.value) and "max_wait_seconds" in str(busy.value)
    assert time.monotonic() - started < 5


def test_a_busy_server_when_sending_is_a_temporary_failure(ews: Ews) -> None:
    ews.mailbox.faults.append(("CreateItem", "ErrorServerBusy", 300_000))
    sender = EwsSender(mailbox(ews))
    with pytest.raises(SendError) as busy:
        sender.send(message(1, to="a@school.example.org"), "panel@example.org",
                    ["a@school.example.org"])  # fmt: skip
    sender.close()
    assert busy.value.temporary and ews.mailbox.sent == []


def test_exchange_online_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    online = "https://outlook.office365.com/EWS/Exchange.asmx"
    config = MailboxConfig(backend="ews", ews=EwsConfig(server=online, auth="basic", username="u"))
    with caplog.at_level(logging.WARNING):
        _Connection(config)
    assert ONLINE_WARNING in caplog.text
    assert "1 Oct 2026" in ONLINE_WARNING and "1 Apr 2027" in ONLINE_WARNING
    assert "backend graph" in ONLINE_WARNING


def test_the_sign_in_is_the_configured_one(ews: Ews) -> None:
    ntlm = _Connection(mailbox(ews, auth="ntlm"))._configuration()
    assert ntlm.auth_type == NTLM and ntlm.credentials.username == "COUNCIL\\svc-masp"
    assert _Connection(mailbox(ews))._configuration().auth_type == BASIC
    assert ntlm.retry_policy.max_wait == 5 and ntlm.version.build.major_version == 15
    with pytest.raises(ConfigError) as no_user:
        _Connection(mailbox(ews, username=""))._configuration()
    assert "mailbox.ews.username" in str(no_user.value)


def test_a_wrong_password_and_an_untrusted_certificate_say_what_to_check(ews: Ews) -> None:
    with pytest.raises(MailboxError) as refused, EwsSource(mailbox(ews, password="no")) as source:
        list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert "refused the sign-in" in str(refused.value)
    with pytest.raises(MailboxError) as untrusted, EwsSource(mailbox(ews, ca_file="")) as source:
        list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert "mailbox.ews.ca_file" in str(untrusted.value)


def write_config(folder: Path, ews: Ews) -> Path:
    tree = config_tree(mailbox__backend="ews", mailbox__ews=ews.ews_config())
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_check_config_names_an_access_problem_in_plain_english(tmp_path: Path, ews: Ews) -> None:
    config = write_config(tmp_path, ews)
    good = masp("--config", str(config), "check-config")
    assert "Exchange Server build 15.1" in good.stdout, good.stdout + good.stderr
    assert "folder 'Inbox' found" in good.stdout
    ews.mailbox.denied = True
    denied = masp("--config", str(config), "check-config")
    assert denied.returncode != 0
    text = " ".join(denied.stdout.split())
    assert "has no access to panel@example.org's mailbox" in text, text


def test_masp_poll_end_to_end(tmp_path: Path, ews: Ews) -> None:
    config = write_config(tmp_path, ews)
    ews.mailbox.deliver(numbered_referral("Ews", 1).as_bytes())
    first = masp("--config", str(config), "poll")
    assert first.returncode == 0, first.stdout + first.stderr
    again = masp("--config", str(config), "poll")
    assert again.returncode == 0, again.stdout + again.stderr
    assert ews.mailbox.contents("Inbox") == [] and len(ews.mailbox.contents("Processed")) == 1
    acknowledgements = [s for s in ews.mailbox.sent if "ref1@school.example.org" in s.recipients]
    assert len(acknowledgements) == 1
    assert "MASP-" in str(email.message_from_bytes(acknowledgements[0].raw)["Subject"])
