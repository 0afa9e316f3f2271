"""Chaos (issue 14, part 4): two `masp run` workers on one PostgreSQL and one mailbox, 300
referrals delivered while a worker is SIGKILLed at random moments (seeded) and restarted, the
database restarted once and the SMTP server away for a minute. Afterwards every email is one
case, every referrer has one acknowledgement (one Message-ID: a resend after a kill between
the server's acceptance and our record is the same queued email, byte for byte), nothing is
quarantined and the outbox is empty.

The mailbox is the loopback Dovecot over IMAP, not a Maildir: the Maildir back-end sends into
a folder, and the chaos needs a real SMTP server to stop; IMAP also brings IDLE, moves on the
server and a connection that a killed worker drops half-way, as in production.
"""

from __future__ import annotations

import email
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, func, select

from pipeline.states import MessageState, OutboxState
from pipeline.store.models import Case, Message, OutboxItem, Pack
from tests.cli.test_service_process import referral, referrer
from tests.helpers import ROOT, config_tree
from tests.postgres import Postgres
from tests.servers import ImapAccount, SmtpCapture

# About five minutes: 90 s of deliveries, then the backlog the outage and the kills left
# (LibreOffice converting 300 forms, leases of killed workers running out).
pytestmark = [pytest.mark.servers, pytest.mark.pg_native, pytest.mark.timeout(900)]

REFERRALS = 300
# Delivered over this long; the chaos happens meanwhile.
DELIVERY_SECONDS = 90.0
SEED = 14
SMTP_AWAY_SECONDS = 60.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    """One `masp run`, in a process group of its own (its readers die with it)."""

    def __init__(self, config: Path, name: str) -> None:
        self.config, self.name = config, name
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.config.parent / f"{self.name}-{self.starts}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "--config", str(self.config), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=self.config.parent,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.config.parent.glob(f"{self.name}-*.log"))
        )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[Path], list[Worker]]]:
    made: list[Worker] = []

    def make(config: Path) -> list[Worker]:
        made.extend(Worker(config, f"worker{n}") for n in (1, 2))
        return made

    yield make
    for worker in made:
        worker.kill()


def write_config(folder: Path, account: ImapAccount, smtp: SmtpCapture, database: str) -> Path:
    tree = config_tree(mailbox__backend="imap")
    tree["database"] = database
    tree["mailbox"]["imap"] = account.config.model_dump()
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    tree["mailbox"]["poll_interval_seconds"] = 5
    tree["limits"]["max_sends_per_recipient_per_hour"] = 1000
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def captured(smtp: SmtpCapture) -> dict[str, list[tuple[str, bytes]]]:
    """(Message-ID, bytes) of each SMTP transaction, by recipient."""
    with smtp.lock:
        messages = list(smtp.messages)
    found: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for _sender, recipients, raw in messages:
        message_id = "".join(str(email.message_from_bytes(raw)["Message-ID"]).split())
        for recipient in recipients:
            found[recipient.lower()].append((message_id, raw))
    return found


class Chaos(threading.Thread):
    """Delivers the referrals and, meanwhile, kills and restarts workers at seeded random
    moments, restarts the database once and takes the SMTP server away for a minute."""

    def __init__(
        self, account: ImapAccount, workers: list[Worker], postgres: Postgres, smtp: SmtpCapture
    ) -> None:
        super().__init__(daemon=True)
        self.account, self.workers, self.postgres, self.smtp = account, workers, postgres, smtp
        self.random = random.Random(SEED)
        self.events: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        start = time.monotonic()
        gap = DELIVERY_SECONDS / REFERRALS
        next_kill = start + self.random.uniform(5, 15)
        database_at = start + self.random.uniform(20, 40)
        smtp_at = start + self.random.uniform(15, 25)
        smtp_back: float | None = None
        for i in range(REFERRALS):
            self.account.deliver(referral(i))
            now = time.monotonic()
            if now >= next_kill:
                victim = self.random.choice(self.workers)
                victim.kill()
                self.events.append(f"{now - start:5.1f} s: killed {victim.name}")
                time.sleep(self.random.uniform(0.2, 3.0))
                victim.start()
                next_kill = time.monotonic() + self.random.uniform(6, 15)
            if database_at and now >= database_at:
                self.postgres.restart()
                self.events.append(f"{now - start:5.1f} s: restarted the database")
                database_at = 0.0
            if smtp_at and now >= smtp_at:
                self.smtp.stop()
                self.events.append(f"{now - start:5.1f} s: stopped the SMTP server")
                smtp_back, smtp_at = now + SMTP_AWAY_SECONDS, 0.0
            if smtp_back is not None and now >= smtp_back:
                self.smtp.start()
                self.events.append(f"{now - start:5.1f} s: started the SMTP server")
                smtp_back = None
            time.sleep(max(0.0, start + (i + 1) * gap - time.monotonic()))
        if smtp_back is not None:
            time.sleep(max(0.0, smtp_back - time.monotonic()))
            self.smtp.start()
            self.events.append(f"{time.monotonic() - start:5.1f} s: started the SMTP server")


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(1)


def test_two_workers_survive_kills_a_database_restart_and_an_smtp_outage(
    tmp_path: Path,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    postgres: Postgres,
    pg_url: str,
    workers: Callable[[Path], list[Worker]],
) -> None:
    config = write_config(tmp_path, imap_account, smtp_server, pg_url)
    pair = workers(config)
    for worker in pair:
        worker.start()
    chaos = Chaos(imap_account, pair, postgres, smtp_server)
    began = time.monotonic()
    chaos.start()
    chaos.join(DELIVERY_SECONDS + SMTP_AWAY_SECONDS + 120)
    assert chaos.error is None, chaos.error
    assert not chaos.is_alive()
    print("\n".join(chaos.events))

    engine = create_engine(pg_url, pool_pre_ping=True)
    referrers = {referrer(i) for i in range(REFERRALS)}

    def settled() -> bool:
        try:
            with engine.connect() as connection:
                cases = connection.scalar(select(func.count(Case.id))) or 0
                waiting = connection.scalar(
                    select(func.count(OutboxItem.id)).where(
                        OutboxItem.status == OutboxState.PENDING
                    )
                )
        except Exception:
            return False
        acknowledged = set(captured(smtp_server)) & referrers
        return cases >= REFERRALS and waiting == 0 and acknowledged == referrers

    # A killed worker's claimed emails wait for their lease (two minutes) to run out.
    wait_for(settled, 420, "every referral filed and acknowledged, and the outbox empty")
    elapsed = time.monotonic() - began
    print(f"settled {elapsed:.0f} s after the first delivery")
    # Both still serving: none of the chaos stopped a worker (only the kills did).
    assert [worker.process and worker.process.poll() for worker in pair] == [None, None]
    for worker in pair:
        worker.kill()
    logs = "\n".join(worker.logs() for worker in pair)
    assert "service stopped by an unexpected error" not in logs, logs[-5000:]

    with engine.connect() as connection:
        case_referrers = list(connection.scalars(select(Case.referrer_email)))
        statuses = dict(
            connection.execute(
                select(Message.status, func.count(Message.id)).group_by(Message.status)
            ).all()
        )
        outbox = dict(
            connection.execute(
                select(OutboxItem.status, func.count(OutboxItem.id)).group_by(OutboxItem.status)
            ).all()
        )
        queued_ids = set(connection.scalars(select(OutboxItem.message_id)))
        # A pack is built once for its inputs, whichever worker's tick came first.
        packs = connection.execute(
            select(Pack.meeting, Pack.inputs_sha256, func.count(Pack.id)).group_by(
                Pack.meeting, Pack.inputs_sha256
            )
        ).all()
    engine.dispose()
    assert all(count == 1 for _meeting, _inputs, count in packs)
    # Every email one case; nothing quarantined (nor left unfiled); the outbox drained.
    assert sorted(case_referrers) == sorted(referrers)
    assert statuses == {MessageState.FILED: REFERRALS}
    assert set(outbox) == {OutboxState.SENT}

    by_recipient = captured(smtp_server)
    # Nothing reached the server but the emails queued, each as queued (tokens, ids and all).
    at_server = {
        message_id.strip("<>") for copies in by_recipient.values() for message_id, _ in copies
    }
    assert at_server == {message_id.strip("<>") for message_id in queued_ids}
    resends = 0
    for address in referrers:
        copies = by_recipient[address]
        # One acknowledgement: one Message-ID, however many times it was handed over...
        assert len({message_id for message_id, _raw in copies}) == 1, address
        # ...and a second hand-over is the same queued email, byte for byte.
        assert len({raw for _message_id, raw in copies}) == 1, address
        resends += len(copies) - 1
    print(
        f"{REFERRALS} referrals, {chaos.workers[0].starts + chaos.workers[1].starts - 2} "
        f"restarts, {resends} identical resend(s), settled after {elapsed:.0f} s"
    )
