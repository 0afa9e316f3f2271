"""A poll's stages overlap: the answers of the emails filed first are sent while the rest are
still being filed, and a mail server that is away is not knocked on for every email filed."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.app import App
from pipeline.intake import filing
from pipeline.intake.filing import FilingReport
from pipeline.intake.poll import Background, deliver_configured, poll
from pipeline.mime.message import ParsedEmail
from pipeline.states import OutboxState
from pipeline.store.models import OutboxItem
from tests.helpers import drop, imap_service, numbered_referral, open_service, sent_mail
from tests.servers import ImapAccount

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
COUNT = 4


def acknowledged(app: App) -> list[str]:
    return sorted(s.to for s in sent_mail(app) if "MASP-" in s.subject)


def test_the_first_answers_leave_while_the_last_email_is_still_being_filed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_service(tmp_path, NOW)
    for n in range(1, COUNT + 1):
        drop(app, numbered_referral("Stage", n), NOW + timedelta(minutes=n))
    seen_before_last: list[str] = []
    calls: list[int] = []
    file_one = filing.file_one

    def watching(
        service: App, row_id: int, report: FilingReport, parsed: ParsedEmail | None = None
    ) -> None:
        calls.append(row_id)
        if len(calls) == COUNT:
            # The last email is not filed until an answer has left, or ten seconds have gone.
            deadline = time.monotonic() + 10
            while not acknowledged(service) and time.monotonic() < deadline:
                time.sleep(0.02)
            seen_before_last.extend(acknowledged(service))
        file_one(service, row_id, report, parsed)

    monkeypatch.setattr(filing, "file_one", watching)
    report = poll(app)

    assert report.errors == [] and report.filing.filed == COUNT
    assert seen_before_last, "no answer was sent until every email was filed"
    # Every referrer answered once, in this same poll.
    expected = sorted(f"ref{n}@school.example.org" for n in range(1, COUNT + 1))
    assert acknowledged(app) == expected
    assert report.delivery.sent == COUNT and report.delivery.waiting == 0


class Busy:
    """A real mail server in maintenance on loopback: it answers every connection with
    "421 Service not available" (RFC 5321 §3.8) and counts the connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"421 4.3.2 Service not available, closing channel\r\n")

    def close(self) -> None:
        self.listener.close()


def poll_against_busy(tmp_path: Path, imap_account: ImapAccount, count: int) -> tuple[int, int]:
    """Poll `count` referrals with the mail server in maintenance; the connections the poll
    made, and those one round of sending makes."""
    busy = Busy()
    app = imap_service(tmp_path, imap_account, busy)
    try:
        for n in range(1, count + 1):
            imap_account.deliver(numbered_referral("Busy", n).as_bytes())
        report = poll(app)
        assert report.filing.filed == count
        assert report.delivery.sent == 0 and report.delivery.waiting == 1
        by_poll = busy.connections
        assert deliver_configured(app).waiting == 1
        with app.store.session() as session:
            pending = session.scalar(
                select(func.count(OutboxItem.id)).where(
                    OutboxItem.status == OutboxState.PENDING, OutboxItem.attempts == 0
                )
            )
        assert pending == count
        return by_poll, busy.connections - by_poll
    finally:
        app.close()
        busy.close()


@pytest.mark.servers
def test_a_server_that_is_away_is_asked_once_while_filing_and_once_after(
    tmp_path: Path, imap_account: ImapAccount
) -> None:
    by_poll, one_round = poll_against_busy(tmp_path, imap_account, 8)
    assert one_round >= 1
    # A round while the filing went on found it away (or the filing was over first), and one
    # round after: never a round for every email filed, nor a knock every 50 ms.
    assert one_round <= by_poll <= 2 * one_round


def test_the_filing_wakes_as_soon_as_a_batch_is_ledgered_not_at_its_next_look() -> None:
    ledgered, go_on = threading.Event(), threading.Event()

    def ingest() -> int:
        ledgered.set()  # a first batch is committed; the rest is still being fetched
        go_on.wait(30)
        return 7

    stage = Background("masp-test-ingest", ingest, ledgered)
    started = time.monotonic()
    stage.wait(30)
    assert time.monotonic() - started < 10, "the filing slept through the batch ledgered"
    assert not stage.ended()
    # Once it has ended, a wait returns at once, and its report is there.
    go_on.set()
    stage.wait(30)
    assert stage.outcome() == 7 and stage.ended()
