"""The store: migrations match the models, instants round-trip as UTC, the ledger refuses copies
(each on the store under test: SQLite, or PostgreSQL on the second pass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pipeline.store.db import (
    HEAD_REVISION,
    SchemaError,
    Store,
    _alembic_config,
    open_engine,
    schema_revision,
)
from pipeline.store.models import Base, Message


def test_migrations_build_the_same_schema_as_the_models(empty_store_url: str) -> None:
    engine = open_engine(empty_store_url)
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    engine.dispose()


@pytest.mark.sqlite_only
def test_sqlite_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def message(uid: str, when: datetime) -> Message:
    return Message(
        backend="imap",
        folder="INBOX",
        uidvalidity=7,
        uid=uid,
        message_id="m@x",
        body_sha256="b" * 64,
        sha256="a" * 64,
        size=1,
        received_at=when,
        stored_at=when,
        raw_path="raw/x",
        status="new",
    )


def test_times_come_back_aware_utc_and_locations_are_unique(empty_store_url: str) -> None:
    store = Store.open(empty_store_url)
    bst = timezone(timedelta(hours=1))
    with store.session() as session:
        session.add(message("1", datetime(2026, 6, 1, 12, 0, tzinfo=bst)))
    with store.session() as session:
        row = session.get(Message, 1)
        assert row is not None and row.received_at == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
        assert row.received_at.tzinfo is UTC
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(message("1", datetime(2026, 6, 1, tzinfo=UTC)))
    store.close()


def test_the_head_revision_constant_is_the_newest_migration(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert ScriptDirectory.from_config(_alembic_config(engine)).get_current_head() == HEAD_REVISION
    engine.dispose()


def test_a_new_database_is_created_and_stamped_at_the_head(empty_store_url: str) -> None:
    store = Store.open(empty_store_url)
    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == HEAD_REVISION
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    store.close()


def test_an_older_schema_is_refused_and_left_as_it_was(empty_store_url: str) -> None:
    url = empty_store_url
    engine = open_engine(url)
    command.upgrade(_alembic_config(engine), "0004_fixintake")
    engine.dispose()
    with pytest.raises(SchemaError) as refused:
        Store.open(url)
    assert str(refused.value) == (
        f"the database is at 0004_fixintake and this masp needs {HEAD_REVISION}; "
        "run `masp db upgrade` (it backs up first)"
    )
    engine = open_engine(url)
    with engine.connect() as connection:
        assert schema_revision(connection) == "0004_fixintake"
    engine.dispose()
