"""`masp db copy`: the configured store copied into a new, empty database (how an installation
moves from SQLite to PostgreSQL): the schema, then every table in foreign-key order, streamed in
batches, then the id sequences moved past the copied rows; one transaction on the target, so a
copy that fails leaves it as empty as it found it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    URL,
    Column,
    Connection,
    Engine,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from pipeline.config import Config
from pipeline.errors import StoreError
from pipeline.store import heartbeat
from pipeline.store.db import (
    CREATE_LOCK,
    HEAD_REVISION,
    READ_ONLY,
    SchemaError,
    Store,
    _sqlite_file,
    check_revision,
    create_schema,
    open_engine,
    schema_revision,
)
from pipeline.store.locks import mailbox_poll_lock
from pipeline.store.models import AuditEvent, Base

# Rows read from the source and written to the target at a time: memory stays flat however
# large the store is.
BATCH = 1000
# A poll or tick this recent means something still works on the store: `masp run` ticks every
# minute, and so does a cron `masp tick`.
QUIET = timedelta(minutes=2)
SUPPORTED = ("postgresql", "sqlite")
URL_SHAPE = "postgresql+psycopg://USER@HOST:5432/NAME"
AUDIT_ACTION = "store-copied"
UNDONE = ": the target was rolled back and is left empty; the configured database is unchanged"


class CopyRefused(StoreError):
    """The copy cannot begin as things stand; the message says what to put right."""


@dataclass(frozen=True)
class Copied:
    """What a copy did: the target (without its password), each table's rows in the order
    copied, and how long it took."""

    target: str
    tables: tuple[tuple[str, int], ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.tables)


def shown(url: URL) -> str:
    """`url` as it may be printed: never with its password."""
    # URL.set() takes None for "leave as it is": the named tuple's own replace empties it.
    return url._replace(password=None).render_as_string(hide_password=False)


def target_url(given: str) -> URL:
    """The --to URL, parsed, or a refusal that says how to write one (never echoing it: it may
    hold a password)."""
    try:
        url = make_url(given)
    except ArgumentError:
        raise CopyRefused(
            f"--to is not a database URL: write it as {URL_SHAPE} "
            "(the password left out: psycopg reads it from PGPASSWORD or ~/.pgpass)"
        ) from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED:
        raise CopyRefused(
            f"--to names a {backend} database: copy into PostgreSQL ({URL_SHAPE}) "
            "or a new SQLite file (sqlite:////path/to/masp.sqlite)"
        )
    if not url.database or url.database == ":memory:":
        raise CopyRefused(f"--to {shown(url)} names no database: write it as {URL_SHAPE}")
    return url


def copy_store(config: Config, to: URL, now: datetime, *, force: bool = False) -> Copied:
    """Copy the configured store into the empty database at `to` and check every table's rows.

    Refused (CopyRefused) if the store is not at this masp's schema, if the service seems to be
    working on it (unless `force`), or if `to` cannot be reached or is not empty.
    """
    began = time.monotonic()
    source = _open_source(config)
    try:
        _check_source(source)
        target = _open_target(to)
        try:
            # The target first: the URL is put right while the service still runs.
            with _connected(target, "the target") as connection:
                _check_empty(connection, to)
            if not force:
                check_idle(config, Store(source), now)
            tables = _copy(source, target, to, now)
        finally:
            target.dispose()
    finally:
        source.dispose()
    return Copied(shown(to), tables, time.monotonic() - began)


def _open_source(config: Config) -> Engine:
    path = _sqlite_file(config.database_url)
    # Opening a SQLite file that is not there would create an empty one: say so instead.
    if path is not None and not path.exists():
        raise CopyRefused(
            f"there is no database at {path} to copy: check data_dir and database in "
            "config.yaml (or MASP_DATABASE)"
        )
    return open_engine(config.database_url)


def _check_source(source: Engine) -> None:
    with _connected(source, "the configured database") as connection:
        found = schema_revision(connection)
    if found is None:
        raise CopyRefused(
            f"the configured database {shown(source.url)} holds no masp schema: nothing to copy"
        )
    try:
        check_revision(found)
    except SchemaError as exc:
        raise CopyRefused(f"cannot copy: {exc}") from exc


def check_idle(config: Config, store: Store, now: datetime) -> None:
    """Refuse while the service works on `store`: mail filed there after the copy began would
    be missing from the copy. `masp run` holds the mailbox's poll lock for as long as it runs."""
    lock = mailbox_poll_lock(store, config)
    try:
        free = lock.acquire()
    finally:
        lock.release()
    beat = heartbeat.read(store)
    stop = (
        "stop `masp run` first (systemctl stop masp, on every machine that runs a worker), "
        "so that no mail is filed into the old store after the copy"
    )
    if not free:
        who = beat.poller or "a worker"
        raise CopyRefused(f"the service is running: {who} is polling the mailbox; {stop}")
    seen = [when for when in (beat.last_poll_at, beat.last_tick_at) if when is not None]
    # A time after `now` was written with --now in the future: it says nothing about now.
    if seen and timedelta(0) <= now - max(seen) < QUIET:
        ago = int((now - max(seen)).total_seconds())
        raise CopyRefused(
            f"the store was polled or ticked {ago} seconds ago: the service (or a cron "
            f"`masp poll` or `masp tick`) appears to be running; {stop}, then wait two "
            "minutes, or add --force if you know nothing else uses it"
        )


def _open_target(to: URL) -> Engine:
    try:
        return open_engine(to.render_as_string(hide_password=False))
    except (ImportError, NoSuchModuleError):
        raise CopyRefused(
            f"the driver for {to.drivername} is not installed: write the URL as {URL_SHAPE} "
            "(psycopg 3, installed with pip install 'masp-pipeline[postgres]')"
        ) from None
    except OSError as exc:
        raise CopyRefused(f"cannot create the SQLite file {to.database}: {exc.strerror}") from None


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database}"
    host = url.host or "the local socket"
    return f"the database {url.database} on {host} port {url.port or 5432} (as user {url.username})"


@contextmanager
def _connected(engine: Engine, what: str) -> Iterator[Connection]:
    """A connection to `engine`, or a refusal naming the server (never the password)."""
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())
        password = engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        raise CopyRefused(
            f"cannot reach {what}, {_where(engine.url)}: {reason}; check the URL, that the "
            "server runs and that the database exists (createdb --owner USER NAME)"
        ) from None
    with connection:
        yield connection


def _copy(source: Engine, target: Engine, to: URL, now: datetime) -> tuple[tuple[str, int], ...]:
    try:
        return _copy_within(source, target, to, now)
    except DBAPIError as exc:
        raise StoreError(f"the copy failed ({_reason(exc)}){UNDONE}") from exc


def _copy_within(
    source: Engine, target: Engine, to: URL, now: datetime
) -> tuple[tuple[str, int], ...]:
    """Everything written to the target, in one transaction."""
    with _connected(target, "the target") as into, into.begin():
        if into.dialect.name == "postgresql":
            # A worker started against the new database would create the schema: wait for it
            # (and then refuse the non-empty database) rather than race it.
            into.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK})
        _check_empty(into, to)
        create_schema(into)
        with _snapshot(source) as read:
            expected = {t.name: _count(read, t) for t in Base.metadata.sorted_tables}
            copied = tuple(
                (t.name, _copy_table(read, into, t)) for t in Base.metadata.sorted_tables
            )
        _move_sequences(into)
        _verify(into, expected, copied)
        into.execute(
            insert(AuditEvent).values(
                at=now,
                case_id=None,
                action=AUDIT_ACTION,
                detail={
                    "from": source.dialect.name,
                    "schema": HEAD_REVISION,
                    "tables": len(copied),
                    "rows": sum(rows for _, rows in copied),
                },
            )
        )
    return copied


def _check_empty(connection: Connection, to: URL) -> None:
    tables = sorted(inspect(connection).get_table_names())
    if tables:
        listed = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
        raise CopyRefused(
            f"{_where(to)} is not empty (it has {len(tables)} tables: {listed}): copy into a "
            "new, empty database (e.g. createdb --owner masp masp_new); nothing was changed"
        )


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction on the source: every table as it stood at one moment. On SQLite it
    takes no write lock (WAL), on PostgreSQL it is a repeatable-read snapshot."""
    options: dict[str, Any] = (
        {READ_ONLY: True}
        if engine.dialect.name == "sqlite"
        else {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    )
    with _connected(engine, "the configured database") as connection:
        connection.execution_options(**options)
        with connection.begin():
            yield connection


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _self_references(table: Table) -> list[Column[Any]]:
    """Columns pointing at another row of the same table (a case linked to another): copied
    empty first and filled in afterwards, since the row pointed at may come later."""
    return [c for c in table.columns if any(fk.column.table is table for fk in c.foreign_keys)]


def _copy_table(source: Connection, target: Connection, table: Table) -> int:
    """Stream `table` from `source` into `target` in batches; the number of rows copied."""
    later = _self_references(table)
    # (column, row's key, the row it points at) for each self-reference set aside: a few ints
    # per linked row, not the rows themselves.
    links: list[tuple[str, Any, Any]] = []
    rows = source.execute(
        select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)
    )
    copied = 0
    try:
        for batch in rows.partitions():
            values = [dict(row._mapping) for row in batch]
            for value in values:
                links.extend(_set_aside(table, value, later))
            target.execute(insert(table), values)
            copied += len(values)
        for column in later:
            _put_back(target, table, column, [(k, to) for c, k, to in links if c == column.name])
    except DBAPIError as exc:
        raise StoreError(f"copying the table {table.name} failed ({_reason(exc)}){UNDONE}") from exc
    return copied


def _set_aside(
    table: Table, value: dict[str, Any], later: Sequence[Column[Any]]
) -> list[tuple[str, Any, Any]]:
    """Empty `value`'s self-references; what they held, to be put back once every row is in."""
    if not later:
        return []
    [key] = table.primary_key.columns
    taken = []
    for column in later:
        if value[column.name] is not None:
            taken.append((column.name, value[key.name], value[column.name]))
            value[column.name] = None
    return taken


def _put_back(
    target: Connection, table: Table, column: Column[Any], links: list[tuple[Any, Any]]
) -> None:
    if not links:
        return
    [key] = table.primary_key.columns
    statement = (
        update(table).where(key == bindparam("b_key")).values({column.name: bindparam("b_to")})
    )
    target.execute(statement, [{"b_key": k, "b_to": to} for k, to in links])


def _reason(exc: DBAPIError) -> str:
    """The database's own short reason (PostgreSQL's primary message, which quotes no row's
    values), else the error's kind."""
    diag = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
    return str(diag or type(exc.orig).__name__)


def _move_sequences(connection: Connection) -> None:
    """On PostgreSQL, move each id sequence past the largest id copied: rows were inserted with
    their ids, so the sequences never moved, and the next new row would collide."""
    if connection.dialect.name != "postgresql":
        # SQLite gives a new row the largest id so far plus one: nothing to move.
        return
    for table in Base.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        )
        if sequence is None:
            continue
        largest = connection.scalar(select(func.max(column))) or 0
        connection.execute(
            text("SELECT setval(:sequence, :next, false)"),
            {"sequence": sequence, "next": int(largest) + 1},
        )


def _verify(
    connection: Connection, expected: dict[str, int], copied: tuple[tuple[str, int], ...]
) -> None:
    """Every table holds as many rows on the target as on the source, or the copy is undone."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    for name, rows in copied:
        there = _count(connection, tables[name])
        if not rows == there == expected[name]:
            raise StoreError(
                f"the table {name} has {expected[name]} rows in the configured database but "
                f"{there} in the copy{UNDONE}"
            )
