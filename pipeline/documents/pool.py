"""Several warm readers (`limits.readers`), so that reading attachments uses every core.

Each reader is a `DocumentWorker` (one isolated child process) fed by a thread of the service
that only waits on its pipe. Requests queue in the order they are made and go to whichever
reader is free: the attachments of one email are read side by side, and those of the next
emails (queued ahead by intake, `remember`) while this one is being filed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.closing import Closing
from pipeline.documents.kinds import Kind
from pipeline.documents.results import Converted, DocumentResult, Preview, ReadLimits
from pipeline.documents.worker import Allowance, DocumentWorker

if TYPE_CHECKING:
    from pipeline.documents.workbook import WireGrid

T = TypeVar("T")
Task = Callable[[DocumentWorker], Any]


class ReaderPool(Closing):
    """`count` readers behind one queue; the same calls as one `DocumentWorker`."""

    def __init__(self, limits: ReadLimits, count: int) -> None:
        self.limits = limits
        # Not pinned: each child goes to whichever processor is free.
        self.readers = [DocumentWorker(limits, pin=False) for _ in range(count)]
        self._queue: queue.SimpleQueue[tuple[Task, Future[Any]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Reads queued ahead for an email's attachments, by the identity of their tuple.
        self._ahead: dict[int, tuple[object, list[Future[DocumentResult]]]] = {}

    @property
    def pid(self) -> int | None:
        """The first reader's process id (None before it started)."""
        return self.readers[0].pid

    def submit(self, task: Callable[[DocumentWorker], T]) -> Future[T]:
        """Run `task` with the next free reader; its answer, or its exception, in the future."""
        self._ensure_threads()
        future: Future[T] = Future()
        self._queue.put((task, future))
        return future

    def _ensure_threads(self) -> None:
        with self._lock:
            if self._threads:
                return
            for index, reader in enumerate(self.readers):
                thread = threading.Thread(
                    target=self._serve, args=(reader,), name=f"masp-reader-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _serve(self, reader: DocumentWorker) -> None:
        while (item := self._queue.get()) is not None:
            task, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(task(reader))
            # Whatever the task raised is the asker's to handle (a reader that cannot start).
            except BaseException as exc:
                future.set_exception(exc)

    def read(
        self,
        filename: str,
        data: bytes,
        today: date | None = None,
        allowance: Allowance | None = None,
        as_kind: Kind | None = None,
    ) -> DocumentResult:
        return self.submit(
            lambda reader: reader.read(filename, data, today, allowance, as_kind)
        ).result()

    def convert(self, route: str, data: bytes) -> Converted | str:
        return self.submit(lambda reader: reader.convert(route, data)).result()

    def preview(self, route: str, data: bytes, page: int) -> Preview | str:
        return self.submit(lambda reader: reader.preview(route, data, page)).result()

    def read_grid(self, data: bytes) -> WireGrid | str:
        return self.submit(lambda reader: reader.read_grid(data)).result()

    def start(self) -> None:
        """Start every reader now (a start is no email's fault: it is not on its budget)."""
        for reader in self.readers:
            reader.start()

    def remember(self, key: Sequence[object], reads: list[Future[DocumentResult]]) -> None:
        """Keep reads queued ahead for the attachments `key` (the very tuple intake will ask
        about), until `recall` or `forget`."""
        with self._lock:
            self._ahead[id(key)] = (key, reads)

    def recall(self, key: Sequence[object]) -> list[Future[DocumentResult]] | None:
        """The reads queued ahead for `key`, once; None if there were none."""
        with self._lock:
            found = self._ahead.pop(id(key), None)
        return None if found is None else found[1]

    def forget(self, key: Sequence[object]) -> None:
        """Drop the reads queued for `key` (its email was filed without them)."""
        with self._lock:
            self._ahead.pop(id(key), None)

    def close(self) -> None:
        """Stop every reader now. Reads still queued (read ahead for emails intake never came
        to, the service stopping) are cancelled, and a reader still reading is killed rather
        than waited for: a stop never waits for queued work, nor `limits.parse_seconds`."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._ahead.clear()
        self._cancel_queued()
        for _ in threads:
            self._queue.put(None)
        for reader in self.readers:
            reader.abandon()
        for thread in threads:
            thread.join()
        for reader in self.readers:
            with contextlib.suppress(Exception):
                reader.close()

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].cancel()


# What the service reads attachments with: one reader, or several.
Reader = DocumentWorker | ReaderPool
