"""Step one of intake: every message is written to disk (fsync) and ledgered before anything
acts on it. The ledger is the work queue: a crash at any point leaves rows to resume from."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser

from sqlalchemy import Integer, cast, func, insert, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import describe_failure
from pipeline.mailbox.base import InboundMessage, LastSeen, Location, MailSource
from pipeline.mime.addresses import Mailbox, read_mailbox
from pipeline.states import MessageState
from pipeline.store.models import MailboxCursor, Message

log = logging.getLogger(__name__)

# Headers a server adds on delivery: a re-delivered copy differs only in these.
_TRACE = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|x-delivered-to|status|x-status"
    rb"|x-uid|x-keywords|x-envelope-[a-z]+|dkim-[a-z-]+|arc-[a-z-]+|authentication-results)"
    rb":.*(?:\r?\n[ \t].*)*\r?\n",
    re.IGNORECASE | re.MULTILINE,
)
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?<?([^>\r\n]+)>?", re.I | re.M)
_PRINTABLE = re.compile(rb"[!-~]+")
MAX_MESSAGE_ID = 250
# The longest address RFC 5321 allows; a longer From is kept as no sender at all.
MAX_SENDER = 320
# Headers are read from the first part of the message only: a megabyte of headers is not.
HEAD_BYTES = 256_000
# Rows are committed in small batches: the raw bytes are already fsynced, and a batch
# boundary only decides how much is re-fetched (and recognised as known) after a crash.
BATCH = 20
# The first batch is smaller: the filing starts on it while the rest is still being fetched.
FIRST_BATCH = 4


def content_digest(raw: bytes) -> str:
    """A digest of the message without its trace headers, to recognise a re-delivered copy."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    return hashlib.sha256(_TRACE.sub(b"", head + b"\n") + sep + body).hexdigest()


def header_block(raw: bytes) -> bytes:
    """The message's headers: what comes before the first empty line, within HEAD_BYTES."""
    return raw[:HEAD_BYTES].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID, or None when there is none we could use.

    Only a plausible id is kept (printable ASCII, at most MAX_MESSAGE_ID characters): a
    megabyte of junk in the header must not become a database value that one database
    refuses (an index entry over PostgreSQL's limit) and another stores whole.
    """
    match = _MESSAGE_ID.search(header_block(raw))
    if match is None:
        return None
    found = match.group(1).strip()
    if not found or len(found) > MAX_MESSAGE_ID or not _PRINTABLE.fullmatch(found):
        return None
    return found.decode("ascii")


def header_sender(raw: bytes) -> str | None:
    """The From address, lower-cased, or None when the header does not name exactly one.

    Recorded with the email so that one sender's emails are filed in order by whichever
    workers file them (intake/claims.py); filing reads the From again, in full.
    """
    # Only the header block is parsed: the parser would read the whole of what it is given.
    headers = BytesHeaderParser().parsebytes(header_block(raw) + b"\n\n")
    found = read_mailbox(str(headers.get("From") or ""))
    if not isinstance(found, Mailbox) or len(found.address) > MAX_SENDER:
        return None
    return found.address


@dataclass(frozen=True)
class Stored:
    """An email's bytes, stored durably, and what its header block says (`Ledger.store`)."""

    sha: str
    path: str
    # The digest without trace headers (the bytes' own digest when the headers were unreadable).
    body: str
    message_id: str | None
    sender: str | None


@dataclass(frozen=True)
class Ledgered:
    """The ledger row an email was given."""

    id: int
    status: MessageState
    received_at: datetime


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    ids: list[int] = field(default_factory=list)


class LedgerCursor:
    """A back-end's cursor kept in the database (`mailbox_cursors`). Values put during a fetch
    wait in memory and are written with the batch that ledgers the last messages before them,
    so the cursor never runs ahead of what the ledger holds."""

    def __init__(self, app: App, backend: str) -> None:
        self.app, self.backend = app, backend
        self.pending: dict[str, str | None] = {}

    def get(self, name: str) -> str | None:
        if name in self.pending:
            return self.pending[name]
        with self.app.store.session() as session:
            row = session.get(MailboxCursor, (self.backend, name))
            return None if row is None else row.value

    def put(self, name: str, value: str | None) -> None:
        self.pending[name] = value

    def write(self, session: Session) -> None:
        """Store what was put, in the caller's transaction, and forget it."""
        for name, value in self.pending.items():
            row = session.get(MailboxCursor, (self.backend, name))
            now = self.app.clock.now()
            if value is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                row = MailboxCursor(backend=self.backend, name=name, value=value, updated_at=now)
                session.add(row)
            else:
                row.value, row.updated_at = value, now
        self.pending.clear()


class Ledger:
    """Answers the back-end's questions (what is known, the last UID) from the database."""

    def __init__(self, app: App, committed: Callable[[], object] | None = None) -> None:
        self.app = app
        # Told after each batch is committed (the poll's filing then looks at once).
        self._committed = committed
        self._known: dict[tuple[str, str, int], set[str]] = {}

    def last_seen(self, folder: str, uidvalidity: int, backend: str = "imap") -> int | None:
        with self.app.store.session() as session:
            query = select(func.max(cast(Message.uid, Integer))).where(
                Message.backend == backend,
                Message.folder == folder,
                Message.uidvalidity == uidvalidity,
            )
            return session.scalar(query)

    def known(self, location: Location) -> bool:
        key = (location.backend, location.folder, location.uidvalidity)
        if key not in self._known:
            with self.app.store.session() as session:
                query = select(Message.uid).where(
                    Message.backend == key[0],
                    Message.folder == key[1],
                    Message.uidvalidity == key[2],
                )
                self._known[key] = set(session.scalars(query))
        return location.uid in self._known[key]

    def _duplicate_of(self, session: Session, sha: str, body: str, message_id: str | None) -> bool:
        same_bytes = select(Message.id).where(
            Message.sha256 == sha, Message.status != MessageState.DUPLICATE
        )
        # Plain statements on the session's connection: the ledger loads no objects.
        connection = session.connection()
        if connection.scalar(same_bytes.limit(1)) is not None:
            return True
        if message_id is None:
            return False
        same_copy = select(Message.id).where(
            Message.message_id == message_id,
            Message.body_sha256 == body,
            Message.status != MessageState.DUPLICATE,
        )
        return connection.scalar(same_copy.limit(1)) is not None

    def record(
        self,
        session: Session,
        inbound: InboundMessage,
        stored: Stored | None = None,
        plain: bool = False,
    ) -> Ledgered:
        """Add the ledger row (status new, or duplicate) of bytes `stored` durably (stored now
        if they were not).

        `plain` leaves out everything read from the headers (Message-ID, the digest without
        trace headers, the duplicate check): the fallback when those could not be stored.
        """
        stored = stored or self.store(inbound)
        sha, path = stored.sha, stored.path
        body, message_id, sender, duplicate = sha, None, None, False
        if not plain:
            body, message_id, sender = stored.body, stored.message_id, stored.sender
            duplicate = self._duplicate_of(session, sha, body, message_id)
        loc = inbound.location
        now = self.app.clock.now()
        received_at = inbound.received_at or now
        status = MessageState.DUPLICATE if duplicate else MessageState.NEW
        # One plain INSERT: a ledger row is only read back by the filing, in its own session.
        row_id = session.connection().scalar(
            insert(Message)
            .values(
                backend=loc.backend,
                folder=loc.folder,
                uidvalidity=loc.uidvalidity,
                uid=loc.uid,
                message_id=message_id,
                body_sha256=body,
                sha256=sha,
                size=len(inbound.raw),
                received_at=received_at,
                stored_at=now,
                raw_path=path,
                status=status,
                moved=False,
                sender=sender,
            )
            .returning(Message.id)
        )
        assert row_id is not None
        self._known.setdefault((loc.backend, loc.folder, loc.uidvalidity), set()).add(loc.uid)
        return Ledgered(row_id, status, received_at)

    def ingest(self, source: MailSource) -> IngestReport:
        """Ledger every new message the source has, in batches."""
        report = IngestReport()
        pending: list[InboundMessage] = []
        cursor = LedgerCursor(self.app, source.name)
        for inbound in source.fetch_new(self._last_seen_for(source.name), self.known, cursor):
            pending.append(inbound)
            if len(pending) >= (BATCH if report.ids else FIRST_BATCH):
                self._commit(pending, report)
                pending = []
        # The cursor is written with the last batch: only once the fetch has ended is every
        # message before it in hand.
        self._commit(pending, report, cursor)
        return report

    def _last_seen_for(self, backend: str) -> LastSeen:
        return lambda folder, uidvalidity: self.last_seen(folder, uidvalidity, backend)

    def _commit(
        self,
        batch: Iterable[InboundMessage],
        report: IngestReport,
        cursor: LedgerCursor | None = None,
    ) -> None:
        # The bytes are written (and fsynced) and the headers read before the transaction,
        # so it holds the database's write lock only for the rows.
        stored = [(inbound, self.store(inbound)) for inbound in batch]
        with self.app.store.session() as session:
            for inbound, kept in stored:
                row = self._record_safely(session, inbound, kept)
                report.ids.append(row.id)
                report.duplicates += int(row.status == MessageState.DUPLICATE)
                report.stored += int(row.status == MessageState.NEW)
            if cursor is not None:
                cursor.write(session)
        if self._committed is not None:
            self._committed()

    def store(self, inbound: InboundMessage) -> Stored:
        """The email's bytes stored durably, and what its header block says.

        A failure to write the bytes (a full disk) is raised: nothing can be ledgered then,
        and the poll reports it. Headers that cannot be read leave those details out.
        """
        sha, path = self.app.files.put("raw", inbound.raw, ".eml")
        try:
            raw = inbound.raw
            return Stored(
                sha, path, content_digest(raw), header_message_id(raw), header_sender(raw)
            )
        except Exception as exc:
            log.error(
                "message %s: its headers could not be read (%s)",
                inbound.location.uid,
                describe_failure(exc),
            )
            return Stored(sha, path, sha, None, None)

    def _record_safely(self, session: Session, inbound: InboundMessage, stored: Stored) -> Ledgered:
        """Ledger one message; if what was read from its headers cannot be stored, ledger it
        without them, so it is still filed (or quarantined) and never held up the others.

        A failure to write the bytes themselves (a full disk) is raised: nothing can be
        ledgered then, and the poll reports it.
        """
        try:
            with session.begin_nested():
                return self.record(session, inbound, stored)
        except OSError:
            raise
        except Exception as exc:
            log.error(
                "message %s ledgered without its header details (%s)",
                inbound.location.uid,
                describe_failure(exc),
            )
        with session.begin_nested():
            return self.record(session, inbound, stored, plain=True)
