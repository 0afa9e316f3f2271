"""The store: migrations match the models, instants round-trip as UTC, the ledger refuses copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pipeline.store.db import Store, _alembic_config, open_engine
from pipeline.store.models import Base, Message


def test_migrations_build_the_same_schema_as_the_models(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    engine.dispose()


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


def test_times_come_back_aware_utc_and_locations_are_unique(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
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
