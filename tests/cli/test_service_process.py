"""The real `masp` command in a subprocess against a real Dovecot and a real SMTP server:
SIGKILL mid-poll, IDLE wake-up and clean stop, check-config, and an SMTP outage."""

from __future__ import annotations

import email
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from imap_tools import MailBoxUnencrypted

from pipeline import samples
from pipeline.outbox.sender import LEASE
from tests.helpers import ROOT, config_tree, database_of
from tests.servers import Dovecot, ImapAccount, SmtpCapture, free_port

pytestmark = pytest.mark.servers

REFERRALS = 40
# Filled in once, then copied with these two strings replaced: building a Word form takes
# ~0.2 s, and forty of them would dominate the run.
NAME_SLOT, EMAIL_SLOT = "Kid Placeholder", "placeholder.referrer@example.org"


# -- synthetic referrals ---------------------------------------------------------------------


def referrer(i: int) -> str:
    return f"referrer{i:03d}@agency.example.org"


@cache
def _static_files() -> tuple[bytes, bytes, bytes, bytes]:
    child = samples.Child(name=NAME_SLOT, referrer_email=EMAIL_SLOT)
    return (
        samples.referral_form(child),
        samples.chronology(),
        samples.genogram_png(),
        samples.assessment(),
    )


def _form_for(i: int) -> bytes:
    """The cached form with this referral's child name and referrer address in it."""
    template = _static_files()[0]
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(template)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                assert NAME_SLOT.encode() in data and EMAIL_SLOT.encode() in data
                data = data.replace(NAME_SLOT.encode(), f"Kid Process{i:03d}".encode())
                data = data.replace(EMAIL_SLOT.encode(), referrer(i).encode())
            dst.writestr(info, data)
    return out.getvalue()


@cache
def referral(i: int) -> bytes:
    """A complete referral (form, chronology, genogram, assessment) from referrer `i`."""
    _, chronology, genogram, assessment = _static_files()
    files = [
        samples.File("Referral form.docx", samples.DOCX, _form_for(i)),
        samples.File("Chronology.docx", samples.DOCX, chronology),
        samples.File("genogram.png", samples.PNG, genogram),
        samples.File("EHA.docx", samples.DOCX, assessment),
    ]
    sender = f"Referrer {i:03d} <{referrer(i)}>"
    return samples.Mail(sender, f"Referral {i:03d} for panel", files=files).as_bytes()


# -- running masp ----------------------------------------------------------------------------


def write_config(
    tmp_path: Path, account: ImapAccount, smtp: SmtpCapture, imap_port: int | None = None
) -> Path:
    tree = config_tree(tmp_path, mailbox__backend="imap")
    tree["mailbox"]["imap"] = account.config.model_dump()
    if imap_port is not None:
        tree["mailbox"]["imap"]["port"] = imap_port
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    tree["mailbox"]["poll_interval_seconds"] = 300
    tree["limits"]["max_sends_per_recipient_per_hour"] = 1000
    path = tmp_path / ("config.yaml" if imap_port is None else f"config-{imap_port}.yaml")
    path.write_text(yaml.safe_dump(tree))
    return path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Rich wraps at 80 columns when it has no terminal; keep each message on one line.
    env["COLUMNS"] = "400"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def masp_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "--config", str(config), *args]


def masp(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        masp_command(config, *args),
        capture_output=True,
        text=True,
        env=_env(),
        cwd=config.parent,
        timeout=timeout,
    )


@dataclass
class Background:
    """`masp` started in its own process group, its output going to files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.log()

    def kill(self) -> None:
        if self.process.poll() is None:
            # The group is ours (start_new_session): nothing it started may outlive it.
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


Start = Callable[..., Background]


def starter(folder: Path, started: list[Background]) -> Start:
    """A `start` that runs a `masp` command in the background, in a session of its own, with
    its output in `folder`; each process it starts is added to `started`."""

    def start(config: Path, *args: str, name: str = "masp") -> Background:
        stdout, stderr = folder / f"{name}.out", folder / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                masp_command(config, *args),
                stdout=out,
                stderr=err,
                env=_env(),
                cwd=config.parent,
                start_new_session=True,
            )
        item = Background(process, stdout, stderr)
        started.append(item)
        return item

    return start


@pytest.fixture
def background(tmp_path: Path) -> Iterator[Start]:
    started: list[Background] = []
    yield starter(tmp_path, started)
    for item in started:
        item.kill()


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def answers(smtp: SmtpCapture, count: int, service: Background, timeout: float) -> None:
    """Wait until `count` emails reached the SMTP server, failing early if the service died."""

    def arrived() -> bool:
        assert service.process.poll() is None, f"masp exited early:\n{service.output()}"
        return len(smtp.messages) >= count

    wait_until(arrived, timeout, f"{count} email(s) at the SMTP server", interval=0.02)


# -- looking at the results ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What another process sees in the database at one moment."""

    total: int  # ledgered emails
    new: int  # ledgered, not yet filed
    filed: int
    unmoved: int  # not yet moved to the processed folder
    pending: int  # answers queued, not yet sent
    sent: int


SNAPSHOT = (
    "SELECT count(*), "
    "coalesce(sum(CASE WHEN status = 'new' THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN status = 'filed' THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN moved THEN 0 ELSE 1 END), 0), "
    "(SELECT count(*) FROM outbox WHERE status = 'pending'), "
    "(SELECT count(*) FROM outbox WHERE status = 'sent') FROM messages"
)


def _connect(db: str, timeout: float) -> Any:
    """A connection that reads without ever taking a writer's lock (SQLite read-only)."""
    if db.startswith("postgresql:"):
        return psycopg.connect(db, connect_timeout=max(1, round(timeout)), autocommit=True)
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=timeout)


def snapshot(db: str) -> Snapshot | None:
    """The ledger and outbox as another process sees them now; None while unreadable."""
    try:
        conn = _connect(db, 0.05)
    except (sqlite3.Error, psycopg.Error):
        return None
    try:
        row = conn.execute(SNAPSHOT).fetchone()
    except (sqlite3.Error, psycopg.Error):  # no such table yet, or "database is locked"
        return None
    finally:
        conn.close()
    return Snapshot(*map(int, row))


def query(db: str, sql: str) -> list[tuple[Any, ...]]:
    conn = _connect(db, 10)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def folder_counts(account: ImapAccount, port: int) -> dict[str, int]:
    with MailBoxUnencrypted("127.0.0.1", port).login(account.user, account.password) as box:
        return {f.name: box.folder.status(f.name)["MESSAGES"] for f in box.folder.list()}


def received(smtp: SmtpCapture) -> dict[str, list[str]]:
    """Message-IDs each recipient received, one entry per SMTP transaction."""
    with smtp.lock:
        captured = list(smtp.messages)
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for _, rcpt_tos, raw in captured:
        message_id = "".join(str(email.message_from_bytes(raw)["Message-ID"]).split())
        for rcpt in rcpt_tos:
            by_recipient[rcpt.lower()].append(message_id)
    return by_recipient


# -- 1. SIGKILL in the middle of a poll ------------------------------------------------------

# When to pull the plug, judged against `b`, the database before this poll started (a retry
# runs on top of an earlier, completed poll). All are before the poll completes; the first two
# are before any move (rows still 'new' mean filing is unfinished, and moves come after it).
KILL_POINTS: dict[str, Callable[[Snapshot, Snapshot], bool]] = {
    # New rows are ledgered (their bytes fsynced), none of them filed yet, so none answered.
    "ledgering": lambda s, b: s.total > b.total and s.new >= 1 and s.filed == b.filed,
    # Some new cases committed and their answers queued (the first may be sent already: the
    # outbox is sent while the filing goes on), nothing moved.
    "filing": lambda s, b: s.filed > b.filed and s.new >= 1,
    # Some answers handed to SMTP, others still queued.
    "sending": lambda s, b: s.sent > b.sent and s.pending >= 1,
}
EMPTY = Snapshot(0, 0, 0, 0, 0, 0)
FIELDS = "SELECT fields FROM cases"


def poll_and_kill(
    background: Start, config: Path, db: str, point: str, name: str
) -> tuple[Snapshot, Snapshot] | None:
    """Start `masp poll`; SIGKILL it (and its process group) as soon as the database shows
    `point`. Return the database before the poll and just before the kill, or None if the
    poll finished first."""
    before = snapshot(db) or EMPTY
    reached = KILL_POINTS[point]
    run = background(config, "poll", name=name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            assert run.process.returncode == 0, run.output()
            return None
        seen = snapshot(db)
        if seen is not None and reached(seen, before):
            run.kill()
            if run.process.returncode == -signal.SIGKILL:
                return before, seen
            # It exited on its own just before the signal.
            assert run.process.returncode == 0, run.output()
            return None
        time.sleep(0.005)
    raise AssertionError(f"masp poll neither reached {point!r} nor finished:\n{run.output()}")


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_between_storing_and_moving_loses_and_duplicates_nothing(
    tmp_path: Path,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    dovecot: Dovecot,
    background: Start,
    point: str,
) -> None:
    config = write_config(tmp_path, imap_account, smtp_server)
    db = database_of(tmp_path)
    delivered = 0
    batch = REFERRALS
    killed: tuple[Snapshot, Snapshot] | None = None
    for attempt in range(3):
        for i in range(delivered, delivered + batch):
            imap_account.deliver(referral(i))
        delivered += batch
        killed = poll_and_kill(background, config, db, point, name=f"poll-killed-{attempt}")
        if killed is not None:
            break
        print(f"[{point}] attempt {attempt}: the poll finished before it could be killed")
        batch *= 2  # give it more to do
    assert killed is not None, f"masp poll always finished before reaching {point!r}"
    before, seen = killed

    # The kill came before the poll completed.
    after_kill = wait_until(lambda: snapshot(db), 10, "the database to be readable")
    inbox_after_kill = folder_counts(imap_account, dovecot.imap_port)["INBOX"]
    if point == "sending":
        assert after_kill.pending >= 1
    else:
        assert after_kill.new >= 1 and after_kill.unmoved >= 1
        assert inbox_after_kill >= 1
    if point == "ledgering":
        assert after_kill.sent == before.sent

    print(f"[{point}] {delivered} delivered; killed at {seen}; inbox then held {inbox_after_kill}")
    # The emails the killed poll had claimed to send are leased to it for LEASE (another worker
    # might still be sending them): the poll that picks up runs once that lease has run out.
    after_lease = datetime.now(UTC) + LEASE + timedelta(seconds=5)
    finished = masp(config, "--now", after_lease.isoformat(), "poll", timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    cases = query(db, "SELECT reference FROM cases")
    assert len(cases) == delivered == len({r for (r,) in cases})
    messages = query(db, "SELECT status, moved, count(*) FROM messages GROUP BY status, moved")
    assert messages == [("filed", 1, delivered)]
    outbox = query(db, "SELECT template, status, count(*) FROM outbox GROUP BY template, status")
    assert outbox == [("acknowledgement", "sent", delivered)]
    assert len(list((tmp_path / "data" / "raw").rglob("*.eml"))) == delivered
    # SQLite gives the JSON column back as text, PostgreSQL (psycopg) as a dict.
    fields = [json.loads(f) if isinstance(f, str) else f for (f,) in query(db, FIELDS)]
    assert sorted(f["child_name"] for f in fields) == [
        f"Kid Process{i:03d}" for i in range(delivered)
    ]

    by_recipient = received(smtp_server)
    resent = {a: len(ids) - 1 for a, ids in by_recipient.items() if len(ids) > 1}
    print(
        f"[{point}] {sum(map(len, by_recipient.values()))} emails for {delivered} referrals, "
        f"identical resends: {resent or 'none'}"
    )
    assert set(by_recipient) == {referrer(i) for i in range(delivered)}
    # At most an identical resend (same Message-ID) after a kill between SMTP and the commit.
    assert {a: len(set(ids)) for a, ids in by_recipient.items()} == dict.fromkeys(by_recipient, 1)
    assert folder_counts(imap_account, dovecot.imap_port) == {"INBOX": 0, "Processed": delivered}


# -- 2. `masp run`: IDLE wake-up and a clean stop --------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_wakes_on_idle_and_stops_cleanly(
    tmp_path: Path,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    background: Start,
    stop_signal: signal.Signals,
) -> None:
    config = write_config(tmp_path, imap_account, smtp_server)
    # One referral before the start: its answer shows the first poll is over.
    imap_account.deliver(referral(0))
    service = background(config, "run", name="run")
    answers(smtp_server, 1, service, timeout=30)
    assert "service started" in service.log()
    # The service is now waiting for mail: with a 300 s poll interval, only IDLE (or the
    # UIDNEXT check just before it) can explain an answer within seconds.
    time.sleep(0.5)
    delivered_at = time.monotonic()
    imap_account.deliver(referral(1))
    answers(smtp_server, 2, service, timeout=15)
    answered_in = time.monotonic() - delivered_at
    assert service.process.poll() is None, service.output()
    assert len(received(smtp_server)[referrer(1)]) == 1

    signalled_at = time.monotonic()
    service.process.send_signal(stop_signal)
    try:
        code = service.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"masp run did not stop within 15 s of {stop_signal.name}:\n{service.log()}")
    log = service.log()
    stopped_in = time.monotonic() - signalled_at
    print(
        f"answered {answered_in:.2f} s after delivery; exit {code} {stopped_in:.2f} s after signal"
    )
    assert code == 0, service.output()
    assert f"received {stop_signal.name}" in log
    assert "stopped cleanly" in log
    assert "Traceback" not in log


# -- 3. check-config -------------------------------------------------------------------------


def test_check_config_reports_server_facts(
    tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    config = write_config(tmp_path, imap_account, smtp_server)
    good = masp(config, "check-config")
    out = " ".join(good.stdout.split())
    assert good.returncode == 0, good.stdout + good.stderr
    assert "MOVE: yes" in out and "IDLE: yes" in out
    assert f"SMTP server 127.0.0.1:{smtp_server.port}" in out

    wrong = write_config(tmp_path, imap_account, smtp_server, imap_port=free_port())
    bad = masp(wrong, "check-config")
    out = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode == 1, out
    assert "check mailbox.imap.host, mailbox.imap.port and mailbox.imap.security" in out
    assert "Traceback" not in out
    # The sending side still works and says so.
    assert f"SMTP server 127.0.0.1:{smtp_server.port}" in out


# -- 4. the SMTP server is away for one poll -------------------------------------------------


def test_poll_survives_smtp_outage(
    tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture, dovecot: Dovecot
) -> None:
    config = write_config(tmp_path, imap_account, smtp_server)
    db = database_of(tmp_path)
    smtp_server.stop()
    imap_account.deliver(referral(7))
    first = masp(config, "poll")
    # Mail was filed but not sent: exit 1 so a scheduler notices the mail server is away.
    assert first.returncode == 1, first.stdout + first.stderr
    assert "waiting 1" in " ".join(first.stdout.split())
    assert "mail server" in first.stdout + first.stderr
    assert len(query(db, "SELECT reference FROM cases")) == 1
    assert query(db, "SELECT template, status FROM outbox") == [("acknowledgement", "pending")]
    assert smtp_server.messages == []
    # The email is filed, so it leaves the inbox even though the answer has not gone yet.
    assert folder_counts(imap_account, dovecot.imap_port) == {"INBOX": 0, "Processed": 1}

    smtp_server.start()
    second = masp(config, "poll")
    assert second.returncode == 0, second.stdout + second.stderr
    smtp_server.wait_for(1, timeout=5)
    [(message_id,)] = query(db, "SELECT message_id FROM outbox")
    assert dict(received(smtp_server)) == {referrer(7): [f"<{message_id.strip('<>')}>"]}
    assert query(db, "SELECT status FROM outbox") == [("sent",)]
    assert Counter(s for (s,) in query(db, "SELECT status FROM messages")) == {"filed": 1}
