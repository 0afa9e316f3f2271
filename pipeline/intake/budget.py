"""Each email's reading budget (SPEC §7): how many of its attachments are read, and for how long
in all, so that one email cannot hold intake for minutes.

Every attachment read gets its own limit (`limits.parse_seconds`) or what is left of the email's
(`limits.email_seconds`), whichever is less. Attachments past `limits.max_attachments`, and those
reached once the budget is spent, are not read at all; they are still stored on the case, refused
with a reason the referrer reads in their acknowledgement, so nothing they sent is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from pipeline.config import LimitsConfig
from pipeline.documents.kinds import Status
from pipeline.documents.read import DocumentResult
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

    def __post_init__(self) -> None:
        self.begin()

    def begin(self) -> None:
        """Start counting now (the reader is ready)."""
        self.started = self.clock()

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
    reader: DocumentWorker, budget: EmailBudget, attachments: tuple[Attachment, ...], today: date
) -> list[DocumentResult]:
    """What each attachment is, read in order within `budget`; the rest refused unread."""
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
