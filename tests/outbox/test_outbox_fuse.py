"""The rate fuse counts per exact address (issue 9, item 9), and recipients are stored as a
list of exact addresses, one row each, never a comma string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import select, text

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.store.db import _alembic_config, open_engine
from pipeline.store.models import OutboxItem, OutboxRecipient
from tests.helpers import drop, open_service, sent_mail
from tests.panel.test_screening import referral, tick_only

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
MANAGER = "sm@example.org"


def test_look_alike_addresses_do_not_trip_the_managers_fuse(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    limit = app.config.limits.max_sends_per_recipient_per_hour
    # Each answer goes to an address that merely contains the manager's (and '%', '_').
    for i in range(limit):
        sender = f"{MANAGER}.{i}.attacker.example"
        drop(app, samples.Mail(sender, f"Hello {i}", body="Hi"), NOW - timedelta(minutes=30))
    drop(app, samples.Mail("sm_example.org@x.example", "Hi", body="Hi"), NOW)
    drop(app, referral(), NOW - timedelta(minutes=20))
    poll(app)
    tick_only(app)
    with app.store.session() as session:
        held = session.scalars(select(OutboxItem).where(OutboxItem.status == "held")).all()
        assert held == []
    requests = [s for s in sent_mail(app) if s.to == MANAGER]
    assert len(requests) == 1 and "referral to screen" in requests[0].subject
    app.close()


def test_the_managers_own_flood_still_trips_the_fuse(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, limits__max_sends_per_recipient_per_hour=2)
    for i in range(3):
        drop(app, samples.Mail(f"S Manager <{MANAGER}>", f"Q {i}", body="Hi"), NOW)
    poll(app)
    with app.store.session() as session:
        statuses = session.scalars(select(OutboxItem.status).order_by(OutboxItem.id)).all()
        assert statuses == ["sent", "sent", "held"]
    app.close()


def test_recipients_are_stored_one_exact_address_a_row(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    child = samples.Child(section20=True)
    drop(app, referral(child), NOW)
    poll(app)
    with app.store.session() as session:
        query = select(OutboxItem).where(OutboxItem.template == "section20_alert")
        [alert] = session.scalars(query)
        assert alert.addresses == ["admin@example.org", "chair@example.org"]
        rows = session.scalars(
            select(OutboxRecipient.address).where(OutboxRecipient.outbox_id == alert.id)
        )
        assert sorted(rows) == ["admin@example.org", "chair@example.org"]
    app.close()


def test_the_migration_splits_old_comma_strings_into_rows_and_back(empty_store_url: str) -> None:
    engine = open_engine(empty_store_url)
    config = _alembic_config(engine)
    command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox (purpose, message_id, template, recipients, subject, "
                "raw_path, status, attempts, next_attempt_at, created_at) VALUES ('p', 'm', "
                "'pack', 'Chair@example.org, m@example.org', 's', 'r', 'sent', 1, "
                "'2026-11-29 09:00:00', '2026-11-29 09:00:00')"
            )
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT address FROM outbox_recipients ORDER BY id"))
        assert [r[0] for r in rows] == ["chair@example.org", "m@example.org"]
    command.downgrade(config, "0001")
    with engine.connect() as connection:
        joined = connection.execute(text("SELECT recipients FROM outbox")).scalar_one()
        assert joined == "chair@example.org, m@example.org"
    engine.dispose()
