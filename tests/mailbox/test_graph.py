"""The `graph` back-end: contract tests against a stand-in; no real tenant is reachable from here.

The Entra and Graph stand-ins (`tests/stand_ins/entra.py`, `tests/stand_ins/graph.py`) speak
Microsoft's documented payloads over HTTPS on 127.0.0.1: delta pages and their expiry, ids that
change on a move, throttling, upload sessions. What these tests check is what a user sees: the
cases and acknowledgements, what sits in which folder, what left the mailbox."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.errors import MailboxError
from pipeline.intake.ledger import Ledger
from pipeline.intake.poll import poll
from pipeline.mailbox import graph as graph_module
from pipeline.mailbox.base import InboundMessage, Location, MemoryCursor
from pipeline.mailbox.graph import GraphSource
from pipeline.store.models import Case, MailboxCursor, Message
from tests.helpers import config_tree, numbered_referral
from tests.mailbox.contract import message
from tests.mailbox.harness_graph import ADDRESS, GraphHarness, graph_config
from tests.stand_ins.entra import running_entra
from tests.stand_ins.graph import Graph, grant, running_graph

FIVE_MB = bytes(range(256)) * 20_480


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[Graph]:
    with running_entra(tmp_path / "tls") as entra, running_graph(entra, ADDRESS) as running:
        yield running


@pytest.fixture
def harness(tmp_path: Path, graph: Graph) -> GraphHarness:
    return GraphHarness(tmp_path, graph)


@pytest.fixture
def service(tmp_path: Path, graph: Graph) -> Iterator[App]:
    app = App.open(graph_config(tmp_path, graph), Clock.system())
    yield app


def subjects(found: list[InboundMessage]) -> list[str]:
    return [str(email.message_from_bytes(m.raw, policy=default)["Subject"]) for m in found]


def fetch(harness: GraphHarness, cursor: MemoryCursor, held: set[Location]) -> list[InboundMessage]:
    with harness.source() as source:
        got = list(source.fetch_new(lambda f, v: None, held.__contains__, cursor))
    held |= {m.location for m in got}
    return got


def acknowledgements(graph: Graph, address: str) -> list[EmailMessage]:
    found = []
    for recipients, raw in graph.mailbox.sent:
        if address in recipients:
            parsed = email.message_from_bytes(raw, policy=default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
    return found


def test_new_mail_is_read_by_delta_across_pages_with_immutable_ids(
    harness: GraphHarness, graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module, "PAGE_SIZE", 10)
    for n in range(25):
        harness.deliver(message(n))
    cursor, held = MemoryCursor(), set[Location]()
    got = fetch(harness, cursor, held)
    assert subjects(got) == [f"Contract referral {n}" for n in range(25)]
    deltas = [path for method, path, _ in graph.requests if path.endswith("/messages/delta")]
    assert len(deltas) == 3
    assert all('IdType="ImmutableId"' in prefer for _, _, prefer in graph.requests)
    [(name, link)] = cursor.values.items()
    assert name.startswith("delta:") and "$deltatoken=" in link
    # The next poll asks only for what changed, and gets nothing.
    graph.requests.clear()
    assert fetch(harness, cursor, held) == []
    assert [m for m, _, _ in graph.requests] == ["GET", "GET"]  # the folder, one delta page


def test_poll_files_once_and_answers_through_sendmail_even_after_a_restart(
    service: App, graph: Graph
) -> None:
    graph.mailbox.add(numbered_referral("G", 1).as_bytes())
    report = poll(service)
    assert report.errors == [] and report.ingest.stored == 1 and report.moved == 1
    [ack] = acknowledgements(graph, "ref1@school.example.org")
    assert "MASP-" in str(ack["Subject"])
    with service.store.session() as session:
        [row] = session.scalars(select(MailboxCursor)).all()
        assert row.backend == "graph" and "$deltatoken=" in row.value
    # A restart: a new App on the same database reads on from the stored delta link.
    again = App.open(service.config, Clock.system())
    graph.mailbox.add(numbered_referral("G", 2).as_bytes())
    assert poll(again).ingest.stored == 1
    assert poll(again).ingest.stored == 0
    with again.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 2
    assert len(acknowledgements(graph, "ref1@school.example.org")) == 1
    assert [len(graph.mailbox.in_folder(f)) for f in ("Inbox", "Processed")] == [0, 2]


def test_an_expired_delta_link_files_nothing_twice(
    service: App, graph: Graph, caplog: pytest.LogCaptureFixture
) -> None:
    graph.mailbox.add(numbered_referral("E", 1).as_bytes())
    with GraphSource(service.config) as source:
        assert Ledger(service).ingest(source).stored == 1
    # Not yet moved when the delta link expires: a full resync sees message 1 again.
    graph.expire_delta()
    graph.mailbox.add(numbered_referral("E", 2).as_bytes())
    with GraphSource(service.config) as source:
        report = Ledger(service).ingest(source)
    assert (report.stored, report.duplicates) == (1, 0)
    assert "delta link for the panel folder expired; reading it afresh" in caplog.text
    poll(service)
    with service.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2
        assert session.scalar(select(func.count()).select_from(Case)) == 2
    assert len(acknowledgements(graph, "ref1@school.example.org")) == 1


def test_a_token_that_expires_mid_poll_is_renewed_once(harness: GraphHarness, graph: Graph) -> None:
    for n in (1, 2, 3):
        harness.deliver(message(n))
    with harness.source() as source:
        messages = source.fetch_new(lambda f, v: None, lambda loc: False, MemoryCursor())
        first = next(messages)
        asked = graph.entra.tokens.requests
        graph.entra.tokens.expire_all()
        rest = list(messages)
    assert subjects([first, *rest]) == [f"Contract referral {n}" for n in (1, 2, 3)]
    assert graph.entra.tokens.requests == asked + 1


def test_a_message_a_person_moved_in_outlook_stays_where_they_put_it(
    harness: GraphHarness, graph: Graph
) -> None:
    harness.deliver(message(1))
    harness.deliver(message(2))
    got = fetch(harness, MemoryCursor(), set())
    harness.move_away_by_person("Contract referral 1")
    with harness.source() as source:
        assert source.mark_processed([m.location for m in got]) == [got[1].location]
    [elsewhere] = [f for f in graph.mailbox.folders.values() if f.name == "Elsewhere"]
    assert [m.folder for m in graph.mailbox.messages.values()].count(elsewhere.id) == 1
    assert len(graph.mailbox.in_folder("Processed")) == 1


def test_throttling_is_waited_out_as_retry_after_says(harness: GraphHarness, graph: Graph) -> None:
    harness.deliver(message(1))
    waits: list[float] = []
    graph.throttle(2, retry_after=7)
    with GraphSource(harness.config, sleep=waits.append) as source:
        got = list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert subjects(got) == ["Contract referral 1"] and waits == [7.0, 7.0]


def test_endless_throttling_ends_the_poll_with_a_plain_error(
    harness: GraphHarness, graph: Graph
) -> None:
    harness.deliver(message(1))
    waits: list[float] = []
    graph.throttle(50, retry_after=120)
    source = GraphSource(harness.config, sleep=waits.append)
    with source, pytest.raises(MailboxError) as throttled:
        list(source.fetch_new(lambda f, v: None, lambda loc: False))
    assert "throttling" in str(throttled.value)
    # At most three waits, each capped: one poll never hangs.
    assert waits == [30.0, 30.0, 30.0]


def test_a_5mb_attachment_goes_through_an_upload_session_and_arrives_whole(
    harness: GraphHarness, graph: Graph
) -> None:
    outgoing = message(1, to="someone@school.example.org", attachment=FIVE_MB)
    sender = harness.sender()
    try:
        sender.send(outgoing, ADDRESS, ["someone@school.example.org"])
    finally:
        sender.close()
    [(recipients, raw)] = graph.mailbox.sent
    assert recipients == ["someone@school.example.org"]
    sent = email.message_from_bytes(raw, policy=default)
    original = email.message_from_bytes(outgoing, policy=default)
    assert sent["Message-ID"] == original["Message-ID"]
    [attachment] = list(sent.iter_attachments())
    assert attachment.get_filename() == "file1.bin" and attachment.get_content() == FIVE_MB
    paths = [path for _, path, _ in graph.requests]
    assert any(p.endswith("/attachments/createUploadSession") for p in paths)
    assert sum(p.startswith("/upload/") for p in paths) >= 2
    assert not any(p.endswith("/sendMail") for p in paths)
    assert graph.mailbox.in_folder("Drafts") == []


def test_recipients_the_mime_does_not_show_still_get_it_unseen(
    harness: GraphHarness, graph: Graph
) -> None:
    outgoing = message(1, to="a@school.example.org")
    sender = harness.sender()
    try:
        sender.send(outgoing, ADDRESS, ["a@school.example.org", "copy@health.example.org"])
    finally:
        sender.close()
    [(recipients, raw)] = graph.mailbox.sent
    assert sorted(recipients) == ["a@school.example.org", "copy@health.example.org"]
    assert b"copy@health.example.org" not in raw


def _cli_config(tmp_path: Path, graph: Graph) -> Path:
    tree = config_tree(mailbox__backend="graph")
    tree["mailbox"]["oauth"] = graph.entra.oauth_config()
    tree["mailbox"]["graph"] = graph.config()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_masp_poll_end_to_end_on_graph(tmp_path: Path, graph: Graph) -> None:
    from tests.cli.test_service_process import masp

    config = _cli_config(tmp_path, graph)
    graph.mailbox.add(numbered_referral("P", 1).as_bytes())
    done = masp(config, "poll", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [ack] = acknowledgements(graph, "ref1@school.example.org")
    assert "MASP-" in str(ack["Subject"])
    assert [len(graph.mailbox.in_folder(f)) for f in ("Inbox", "Processed")] == [0, 1]


def test_check_config_names_a_missing_permission(tmp_path: Path, graph: Graph) -> None:
    from tests.cli.test_service_process import masp

    config = _cli_config(tmp_path, graph)
    graph.mailbox.add(message(1))
    grant(graph.entra, ["Mail.ReadWrite", "Mail.Send"])
    good = masp(config, "check-config")
    out = " ".join(good.stdout.split())
    assert good.returncode == 0, out + good.stderr
    assert "Mailbox panel@example.org" in out and "'Inbox' holds 1 message(s)" in out
    assert graph.mailbox.sent == []

    grant(graph.entra, ["Mail.Send"])
    no_read = masp(config, "check-config")
    out = " ".join((no_read.stdout + no_read.stderr).split())
    assert no_read.returncode == 1
    assert "the app has no Mail.ReadWrite permission on panel@example.org" in out

    grant(graph.entra, ["Mail.ReadWrite"])
    no_send = masp(config, "check-config")
    out = " ".join((no_send.stdout + no_send.stderr).split())
    assert no_send.returncode == 1 and "Traceback" not in out
    assert "the app has no Mail.Send permission on panel@example.org" in out


def test_a_refused_app_secret_is_a_login_refusal_for_masp_health(
    tmp_path: Path, graph: Graph
) -> None:
    """Entra ID refusing the app (a secret that expired or was rotated) is what a changed
    password is for IMAP: `masp health` says the login was refused until a poll signs in."""
    from tests.cli.test_service_process import masp

    config = _cli_config(tmp_path, graph)
    graph.mailbox.add(numbered_referral("R", 1).as_bytes())
    graph.entra.secret[:] = ["a rotated secret"]
    assert masp(config, "poll", timeout=120).returncode == 1
    health = masp(config, "health", "--json")
    assert health.returncode == 1, health.stderr
    report = yaml.safe_load(health.stdout)
    assert report["mailbox_error"]["kind"] == "login"
    assert any("refused the service's login when reading" in p for p in report["problems"])

    graph.entra.secret[:] = [graph.entra.oauth_config()["client_secret"]]
    assert masp(config, "poll", timeout=120).returncode == 0
    assert yaml.safe_load(masp(config, "health", "--json").stdout)["mailbox_error"] is None
