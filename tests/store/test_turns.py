"""The SQLite write turns of one process's threads (`Store`'s fetching, filing and sending
threads): granted in the order asked, so the thread filing email after email cannot keep the
sending thread waiting for the whole batch, as threading.Lock lets it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.store.db import Store, Turns


def queued(turns: Turns, count: int) -> None:
    """Wait until `count` threads are waiting for a turn."""
    deadline = time.monotonic() + 5
    while len(turns._waiting) < count:
        assert time.monotonic() < deadline, "the other thread never asked for its turn"
        time.sleep(0.001)


def test_a_thread_that_asks_again_at_once_waits_behind_the_one_already_waiting() -> None:
    turns = Turns()
    order: list[str] = []
    assert turns.acquire(5)

    def other() -> None:
        assert turns.acquire(5)
        order.append("other")
        turns.release()

    thread = threading.Thread(target=other)
    thread.start()
    queued(turns, 1)
    turns.release()
    # As the filing does between two emails: let go, and ask again straight away.
    assert turns.acquire(5)
    order.append("this")
    turns.release()
    thread.join()
    assert order == ["other", "this"]


def test_turns_go_in_the_order_asked() -> None:
    turns = Turns()
    order: list[int] = []
    assert turns.acquire(5)
    threads = []

    def take(n: int) -> None:
        assert turns.acquire(5)
        order.append(n)
        turns.release()

    for n in range(4):
        thread = threading.Thread(target=take, args=(n,))
        thread.start()
        threads.append(thread)
        queued(turns, n + 1)
    turns.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3]


def test_the_holder_may_take_it_again_and_a_wait_that_times_out_leaves_no_trace() -> None:
    turns = Turns()
    assert turns.acquire(5) and turns.acquire(5)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(turns.acquire(0.05)))
    waiter.start()
    waiter.join()
    # Held twice by this thread, so the other gave up; it left no place in the queue behind.
    assert results == [False] and len(turns._waiting) == 0
    turns.release()
    turns.release()
    later = threading.Thread(target=lambda: results.append(turns.acquire(1)))
    later.start()
    later.join()
    assert results == [False, True]


def test_on_sqlite_a_second_writer_thread_waits_its_turn_in_the_store(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        writing, waited = threading.Event(), []

        def second() -> None:
            writing.wait()
            began = time.monotonic()
            with store.session() as session:
                session.connection().exec_driver_sql("SELECT 1")
            waited.append(time.monotonic() - began)

        thread = threading.Thread(target=second)
        thread.start()
        with store.session() as session:
            session.connection().exec_driver_sql("SELECT 1")
            writing.set()
            # The second thread waits in the store's turns, not in SQLite's busy handler.
            assert store._writing is not None
            queued(store._writing, 1)
            time.sleep(0.2)
        thread.join()
        assert waited[0] >= 0.15
    finally:
        store.close()
