"""Opens the database: SQLite in WAL mode with foreign keys under `data_dir`, or PostgreSQL."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.orm import Session, sessionmaker

from pipeline.disk import DIR_MODE, FILE_MODE, PRIVATE_UMASK
from pipeline.errors import StoreError
from pipeline.store.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


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


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so two processes wait for each other instead of failing
    # with 'database is locked' half-way through a transaction.
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
    engine = create_engine(url, future=True)
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


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version.

    A brand-new database is created from the models in one step and stamped, which is
    quicker than replaying every migration; a test proves both routes give the same schema.
    """
    from alembic import command

    try:
        cfg = _alembic_config(engine)
        if not inspect(engine).get_table_names():
            Base.metadata.create_all(engine)
            command.stamp(cfg, "head")
        else:
            command.upgrade(cfg, "head")
    except Exception as exc:
        raise StoreError(f"could not prepare the database {engine.url!r}: {exc}") from exc


class Store:
    """The database handle passed to every step; sessions are short and explicit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        engine = open_engine(url)
        migrate(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._factory() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
