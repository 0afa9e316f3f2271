"""Several workers on one store (issue 14, part 2): one polls the mailbox at a time and hands it
over when it dies; a job, an outbox email and a ledgered email are each done by one worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.intake.claims import LEASE
from pipeline.intake.filing import file_pending
from pipeline.intake.ledger import Ledger
from pipeline.intake.poll import mailbox_lock, poll
from pipeline.jobs import Job, run_due
from pipeline.mailbox.maildir import MaildirSender, MaildirSource
from pipeline.outbox.sender import deliver
from pipeline.outputs.health import check, summary_lines
from pipeline.states import MessageState
from pipeline.store import heartbeat
from pipeline.store.locks import FilePollLock, worker_name
from pipeline.store.models import AuditEvent, Case, Message, OutboxItem
from tests.helpers import drop, numbered_referral, open_service, sent_mail

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def two_workers(tmp_path: Path, pg_url: str) -> Iterator[tuple[App, App]]:
    """Two services on one PostgreSQL database, one data_dir and one mailbox: two workers."""
    first = open_service(tmp_path, NOW, database=pg_url)
    second = open_service(tmp_path, NOW, database=pg_url)
    yield first, second
    first.close()
    second.close()


def _backend_pids(app: App) -> list[int]:
    with app.store.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        )
        return [row[0] for row in rows]


def _ledger_all(app: App) -> None:
    folders = app.config.mailbox.maildir
    with MaildirSource(app.config.path(folders.inbox), app.config.path(folders.processed)) as s:
        Ledger(app).ingest(s)


@pytest.mark.pg_native
def test_one_worker_polls_and_another_takes_over_when_its_connection_dies(
    two_workers: tuple[App, App],
) -> None:
    first, second = two_workers
    held, other = mailbox_lock(first), mailbox_lock(second)
    assert held.acquire() is True
    assert other.acquire() is False
    assert held.acquire() is True
    # The worker dies: the database ends its session, and the lock with it.
    second.store.engine.dispose()
    for pid in _backend_pids(second):
        with second.store.engine.connect() as connection:
            # With a timeout it waits for the backend to be gone, and its locks with it (on its
            # own the call only sends the signal, and the lock could still be held a moment).
            connection.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
    assert other.acquire() is True
    # The first worker learns at its next try that it no longer polls.
    assert held.acquire() is False
    other.release()
    assert held.acquire() is True
    held.release()


@pytest.mark.pg_native
def test_a_poll_while_another_worker_polls_only_sends_and_says_who_polls(
    two_workers: tuple[App, App],
) -> None:
    first, second = two_workers
    drop(first, numbered_referral("w", 1), NOW)
    assert poll(first).ingest.stored == 1
    assert heartbeat.read(first.store).poller == worker_name()
    drop(first, numbered_referral("w", 2), NOW)
    held = mailbox_lock(first)
    assert held.acquire()
    report = poll(second)
    held.release()
    assert report.ingest.stored == 0
    assert report.errors == [
        f"the mailbox was not read: {worker_name()} is polling it (one worker at a time does); "
        "the outbox was still sent"
    ]
    assert poll(second).ingest.stored == 1


LOCKER = """
import sys, time
from pathlib import Path
from pipeline.store.locks import FilePollLock
lock = FilePollLock(Path(sys.argv[1]))
assert lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_on_sqlite_the_kernel_frees_the_poll_lock_of_a_killed_worker(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "poll.lock"
    process = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        lock = FilePollLock(path)
        assert lock.acquire() is False
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        assert lock.acquire() is True
        lock.release()
    finally:
        process.kill()
        process.wait()


@pytest.mark.pg_native
def test_a_job_another_worker_is_doing_is_left_to_it_and_done_once(
    two_workers: tuple[App, App],
) -> None:
    first, second = two_workers
    inside, finish = threading.Event(), threading.Event()

    def slow(app: App, session: Session) -> None:
        session.add(AuditEvent(at=app.clock.now(), action="job-done", detail={}))
        session.flush()
        inside.set()
        assert finish.wait(30)

    def source(app: App, session: Session, now: datetime) -> list[Job]:
        return [Job("slow:1", NOW - timedelta(minutes=1), slow)]

    reports = []
    worker = threading.Thread(target=lambda: reports.append(run_due(first, [source])))
    worker.start()
    assert inside.wait(30)
    busy = run_due(second, [source])
    finish.set()
    worker.join(30)
    assert busy.busy == ["slow:1"] and busy.done == []
    assert reports[0].done == ["slow:1"]
    # Afterwards the job is done: nobody does it again.
    assert run_due(second, [source]).done == []
    with second.store.session() as session:
        done = session.scalars(select(AuditEvent).where(AuditEvent.action == "job-done")).all()
        assert len(done) == 1


@pytest.mark.pg_native
def test_two_workers_sending_one_outbox_send_each_email_once(
    two_workers: tuple[App, App], tmp_path: Path
) -> None:
    first, second = two_workers
    for n in range(1, 41):
        drop(first, numbered_referral("o", n), NOW)
    _ledger_all(first)
    assert file_pending(first).filed == 40
    outbox = tmp_path / "mail" / "sent"
    results = []
    workers = [
        threading.Thread(
            target=lambda app=app: results.append(deliver(app, MaildirSender(outbox)).sent)
        )
        for app in (first, second)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(120)
    assert sum(results) == 40
    ids = [mail.message_id for mail in sent_mail(first)]
    assert len(ids) == 40 and len(set(ids)) == 40
    with first.store.session() as session:
        claimed = session.scalars(select(OutboxItem.claimed_until)).all()
        assert claimed == [None] * 40


@pytest.mark.pg_native
def test_an_email_held_by_a_dead_worker_is_sent_once_its_lease_runs_out(
    two_workers: tuple[App, App], tmp_path: Path
) -> None:
    first, second = two_workers
    drop(first, numbered_referral("l", 1), NOW)
    _ledger_all(first)
    file_pending(first)
    with first.store.session() as session:
        # A worker claimed it and died before sending.
        for item in session.scalars(select(OutboxItem)):
            item.claimed_until = NOW + timedelta(minutes=2)
    sender = MaildirSender(tmp_path / "mail" / "sent")
    assert deliver(second, sender).sent == 0
    later = replace(second, clock=Clock.frozen_at(NOW + timedelta(minutes=3)))
    assert deliver(later, sender).sent == 1


@pytest.mark.pg_native
def test_an_email_another_worker_is_filing_is_left_to_it(two_workers: tuple[App, App]) -> None:
    first, second = two_workers
    drop(first, numbered_referral("f", 1), NOW)
    _ledger_all(first)
    with first.store.session() as session:
        row = session.scalars(select(Message).with_for_update()).one()
        assert row.status == MessageState.NEW
        # While this worker has the email in hand, the other passes it by.
        assert file_pending(second).filed == 0
    assert file_pending(second).filed == 1
    with second.store.session() as session:
        assert len(session.scalars(select(Case)).all()) == 1


@pytest.mark.pg_native
def test_a_senders_next_email_waits_while_another_worker_files_their_first(
    two_workers: tuple[App, App],
) -> None:
    first, second = two_workers
    drop(first, numbered_referral("s", 1, "Pat <pat@school.example.org>"), NOW)
    drop(
        first, numbered_referral("s", 2, "Pat <pat@school.example.org>"), NOW + timedelta(minutes=1)
    )
    drop(first, numbered_referral("s", 3), NOW + timedelta(minutes=2))
    _ledger_all(first)
    with first.store.session() as session:
        rows = session.scalars(select(Message).order_by(Message.received_at)).all()
        assert [row.sender for row in rows] == [
            "pat@school.example.org",
            "pat@school.example.org",
            "ref3@school.example.org",
        ]
        ids = [row.id for row in rows]
        # One worker has Pat's first email in hand (it is filing it).
        session.scalars(select(Message).where(Message.id == ids[0]).with_for_update()).one()
        # The other files the other sender's email, but not Pat's second before Pat's first.
        assert file_pending(second).filed == 1
        with second.store.session() as look:
            statuses = {i: st for i, st in look.execute(select(Message.id, Message.status))}
        assert statuses == {
            ids[0]: MessageState.NEW,
            ids[1]: MessageState.NEW,
            ids[2]: MessageState.FILED,
        }
    # Once the first email is let go, both of Pat's are filed, in the order they arrived.
    assert file_pending(second).filed == 2
    with second.store.session() as session:
        query = select(Message.id, Case.reference).join(Case, Case.id == Message.case_id)
        by_id = {row_id: reference for row_id, reference in session.execute(query)}
    assert by_id[ids[0]] < by_id[ids[1]]


@pytest.mark.pg_native
def test_emails_claimed_by_a_worker_that_died_are_filed_once_the_claim_runs_out(
    two_workers: tuple[App, App],
) -> None:
    first, second = two_workers
    drop(first, numbered_referral("c", 1), NOW)
    _ledger_all(first)
    with first.store.session() as session:
        row = session.scalars(select(Message)).one()
        # A worker on another machine claimed it and died before filing it.
        row.claimed_by, row.claimed_until = "elsewhere:1", NOW + LEASE
    assert file_pending(second).filed == 0
    later = replace(second, clock=Clock.frozen_at(NOW + LEASE + timedelta(seconds=1)))
    assert file_pending(later).filed == 1
    with second.store.session() as session:
        assert session.scalars(select(Message.claimed_by)).one() == worker_name()


def test_emails_claimed_by_a_worker_gone_from_this_machine_are_filed_at_once(
    tmp_path: Path,
) -> None:
    app = open_service(tmp_path, NOW)
    try:
        drop(app, numbered_referral("g", 1), NOW)
        _ledger_all(app)
        dead = subprocess.Popen(["true"])
        dead.wait()
        with app.store.session() as session:
            row = session.scalars(select(Message)).one()
            # A worker on this machine (a `masp poll` killed, a restarted service) claimed it.
            row.claimed_by = f"{socket.gethostname()}:{dead.pid}"
            row.claimed_until = NOW + LEASE
        assert file_pending(app).filed == 1
    finally:
        app.close()


RUN_WORKERS = 60


@pytest.mark.pg_native
@pytest.mark.timeout(600)
def test_two_masp_run_workers_both_file_the_mail_one_of_them_polls(
    tmp_path: Path, pg_url: str
) -> None:
    service = open_service(tmp_path, NOW, database=pg_url, mailbox__poll_interval_seconds=5)
    for n in range(1, RUN_WORKERS + 1):
        drop(service, numbered_referral("r", n), NOW)
    # Ledgered before the workers start (as a poll before a restart leaves it), so that both
    # find mail to file at once: a worker that is not polling looks for some at every poll
    # interval, and mail a poll ledgers now is filed within a few seconds.
    _ledger_all(service)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--config", str(tmp_path / "config.yaml"), "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"worker{n}.log").open("wb"),
        )
        for n in range(2)
    ]
    try:
        deadline = time.monotonic() + 480
        while time.monotonic() < deadline:
            with service.store.session() as session:
                left = session.scalar(
                    select(func.count()).where(Message.status == MessageState.NEW)
                )
                total = session.scalar(select(func.count()).select_from(Message))
            if total == RUN_WORKERS and left == 0:
                break
            assert all(w.poll() is None for w in workers), "a worker stopped early"
            time.sleep(0.5)
        else:
            pytest.fail("the two workers did not file the mail within 8 minutes")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(90) for worker in workers]
    assert codes == [0, 0]
    with service.store.session() as session:
        filers = [
            row.claimed_by for row in session.scalars(select(Message)) if row.case_id is not None
        ]
        references = session.scalars(select(Case.reference)).all()
        acks = session.scalars(
            select(OutboxItem.purpose).where(OutboxItem.template == "acknowledgement")
        ).all()
    poller = heartbeat.read(service.store).poller
    service.close()
    # Each email became one case with one acknowledgement, whichever worker filed it ...
    assert len(filers) == RUN_WORKERS and len(set(references)) == RUN_WORKERS
    assert len(acks) == RUN_WORKERS and len(set(acks)) == RUN_WORKERS
    # ... and both workers filed: the one polling, and the other.
    assert poller in filers
    assert len(set(filers)) == 2, f"filed by {set(filers)}"


def test_status_and_health_name_the_worker_that_polls(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    try:
        poll(app)
        with app.store.session() as session:
            vitals = check(app.config, session, NOW)
        assert vitals.as_json()["poller"] == worker_name()
        assert summary_lines(app.config, vitals)[0].endswith(
            f"; the mailbox is polled by worker {worker_name()}"
        )
    finally:
        app.close()
