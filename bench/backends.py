"""Back-end benchmark: an idle poll (nothing new) of a mailbox holding 10,000 processed messages
against the same poll of an empty one, per back-end. Polling must stay O(new): target ratio
<= 1.2. Prints the median poll time of each and the ratio.

- graph: the Graph stand-in (tests/stand_ins/graph.py, HTTPS on 127.0.0.1, no real tenant):
  10,000 messages arrive in the Inbox, are read and moved to Processed (so the delta history
  holds 20,000 changes), then the idle poll reads the delta link kept from the last poll.
- imap: a private Dovecot (as bench/intake.py starts one): 10,000 messages in Processed, an
  empty INBOX, the idle poll as the service makes it (EXAMINE, UIDNEXT, no SEARCH).

    .venv/bin/python -m bench.backends --count 10000 --polls 300

The intake of N referrals through each back-end against its own floor (bench/backends_intake.py):

    .venv/bin/python -m bench.backends intake --count 200 --repeat 3
"""

from __future__ import annotations

import argparse
import imaplib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.config import Config
from pipeline.mailbox.base import Location, MailSource, MemoryCursor
from pipeline.mailbox.graph import GraphSource
from pipeline.mailbox.imap import ImapSource
from tests.mailbox.contract import message
from tests.mailbox.harness_graph import graph_config
from tests.servers import Dovecot, fresh_account
from tests.stand_ins.entra import running_entra
from tests.stand_ins.graph import running_graph


def median_poll(source: MailSource, polls: int, known: Callable[[Location], bool]) -> float:
    """The median seconds of `polls` idle polls on an open source, with one cursor kept."""
    cursor = MemoryCursor()
    last_seen: Callable[[str, int], int | None] = lambda folder, validity: None  # noqa: E731
    list(source.fetch_new(last_seen, known, cursor))  # the first poll sets the cursor
    times = []
    for _ in range(polls):
        start = time.perf_counter()
        found = list(source.fetch_new(last_seen, known, cursor))
        times.append(time.perf_counter() - start)
        assert found == [], "an idle poll found mail"
    return statistics.median(times)


def graph_poll(config: Config, polls: int) -> float:
    with GraphSource(config) as source:
        return median_poll(source, polls, lambda location: True)


def bench_graph(count: int, polls: int, work: Path) -> tuple[float, float]:
    with running_entra(work / "tls") as entra:
        with running_graph(entra) as empty:
            idle_empty = graph_poll(graph_config(work, empty), polls)
        with running_graph(entra) as full:
            config = graph_config(work, full)
            box = full.mailbox
            with GraphSource(config) as source:
                cursor = MemoryCursor()
                list(source.fetch_new(lambda f, v: None, lambda loc: True, cursor))
                processed = box.add_folder("Processed").id
                for n in range(count):
                    box.move(box.add(message(n)), processed)
                # The poll after the moves reads their removals once; then it is idle.
                list(source.fetch_new(lambda f, v: None, lambda loc: True, cursor))
            idle_full = graph_poll(config, polls)
    return idle_empty, idle_full


def imap_poll(server: Dovecot, count: int, polls: int) -> float:
    account = fresh_account(server)
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as imap:
        imap.login(account.user, account.password)
        imap.create("Processed")
        for n in range(count):
            imap.append("Processed", r"(\Seen)", None, message(n))
        imap.select("INBOX")
    with ImapSource(account.config) as source:
        return median_poll(source, polls, lambda location: True)


def main() -> None:
    if sys.argv[1:2] == ["intake"]:
        from bench import backends_intake

        backends_intake.main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="processed messages held")
    parser.add_argument("--polls", type=int, default=300, help="idle polls timed per case")
    parser.add_argument("--only", choices=["graph", "imap"], help="one back-end only")
    args = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="masp-bench-") as work:
        if args.only in (None, "graph"):
            results["graph"] = bench_graph(args.count, args.polls, Path(work))
        if args.only in (None, "imap"):
            server = Dovecot()
            server.start()
            try:
                imap_poll(server, 0, 5)  # a first account warms Dovecot up
                full = imap_poll(server, args.count, args.polls)
                results["imap"] = (imap_poll(server, 0, args.polls), full)
            finally:
                server.cleanup()
    print(f"\nidle poll, median of {args.polls}; mailbox empty vs holding {args.count} processed")
    for name, (empty, full) in results.items():
        print(
            f"{name:6} empty {1000 * empty:7.2f} ms   full {1000 * full:7.2f} ms   "
            f"ratio {full / empty:.2f}  (target <= 1.2)"
        )


if __name__ == "__main__":
    main()
