"""Locks that let several workers share one store: which of them polls a mailbox, which does
a job, and the rows a read-then-write step holds while it decides. The database (or, on
SQLite, the kernel) keeps them, never a row we write ourselves, so a worker that dies — killed,
its machine gone — lets go of everything it held at once.

On PostgreSQL these are advisory locks: the poll lock belongs to a session kept open for as long
as the worker polls, a job's lock to the transaction that does the job. On SQLite (one machine
only) the poll lock is an `fcntl` lock on a file under data_dir, and jobs need none: every
writing transaction begins with BEGIN IMMEDIATE, which already lets one writer in at a time.

Row locks (`lock`): on PostgreSQL `SELECT … FOR UPDATE` makes a second transaction that wants
the same row wait until the first commits, and then read what it committed; on SQLite the
statement carries no lock (SQLAlchemy leaves `FOR UPDATE` out) for the same BEGIN IMMEDIATE
reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from pipeline.config import Config
from pipeline.disk import ensure_private_dir
from pipeline.store.db import Store

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """`name` as the signed 64-bit number PostgreSQL's advisory locks are keyed by."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"masp-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def worker_name() -> str:
    """This worker as `masp status` names it: its machine and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_gone(name: str) -> bool:
    """Whether the worker `name` (as `worker_name` gives it) is known to have ended: it ran on
    this machine and its process is no more. A worker on another machine is never known gone
    (its claims run out instead)."""
    host, _, pid = name.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        # Alive, under another user.
        return False
    return False


def on_postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


def try_transaction_lock(session: Session, name: str) -> bool:
    """Take the lock `name` for the rest of the session's transaction, if nobody holds it.

    False means another worker is doing that very thing right now: skip it. Always True on
    SQLite, where BEGIN IMMEDIATE has already made this transaction the only writer.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    taken = session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)})
    return bool(taken)


class PollLock(Protocol):
    """Whether this worker may poll one mailbox: held by one worker at a time."""

    def acquire(self) -> bool:
        """Take the lock if it is free, or confirm it is still ours; False if another has it."""

    def release(self) -> None:
        """Let go (a dead worker lets go without this)."""


class DatabasePollLock:
    """A session-level advisory lock, held on a connection of its own for as long as we poll.

    If the connection is lost (the database restarted, the network cut), so is the lock: the
    next `acquire` notices, and takes it again only if no other worker has meanwhile.
    """

    def __init__(self, store: Store, name: str) -> None:
        self.store, self.key = store, lock_key(name)
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            if self._still_ours(self._connection):
                return True
            self._drop()
        connection = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
        except Exception:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def _still_ours(self, connection: Connection) -> bool:
        # The lock lives as long as the session: a session that still answers still holds it.
        try:
            connection.scalar(text("SELECT 1"))
        except Exception as exc:
            log.warning("the connection holding the poll lock was lost (%s)", type(exc).__name__)
            return False
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            # A connection already broken may fail to close cleanly; it is gone either way.
            with contextlib.suppress(Exception):
                self._connection.invalidate()
                self._connection.close()
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._drop()


class FilePollLock:
    """An `fcntl` lock on a file under data_dir: one machine only (SQLite), and the kernel lets
    go of it when the process ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        ensure_private_dir(self.path.parent)
        handle = open(self.path, "ab")  # noqa: SIM115 (kept open for as long as we poll)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def poll_lock(store: Store, data_dir: Path, mailbox: str) -> PollLock:
    """The lock for polling `mailbox` (its back-end and address) with this store."""
    name = f"poll:{mailbox}"
    if on_postgres(store):
        return DatabasePollLock(store, name)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return FilePollLock(data_dir / "locks" / f"poll-{digest}.lock")


def mailbox_poll_lock(store: Store, config: Config) -> PollLock:
    """The lock that lets one worker at a time poll the configured mailbox: `masp run` holds
    it for as long as it polls, so `masp db copy` can tell the service is running."""
    mailbox = f"{config.mailbox.backend}:{config.mailbox.address.lower()}"
    return poll_lock(store, config.data_path, mailbox)


def lock(session: Session, row: object, *dependents: object) -> None:
    """Hold `row` until this transaction ends, and read it and `dependents` again as they are
    once the lock is held: what a concurrent writer committed meanwhile is seen, not lost.

    Changes not yet flushed to these objects are discarded: lock before changing them.
    """
    session.refresh(row, with_for_update=True)
    for other in dependents:
        session.refresh(other)
