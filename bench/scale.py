"""Scale benchmark (issue 14): N referrals through `masp run` workers against the real loopback
Dovecot and SMTP servers — one worker on SQLite, one on PostgreSQL, two on PostgreSQL (one
mailbox: one of them polls, both tick and send). Prints emails/s for each, the ratio
two workers ÷ one (PostgreSQL), and each worker's peak RSS (its own process, and with its
child processes added: the readers, and LibreOffice while a tick converts documents).

The clock runs from the workers' start until the last acknowledgement reaches the SMTP
server; the mail is delivered to the mailbox before. PostgreSQL is a throw-away cluster
(tests.postgres), started here on 127.0.0.1.

    .venv/bin/python -m bench.scale --count 1000 [--readers 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bench.intake import TreePeak, _peak_kb, compile_package
from pipeline.store.db import Store
from pipeline.store.models import Document, Message, OutboxItem
from tests.cli.test_service_process import referral
from tests.helpers import config_tree
from tests.postgres import Postgres, running_postgres
from tests.servers import Dovecot, SmtpCapture


@dataclass
class Result:
    name: str
    seconds: float
    count: int
    # Per worker: its own peak RSS, and with its child processes' peaks added (MB).
    own_mb: list[float]
    tree_mb: list[float]
    timeline: str

    @property
    def rate(self) -> float:
        return self.count / self.seconds


class OwnPeak(TreePeak):
    """As TreePeak, also keeping the root process's own peak."""

    def own_mb(self) -> float:
        return max(self.peaks.get(self.root, 0), _peak_kb(self.root)) / 1024


def _config(
    folder: Path, server: Dovecot, user: str, smtp: SmtpCapture, database: str, readers: int
) -> Path:
    tree = config_tree(mailbox__backend="imap")
    tree["database"] = database
    tree["mailbox"]["imap"] = server.imap_config(user).model_dump()
    tree["mailbox"]["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none"}
    tree["mailbox"]["poll_interval_seconds"] = 5
    tree["limits"]["max_sends_per_recipient_per_hour"] = 10_000
    tree["limits"]["readers"] = readers
    folder.mkdir(parents=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def run(
    name: str,
    server: Dovecot,
    smtp: SmtpCapture,
    mails: list[bytes],
    work: Path,
    database: str,
    workers: int,
    readers: int,
) -> Result:
    user = f"scale{uuid.uuid4().hex[:8]}"
    for raw in mails:
        server.deliver(user, raw)
    config = _config(work / user, server, user, smtp, database, readers)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
    before = len(smtp.messages)
    start = time.perf_counter()
    began = datetime.now(UTC)
    cpu_before = _cpu_times()
    processes, samplers = [], []
    for n in range(workers):
        log = (config.parent / f"worker{n}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--config", str(config), "run"],
            cwd=config.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = OwnPeak(process.pid)
        sampler.start()
        processes.append(process)
        samplers.append(sampler)
    try:
        deadline = time.monotonic() + 3600
        while len(smtp.messages) < before + len(mails):
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"{name}: a worker exited early; see {config.parent}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: not done within an hour")
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        busy = _busy_cores(cpu_before, _cpu_times())
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                # Still in a long step (a LibreOffice batch): its whole group goes.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        for sampler in samplers:
            sampler.done.set()
            sampler.join()
    return Result(
        name,
        elapsed,
        len(mails),
        [sampler.own_mb() for sampler in samplers],
        [sampler.total_mb() for sampler in samplers],
        _timeline(database or f"sqlite:///{config.parent / 'data' / 'masp.sqlite'}", began)
        + f"; processors busy: {busy:.2f} of {os.cpu_count()}",
    )


def _cpu_times() -> list[int]:
    """The machine's CPU time so far, by kind (/proc/stat's first line, in ticks)."""
    return [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def _busy_cores(before: list[int], after: list[int]) -> float:
    """How many processors were busy on average between two `_cpu_times` (everything on the
    machine: the workers, PostgreSQL, Dovecot and this benchmark's SMTP server and samplers)."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    idle = spent[3] + spent[4]  # idle and iowait
    return (sum(spent) - idle) / sum(spent) * (os.cpu_count() or 1)


def _timeline(url: str, began: datetime) -> str:
    """When the last email was ledgered, filed and acknowledged (seconds after the workers
    started), and how many emails each worker filed: where the time of a run went."""
    store = Store.open(url)
    try:
        with store.reading() as session:
            ledgered = session.scalar(select(func.max(Message.stored_at)))
            filed = session.scalar(select(func.max(Document.created_at)))
            sent = session.scalar(select(func.max(OutboxItem.sent_at)))
            by_worker = session.execute(
                select(Message.claimed_by, func.count()).group_by(Message.claimed_by)
            ).all()
    finally:
        store.close()

    def after(moment: datetime | None) -> str:
        return "-" if moment is None else f"{(moment - began).total_seconds():.1f} s"

    shares = ", ".join(sorted(str(count) for _worker, count in by_worker))
    return (
        f"last ledgered at {after(ledgered)}, last filed at {after(filed)}, "
        f"last sent at {after(sent)}; filed per worker: {shares}"
    )


def _database(cluster: Postgres) -> str:
    return cluster.url(cluster.create_database())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000, help="referrals per run (default 1000)")
    parser.add_argument("--readers", type=int, default=1, help="limits.readers of each worker")
    args = parser.parse_args()
    compile_package()
    # Built once (a referral form takes ~0.2 s to write; the others are copies with the
    # child's name and the referrer's address changed).
    mails = [referral(i) for i in range(args.count)]
    server, smtp = Dovecot(), SmtpCapture()
    server.start()
    smtp.start()
    results: list[Result] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="masp-scale-", ignore_cleanup_errors=True) as folder,
            running_postgres() as pg,
        ):
            work = Path(folder)
            for name, database, workers in (
                ("1 worker, SQLite", "", 1),
                ("1 worker, PostgreSQL", _database(pg), 1),
                ("2 workers, PostgreSQL", _database(pg), 2),
            ):
                result = run(name, server, smtp, mails, work, database, workers, args.readers)
                results.append(result)
                peaks = ", ".join(
                    f"{own:.0f} MB ({tree:.0f} MB with its children: readers, LibreOffice)"
                    for own, tree in zip(result.own_mb, result.tree_mb, strict=True)
                )
                print(
                    f"{name}: {result.seconds:.1f} s, {result.rate:.1f} emails/s; "
                    f"peak RSS per worker: {peaks}\n    {result.timeline}",
                    flush=True,
                )
    finally:
        smtp.stop()
        server.cleanup()
    one, two = results[1], results[2]
    load = os.getloadavg()
    print(f"\nN = {args.count}, {args.readers} reader(s) per worker, {os.cpu_count()} processors")
    print(f"ratio two workers / one (PostgreSQL): {two.rate / one.rate:.2f}  (goal >= 1.6)")
    worst = max(max(r.own_mb) for r in results)
    print(f"largest worker peak RSS: {worst:.0f} MB  (goal <= 300 MB)")
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
