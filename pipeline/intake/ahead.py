"""Reading ahead (`limits.readers` above one): while one email is filed, the next emails are
parsed and their attachments queued on the readers, so the readers never wait for the filing
(its database work, its writes to disk) nor the filing for them.

Only reading is done ahead. Each email is still filed in its own transaction, in the order it
arrived, and uses what was read ahead only if its filing asks for its attachments at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import partial

from pipeline.app import App
from pipeline.documents.pool import ReaderPool
from pipeline.errors import describe_failure
from pipeline.intake.budget import EmailBudget, queue_within
from pipeline.mime.message import ParsedEmail, parse_email

log = logging.getLogger(__name__)

# How far ahead: emails per reader, and bytes in all (an email may be 35 MB; at least one
# email is always read ahead, whatever its size).
EMAILS_PER_READER = 2
MOST_BYTES = 32_000_000


class ReadAhead:
    """Parses the emails `rows` ((id, raw path, size), in filing order) in a thread of its own
    and queues their attachments' reads; `take` hands each parsed email to its filing."""

    def __init__(self, app: App, pool: ReaderPool, rows: Sequence[tuple[int, str, int]]) -> None:
        self.app, self.pool, self.rows = app, pool, list(rows)
        self.today = app.clock.now().astimezone(app.config.tz).date()
        self.most = EMAILS_PER_READER * len(pool.readers)
        self._sizes = {row_id: size for row_id, _path, size in self.rows}
        self._parsed: dict[int, ParsedEmail | None] = {}
        self._ahead: set[int] = set()
        self._bytes = 0
        self._stopped = self._finished = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="masp-read-ahead", daemon=True)
        self._thread.start()

    def _room_for(self, size: int) -> bool:
        if self._stopped or not self._ahead:
            return True
        return len(self._ahead) < self.most and self._bytes + size <= MOST_BYTES

    def _run(self) -> None:
        try:
            for row_id, raw_path, size in self.rows:
                with self._changed:
                    self._changed.wait_for(partial(self._room_for, size))
                    if self._stopped:
                        return
                    self._ahead.add(row_id)
                    self._bytes += size
                parsed = self._prepare(raw_path, size)
                with self._changed:
                    self._parsed[row_id] = parsed
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def _prepare(self, raw_path: str, size: int) -> ParsedEmail | None:
        """The email parsed, its attachments' reads queued; None if its filing is to find out
        itself (too large, unreadable: it is then refused or quarantined as without this)."""
        if size > self.app.config.limits.max_email_bytes:
            return None
        try:
            parsed = parse_email(self.app.files.read(raw_path))
        except Exception as exc:
            log.debug("an email was not read ahead: %s", describe_failure(exc))
            return None
        if parsed.attachments:
            budget = EmailBudget.of(self.app.config.limits)
            reads = queue_within(self.pool, budget, parsed.attachments, self.today)
            self.pool.remember(parsed.attachments, reads)
            # Stored ahead too (content-addressed: the filing then finds each file there), so
            # their writes to disk wait here rather than in the filing. A file no row comes to
            # name is swept as any other leftover is.
            try:
                for attachment in parsed.attachments:
                    self.app.files.put("documents", attachment.data)
            # The filing stores them itself, and says so if it cannot either.
            except OSError as exc:
                log.warning("attachments not stored ahead: %s", describe_failure(exc))
        return parsed

    def take(self, row_id: int) -> ParsedEmail | None:
        """Email `row_id` as parsed ahead (its reads queued), once it is; None if it was not."""
        with self._changed:
            self._changed.wait_for(lambda: row_id in self._parsed or self._finished)
            return self._parsed.get(row_id)

    def done(self, row_id: int) -> None:
        """Email `row_id` is filed: what was read ahead for it and not used is dropped."""
        with self._changed:
            parsed = self._parsed.pop(row_id, None)
            if row_id in self._ahead:
                self._ahead.discard(row_id)
                self._bytes -= self._sizes[row_id]
            self._changed.notify_all()
        if parsed is not None:
            self.pool.forget(parsed.attachments)

    def close(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        self._thread.join()
        for parsed in self._parsed.values():
            if parsed is not None:
                self.pool.forget(parsed.attachments)
        self._parsed.clear()


def reading_ahead(app: App, rows: Sequence[tuple[int, str, int]]) -> ReadAhead | None:
    """A read-ahead for `rows` when there are several readers (with one, reading is in turn)."""
    reader = app.documents
    if not isinstance(reader, ReaderPool) or not rows:
        return None
    return ReadAhead(app, reader, rows)
