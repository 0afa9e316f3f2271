"""Opens the database: SQLite in WAL mode with foreign keys under `data_dir`, or PostgreSQL."""

from __future__ import annotations

import logging
import os
import random
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.disk import DIR_MODE, FILE_MODE, PRIVATE_UMASK
from pipeline.errors import StoreError
from pipeline.store.models import Base

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"

# PostgreSQL's "try again" codes: a serialization failure and a deadlock. The database rolled
# the whole transaction back and chose it to lose; run again from the start, it succeeds.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# Attempts at one unit of work, and the first wait between them (doubled each time, jittered
# so that two losers do not collide again in step).
ATTEMPTS = 5
# How long a thread waits for another thread of this process to end its SQLite write
# transaction before it goes ahead and lets SQLite's own busy timeout (the same 30 s) decide.
LOCAL_WAIT_SECONDS = 30.0
FIRST_WAIT = 0.05

# The newest migration's revision id. Kept here so that opening a database costs one read of
# its version, not a load of Alembic's scripts; a test fails when a migration is added and
# this is not moved on with it.
HEAD_REVISION = "0012_message_claims"

# Alembic's own bookkeeping table, as `alembic stamp` creates it; in its own metadata so that
# comparing the models with a database never counts it.
_VERSIONS = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

UPGRADE_HINT = "run `masp db upgrade` (it backs up first)"
# The advisory lock (any fixed number) held by whoever creates the schema in a new PostgreSQL
# database.
CREATE_LOCK = 0x6D61_7370_0000_0001


class SchemaError(StoreError):
    """The database's schema is not the one this version of masp works with."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `masp status` read while `masp run` writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see _begin_immediate).
    dbapi_connection.isolation_level = None


# The execution option marking a connection that only reads (Store.reading).
READ_ONLY = "masp_read_only"


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so two processes wait for each other instead of failing
    # with 'database is locked' half-way through a transaction. A reader (the console's pages)
    # takes no lock: in WAL mode it sees one consistent snapshot and never waits for a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite `url` names; None for PostgreSQL, an in-memory or a URI-form database."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _make_private(path: Path) -> None:
    """Create the database file owner-only, or take group and other bits off one that exists.

    The `masp` entry point sets a private umask, but a script or bench that opens the store
    itself keeps its caller's (often 022); SQLite gives the WAL and shared-memory files the
    main file's mode, so one owner-only file covers all three.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        _tighten(path.with_name(name))


def _tighten(path: Path) -> None:
    """Take group and other permissions off `path` if it exists; never add any."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    # Another user's file (an admin reading with `masp status`) is theirs to keep as it is.
    if mode & PRIVATE_UMASK and info.st_uid == os.geteuid():
        os.chmod(path, mode & ~PRIVATE_UMASK)


def open_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite's safety settings applied to every connection."""
    path = _sqlite_file(url)
    if path is not None:
        _make_private(path)
    # A database server may restart under a running service: each connection taken from the
    # pool is checked first (one round trip), so a restart costs no step a failure.
    pre_ping = make_url(url).get_backend_name() != "sqlite"
    engine = create_engine(url, future=True, pool_pre_ping=pre_ping)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def schema_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with; None if it has no version table."""
    try:
        with connection.begin_nested() if connection.in_transaction() else _nothing():
            return connection.execute(select(_VERSIONS.c.version_num)).scalar()
    except (OperationalError, ProgrammingError):
        return None


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def prepare(engine: Engine) -> None:
    """Create a brand-new database, or check that an existing one is at `HEAD_REVISION`.

    Never migrates: an older schema is upgraded only by `masp db upgrade`, which backs up first.
    """
    try:
        with engine.connect() as connection:
            found = schema_revision(connection)
        if found is None:
            found = _create_if_empty(engine)
    except SchemaError:
        raise
    except Exception as exc:
        raise StoreError(f"could not open the database {engine.url!r}: {exc}") from exc
    check_revision(found)


def check_revision(found: str) -> None:
    """Refuse a database that is not at `HEAD_REVISION`, saying what to do."""
    if found == HEAD_REVISION:
        return
    if found < HEAD_REVISION:
        raise SchemaError(
            f"the database is at {found} and this masp needs {HEAD_REVISION}; " + UPGRADE_HINT
        )
    raise SchemaError(
        f"the database is at {found}, newer than this masp knows ({HEAD_REVISION}): "
        "install the masp that upgraded it, or restore a backup taken before the upgrade"
    )


def _create_if_empty(engine: Engine) -> str:
    """Create the schema from the models and stamp it at the head, if the database is empty.

    Quicker than replaying every migration; a test proves both routes give the same schema.
    Returns the revision the database is at afterwards.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two workers started at once on a new database: one creates, the other waits
            # here and then finds the schema made (SQLite's BEGIN IMMEDIATE does this there).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK})
        # Inside the write transaction: another process may have created it meanwhile.
        found = schema_revision(connection)
        if found is not None:
            return found
        if inspect(connection).get_table_names():
            raise SchemaError(
                "the database has tables but no schema version: it is not a masp database, "
                "or its version was lost; restore it from a backup"
            )
        create_schema(connection)
    return HEAD_REVISION


def create_schema(connection: Connection) -> None:
    """Create the head schema from the models and stamp it, in the caller's transaction."""
    Base.metadata.create_all(connection)
    _VERSIONS.create(connection)
    connection.execute(_VERSIONS.insert().values(version_num=HEAD_REVISION))


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Run Alembic's upgrade to the newest revision; returns (from, to) revisions."""
    from alembic import command

    with engine.connect() as connection:
        before = schema_revision(connection)
    try:
        if before is None:
            _create_if_empty(engine)
        else:
            command.upgrade(_alembic_config(engine), "head")
    except SchemaError:
        raise
    except Exception as exc:
        raise StoreError(f"could not upgrade the database {engine.url!r}: {exc}") from exc
    with engine.connect() as connection:
        after = schema_revision(connection)
    assert after is not None
    return before, after


class Turns:
    """A lock that threads get in the order they asked for it, and that the holder may take
    again (a session opened inside another). threading.Lock is not fair: a thread that
    releases it and asks again at once (filing email after email) gets it back before a thread
    that has been waiting, so the others (sending, fetching) would wait for the whole batch."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: deque[object] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return True
            ticket = object()
            self._waiting.append(ticket)
            if not self._changed.wait_for(partial(self._next, ticket), timeout):
                self._waiting.remove(ticket)
                self._changed.notify_all()
                return False
            self._waiting.popleft()
            self._owner, self._depth = me, 1
            return True

    def _next(self, ticket: object) -> bool:
        return self._owner is None and self._waiting[0] is ticket

    def release(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._changed.notify_all()


class Store:
    """The database handle passed to every step; sessions are short and explicit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)
        self._readers = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        # SQLite has one writer at a time. Between processes it makes the others wait in its
        # busy handler, which sleeps in growing steps (up to 100 ms) and so leaves the file idle
        # after each commit; between the threads of one process (the poll's fetching, filing
        # and sending) this lock hands the turn over at once, in the order asked.
        self._writing: Turns | None = Turns() if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, url: str) -> Store:
        engine = open_engine(url)
        try:
            prepare(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._turn(), self._factory() as session, session.begin():
            yield session

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This thread's turn to write, among the threads of this process (SQLite only)."""
        lock = self._writing
        if lock is None:
            yield
            return
        # Never waits for ever: past the wait, SQLite's busy timeout says what it always did.
        held = lock.acquire(timeout=LOCAL_WAIT_SECONDS)
        try:
            yield
        finally:
            if held:
                lock.release()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for looking only: on SQLite it does not take the write lock, so many can
        read at once beside a writer. Anything it changes is rolled back, never committed."""
        with self._readers() as session, session.begin():
            yield session
            session.rollback()

    def transaction(self, work: Callable[[Session], T], *, attempts: int = ATTEMPTS) -> T:
        """Run `work` in a transaction of its own and commit; run it again from the start, in
        a fresh transaction, when the database chose it to lose a serialization failure or a
        deadlock with a concurrent writer (at most `attempts` times in all).

        `work` must be safe to repeat: everything it did in the database was rolled back,
        so it reads afresh and decides again.
        """
        attempt = 1
        while True:
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as exc:
                if attempt >= attempts or not is_retryable(exc):
                    raise
                wait = FIRST_WAIT * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                sqlstate = getattr(exc.orig, "sqlstate", None)
                log.info("transaction lost to another (%s); again in %.2fs", sqlstate, wait)
                time.sleep(wait)
                attempt += 1

    def close(self) -> None:
        self.engine.dispose()


def is_retryable(exc: DBAPIError) -> bool:
    """Whether the database asks for the transaction to be run again (see RETRYABLE_SQLSTATES)."""
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
