"""A service asked to stop (`app.stop`, set by SIGTERM in `masp run`): the readers are killed
rather than waited for, filing stops between emails, and the outbox lets go of what it has not
begun; the next pass does all of it, once."""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline.documents.pool import ReaderPool
from pipeline.documents.results import Preview, ReadLimits
from pipeline.intake.filing import file_pending
from pipeline.intake.poll import deliver_configured, poll
from pipeline.store.models import Case, Message, OutboxItem
from tests.helpers import drop, numbered_referral, open_service, sent_mail
from tests.hostile import many_paths_pdf

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
COUNT = 3


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_closing_the_readers_kills_a_busy_one_and_cancels_what_is_queued() -> None:
    pool = ReaderPool(ReadLimits(seconds=120), 2)
    drawing = many_paths_pdf()
    # Seconds of work each, far more than two readers get through before the close.
    futures: list[Future[Preview | str]] = [
        pool.submit(lambda reader: reader.preview("pdf", drawing, 1)) for _ in range(8)
    ]
    deadline = time.monotonic() + 30
    while sum(f.running() for f in futures) < 2:
        assert time.monotonic() < deadline, "the readers did not start"
        time.sleep(0.01)
    pids = [reader.pid for reader in pool.readers]
    began = time.monotonic()
    pool.close()
    took = time.monotonic() - began
    assert took < 3, f"closing the readers took {took:.1f} s"
    assert sum(f.cancelled() for f in futures) >= 6
    assert all(f.done() for f in futures)
    assert [pid for pid in pids if pid is not None and alive(pid)] == []
    # A reader killed while stopping is not replaced.
    assert [reader.pid for reader in pool.readers] == [None, None]


def test_filing_and_sending_stop_between_emails_and_the_next_pass_does_the_rest(
    tmp_path: Path,
) -> None:
    # Two readers: the read-ahead, which queues the next emails' reads, is stopped too.
    app = open_service(tmp_path, NOW, limits__readers=2)
    for n in range(1, COUNT + 1):
        drop(app, numbered_referral("Stop", n), NOW + timedelta(minutes=n))
    app.stop.set()
    report = poll(app)
    # Ledgered (the raw mail kept), but no email was begun: none half-filed, none answered.
    assert report.filing.filed == 0 and report.filing.quarantined == 0
    with app.store.session() as session:
        assert set(session.scalars(select(Message.status))) == {"new"}
        assert list(session.scalars(select(Case))) == []

    app.stop.clear()
    assert file_pending(app).filed == COUNT
    app.stop.set()
    assert deliver_configured(app).sent == 0
    with app.store.session() as session:
        outbox = list(session.scalars(select(OutboxItem)))
        # Not sent and not left leased to this worker: any other may send them at once.
        assert len(outbox) == COUNT
        assert {(item.status, item.claimed_until) for item in outbox} == {("pending", None)}
    assert sent_mail(app) == []

    app.stop.clear()
    assert deliver_configured(app).sent == COUNT
    acknowledged = sorted(mail.to for mail in sent_mail(app))
    assert acknowledged == [f"ref{n}@school.example.org" for n in range(1, COUNT + 1)]
    app.close()
