"""Transactions that really overlap: steps run in threads of their own, each held just before
its first commit until every other step has reached its own.

A step that does not arrive within `linger` seconds is waiting for a lock another step holds;
that is the database serialising them, so the steps that did arrive go on and commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

# How long a step waits at its commit for the others; a step waiting on a lock never comes.
LINGER = 2.0
TIMEOUT = 120.0


@contextmanager
def _held_at_first_commit(meeting: threading.Barrier) -> Iterator[set[int]]:
    """While active, every thread named in the yielded set waits at `meeting` before its first
    commit (once), then commits."""
    waiting: set[int] = set()

    def before_commit(_session: Session) -> None:
        ident = threading.get_ident()
        if ident not in waiting:
            return
        waiting.discard(ident)
        with suppress(threading.BrokenBarrierError):
            meeting.wait()

    event.listen(Session, "before_commit", before_commit)
    try:
        yield waiting
    finally:
        event.remove(Session, "before_commit", before_commit)


def at_once(*steps: Callable[[], Any], linger: float = LINGER) -> list[Any]:
    """Run the steps together; each one's result, or the exception it raised, in order."""
    outcomes: list[Any] = [None] * len(steps)
    start = threading.Barrier(len(steps))
    meeting = threading.Barrier(len(steps), timeout=linger)
    with _held_at_first_commit(meeting) as waiting:
        lock = threading.Lock()

        def run(index: int, step: Callable[[], Any]) -> None:
            with lock:
                waiting.add(threading.get_ident())
            start.wait()
            try:
                outcomes[index] = step()
            except BaseException as exc:
                outcomes[index] = exc

        threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(steps)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a step did not finish"
    return outcomes
