"""Concurrent writers on PostgreSQL: case numbers are handed out once each, without one worker
waiting for another's filing, and a transaction the database chose to lose a deadlock is run
again and commits."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from pipeline.intake.cases import next_reference
from pipeline.store.db import Store
from pipeline.store.models import Counter
from tests.concurrency import at_once

pytestmark = pytest.mark.pg_native


def counters(store: Store, **last: int) -> None:
    with store.session() as session:
        session.add_all(Counter(prefix=prefix, year=2026, last=n) for prefix, n in last.items())


def numbered(store: Store) -> str:
    with store.session() as session:
        return next_reference(session, "MASP", 2026)


@pytest.mark.parametrize("before", [None, 7], ids=["first-of-the-year", "counter-row-exists"])
def test_two_transactions_numbering_cases_at_once_get_distinct_references(
    pg_url: str, before: int | None
) -> None:
    store = Store.open(pg_url)
    if before is not None:
        counters(store, MASP=before)
    outcomes = at_once(lambda: numbered(store), lambda: numbered(store))
    store.close()
    # Before the fix: the same reference twice, or a unique violation on a new counter row.
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    start = before or 0
    assert sorted(outcomes) == [f"MASP-2026-{start + 1:04d}", f"MASP-2026-{start + 2:04d}"]


def test_a_worker_numbering_a_case_does_not_wait_for_another_still_filing(pg_url: str) -> None:
    store = Store.open(pg_url)
    taken: list[str] = []
    try:
        with store.session() as filing:
            first = next_reference(filing, "MASP", 2026)
            # That filing is still open (its documents, its answer): another worker's referral
            # is numbered meanwhile, not after it commits.
            other = threading.Thread(target=lambda: taken.append(numbered(store)), daemon=True)
            other.start()
            other.join(20)
            assert taken == ["MASP-2026-0002"], "the second worker waited for the first"
        assert first == "MASP-2026-0001"
        # A filing that fails after taking its number leaves it unused: never handed out again.
        with pytest.raises(RuntimeError), store.session() as failing:
            next_reference(failing, "MASP", 2026)
            raise RuntimeError("the filing failed")
        assert numbered(store) == "MASP-2026-0004"
    finally:
        store.close()


def bump(session: Session, prefix: str) -> None:
    session.execute(update(Counter).where(Counter.prefix == prefix).values(last=Counter.last + 1))


class Crossing:
    """Two transactions bumping the counters A and B in opposite orders. On its first try each
    waits, holding its first row, until the other holds its own: each then wants the row the
    other holds, a deadlock the database breaks by failing one of them (SQLSTATE 40P01)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tries: list[str] = []
        self.holding = threading.Barrier(2, timeout=10)

    def run(self, first: str, second: str, attempts: int) -> None:
        def work(session: Session) -> None:
            self.tries.append(first)
            bump(session, first)
            if self.tries.count(first) == 1:
                self.holding.wait()
            bump(session, second)

        self.store.transaction(work, attempts=attempts)

    def both(self, attempts: int) -> list[object]:
        return at_once(lambda: self.run("A", "B", attempts), lambda: self.run("B", "A", attempts))


def test_a_deadlock_loser_is_run_again_and_both_commit(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(pg_url)
    counters(store, A=0, B=0)
    crossing = Crossing(store)
    with caplog.at_level(logging.INFO, logger="pipeline.store.db"):
        assert crossing.both(attempts=5) == [None, None]
    # One of the two lost the deadlock once and was run again, from the start.
    assert sorted(crossing.tries) in (["A", "A", "B"], ["A", "B", "B"])
    assert "transaction lost to another (40P01)" in caplog.text
    with store.session() as session:
        assert {c.prefix: c.last for c in session.scalars(select(Counter))} == {"A": 2, "B": 2}
    store.close()


def test_without_retries_the_deadlock_reaches_the_caller(pg_url: str) -> None:
    store = Store.open(pg_url)
    counters(store, A=0, B=0)
    outcomes = Crossing(store).both(attempts=1)
    store.close()
    [lost] = [o for o in outcomes if o is not None]
    assert isinstance(lost, OperationalError) and getattr(lost.orig, "sqlstate", "") == "40P01"


def test_other_errors_are_not_retried(pg_url: str) -> None:
    store = Store.open(pg_url)
    counters(store, A=0)
    tries: list[int] = []

    def duplicate(session: Session) -> None:
        tries.append(1)
        session.add(Counter(prefix="A", year=2026, last=1))
        session.flush()

    with pytest.raises(IntegrityError):
        store.transaction(duplicate)
    store.close()
    assert tries == [1]
