"""Each email's reading budget (SPEC §7): how many of its attachments are read, and for how long
in all, so that one email cannot hold intake for minutes.

Every attachment read gets its own limit (`limits.parse_seconds`) or what is left of the email's
(`limits.email_seconds`), whichever is less. Attachments past `limits.max_attachments`, and those
reached once the budget is spent, are not read at all; they are still stored on the case, refused
with a reason the referrer reads in their acknowledgement, so nothing they sent is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date

from pipeline.config import LimitsConfig
from pipeline.documents.kinds import Status
from pipeline.documents.pool import Reader, ReaderPool
from pipeline.documents.results import DocumentResult
from pipeline.documents.worker import Allowance, DocumentWorker, not_read, too_slow
from pipeline.mime.message import Attachment

log = logging.getLogger(__name__)


def too_many(most: int) -> str:
    """Why an attachment past `limits.max_attachments` was not read, addressed to the referrer."""
    return (
        f"not read: this email has more than {most} attachments, the most the panel inbox reads "
        "from one email: please send the rest in another email"
    )


def out_of_time(seconds: float) -> str:
    """Why an attachment was not read (or not finished) once the email's time was spent."""
    return (
        f"not read: this email's attachments took too long to read (over {seconds:g} s in all): "
        "please send this file again in another email"
    )


@dataclass
class EmailBudget:
    """The reading budget of one email, started when its first attachment is read."""

    seconds: float
    per_file: float
    most: int
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    begun: bool = field(init=False, default=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.begin()

    def begin(self) -> None:
        """Start counting now (the reader is ready)."""
        self.started = self.clock()

    def begin_once(self) -> None:
        """Start counting when the first of the email's reads starts, read ahead or not."""
        with self._lock:
            if not self.begun:
                self.begun = True
                self.begin()

    @classmethod
    def of(cls, limits: LimitsConfig) -> EmailBudget:
        return cls(limits.email_seconds, limits.parse_seconds, limits.max_attachments)

    def left(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def refusal(self, index: int) -> str | None:
        """Why the attachment at `index` (from 0) is not to be read at all, or None."""
        if index >= self.most:
            return too_many(self.most)
        if self.left() <= 0:
            return out_of_time(self.seconds)
        return None

    def allowance(self) -> Allowance:
        """How long the next read may take: its own limit, or the rest of the email's."""
        left = self.left()
        if left >= self.per_file:
            return Allowance(self.per_file, too_slow(self.per_file))
        return Allowance(left, out_of_time(self.seconds))


def read_within(
    reader: Reader, budget: EmailBudget, attachments: tuple[Attachment, ...], today: date
) -> list[DocumentResult]:
    """What each attachment is, read in order within `budget`; the rest refused unread.

    With several readers, the reads queued ahead for these attachments (`queue_within`), or
    else queued now, side by side; their answers in the attachments' order.
    """
    if isinstance(reader, ReaderPool):
        reads = reader.recall(attachments) or queue_within(reader, budget, attachments, today)
        return [read.result() for read in reads]
    return _read_in_turn(reader, budget, attachments, today)


def queue_within(
    pool: ReaderPool, budget: EmailBudget, attachments: tuple[Attachment, ...], today: date
) -> list[Future[DocumentResult]]:
    """Queue each attachment's read on the pool. The email's budget starts with its first read,
    and each read, when it starts, gets what is left of it (or is refused unread)."""

    def read(index: int, attachment: Attachment) -> Callable[[DocumentWorker], DocumentResult]:
        def task(reader: DocumentWorker) -> DocumentResult:
            budget.begin_once()
            refusal = budget.refusal(index)
            if refusal is not None:
                log.warning("attachment %d of an email not read: over its budget", index + 1)
                return not_read(Status.REFUSED, refusal, "not read: over the email's budget")
            allowance = budget.allowance()
            return reader.read(attachment.filename, attachment.data, today, allowance)

        return task

    return [pool.submit(read(index, each)) for index, each in enumerate(attachments)]


def _read_in_turn(
    reader: DocumentWorker, budget: EmailBudget, attachments: tuple[Attachment, ...], today: date
) -> list[DocumentResult]:
    reader.start()
    budget.begin()
    results = []
    unread = 0
    for index, attachment in enumerate(attachments):
        refusal = budget.refusal(index)
        if refusal is None:
            allowance = budget.allowance()
            results.append(reader.read(attachment.filename, attachment.data, today, allowance))
        else:
            unread += 1
            results.append(not_read(Status.REFUSED, refusal, "not read: over the email's budget"))
    if unread:
        log.warning("%d of %d attachments of an email not read: over its budget", unread, index + 1)
    return results
