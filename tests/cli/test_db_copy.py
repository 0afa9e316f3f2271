"""`masp db copy`: an installation's store moved into a new, empty database (SQLite to
PostgreSQL), and each refusal as the administrator sees it."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command
from sqlalchemy import func, select

from pipeline.config import parse_config
from pipeline.store import heartbeat
from pipeline.store.copy import AUDIT_ACTION
from pipeline.store.db import Store, _alembic_config, open_engine
from pipeline.store.models import AuditEvent, Base, Case
from tests.helpers import child_env, config_tree, masp, numbered_referral
from tests.postgres import STORE_ENV
from tests.servers import free_port

# After the demo's story (its last poll is in April 2027): a new referral is filed then.
LATER = "2027-04-20T09:00:00+01:00"
TABLES = len(Base.metadata.sorted_tables)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite installation filled by the real intake: `masp demo`'s whole panel cycle (five
    referrals, screening, a meeting, decisions, follow-ups), kept."""
    folder = tmp_path_factory.mktemp("copy") / "demo"
    # The demo's own configuration names no database: it keeps SQLite in its data_dir on
    # either pass (no MASP_DATABASE given to it).
    env = {k: v for k, v in child_env(["demo"]).items() if k != "MASP_DATABASE"}
    made = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", "--keep", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture
def on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installations this test makes keep their store in SQLite, on either pass: it is
    the SQLite store that is copied."""
    monkeypatch.setenv(STORE_ENV, "sqlite")


def status(config: Path) -> list[dict[str, Any]]:
    shown = masp("--config", str(config), "--now", LATER, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    listed: list[dict[str, Any]] = json.loads(shown.stdout)
    return listed


def pointed_at(demo: Path, url: str) -> Path:
    """A second configuration of the same installation (same data_dir), on `url`."""
    tree = yaml.safe_load((demo / "config.yaml").read_text())
    tree["database"] = url
    config = demo / "config-moved.yaml"
    config.write_text(yaml.safe_dump(tree))
    return config


@pytest.mark.pg_native
@pytest.mark.usefixtures("on_sqlite")
def test_the_demo_moves_to_postgresql_and_numbers_on_without_a_collision(
    demo: Path, empty_pg: str
) -> None:
    before = status(demo / "config.yaml")
    assert [c["reference"] for c in before] == [f"MASP-2027-000{n}" for n in range(1, 6)]

    # The test server trusts loopback and ignores a password: given one, it is never printed.
    with_password = empty_pg.replace("postgres@", "postgres:Sup3r-secret@")
    copied = masp("--config", str(demo / "config.yaml"), "db", "copy", "--to", with_password)
    assert copied.returncode == 0, copied.stderr
    assert "Sup3r-secret" not in copied.stdout + copied.stderr
    assert f"Copied {TABLES} tables, " in copied.stdout
    assert "every table has as many rows there as here" in copied.stdout
    assert f"database: {empty_pg}" in copied.stdout
    assert f"documents and packs under {demo / 'data'}, which the new" in copied.stdout
    assert "Leave the password out: psycopg reads PGPASSWORD" in copied.stdout

    moved = pointed_at(demo, empty_pg)
    assert status(moved) == before
    # The copy is in the new store's audit trail.
    engine = open_engine(empty_pg)
    with engine.connect() as connection:
        [(detail,)] = connection.execute(
            select(AuditEvent.detail).where(AuditEvent.action == AUDIT_ACTION)
        ).all()
    engine.dispose()
    assert detail["from"] == "sqlite" and detail["tables"] == TABLES and detail["rows"] > 100

    # A new referral filed on PostgreSQL: the reference counter and every id sequence carry on
    # from the copied rows (a collision would fail the filing and quarantine the email).
    box = mailbox.Maildir(str(demo / "mail" / "inbox"), create=True)
    key = box.add(numbered_referral("moved", 6).as_bytes())
    # Received in 2027, as the mail server would stamp it: numbered in the demo's year.
    received = datetime.fromisoformat(LATER).timestamp()
    os.utime(demo / "mail" / "inbox" / "new" / key, (received, received))
    polled = masp("--config", str(moved), "--now", LATER, "poll")
    assert polled.returncode == 0, polled.stderr + polled.stdout
    after = status(moved)
    assert [c["reference"] for c in after] == [c["reference"] for c in before] + ["MASP-2027-0006"]
    assert after[-1]["referrer"] == "ref6@school.example.org"
    assert after[:5] == before
    # The old store is as it was: the copy only read it.
    assert status(demo / "config.yaml") == before


@pytest.mark.pg_native
@pytest.mark.usefixtures("on_sqlite")
def test_a_database_that_is_not_empty_is_refused_and_left_alone(demo: Path, pg_url: str) -> None:
    refused = masp("--config", str(demo / "config.yaml"), "db", "copy", "--to", pg_url)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "is not empty (it has " in refused.stderr
    assert "copy into a new, empty database" in refused.stderr
    assert "nothing was changed" in refused.stderr
    store = Store.open(pg_url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
    store.close()


def installation(folder: Path, **overrides: Any) -> Path:
    """A fresh installation in `folder` on this pass's store; its config file."""
    folder.mkdir(exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(config_tree(folder, **overrides)))
    made = masp("--config", str(config), "tick")
    assert made.returncode == 0, made.stderr
    return config


def test_an_unreachable_or_malformed_target_is_refused_without_the_password(
    tmp_path: Path,
) -> None:
    config = installation(tmp_path / "site")
    port = free_port()
    away = f"postgresql+psycopg://masp:Sup3r-secret@127.0.0.1:{port}/masp"
    refused = masp("--config", str(config), "db", "copy", "--to", away)
    assert refused.returncode == 2
    said = refused.stdout + refused.stderr
    assert f"cannot reach the target, the database masp on 127.0.0.1 port {port}" in said
    assert "Connection refused" in said
    assert "Sup3r-secret" not in said and "Traceback" not in said

    garbled = masp("--config", str(config), "db", "copy", "--to", "masp:Sup3r-secret@db")
    assert garbled.returncode == 2
    assert "--to is not a database URL: write it as postgresql+psycopg://" in garbled.stderr
    assert "Sup3r-secret" not in garbled.stderr
    nameless = masp("--config", str(config), "db", "copy", "--to", away.rsplit("/", 1)[0])
    assert nameless.returncode == 2
    assert f"--to postgresql+psycopg://masp@127.0.0.1:{port} names no database" in nameless.stderr
    assert "Sup3r-secret" not in nameless.stderr
    other = masp("--config", str(config), "db", "copy", "--to", "mysql://masp@127.0.0.1/masp")
    assert other.returncode == 2 and "--to names a mysql database" in other.stderr


def test_a_store_behind_this_masp_is_refused_until_upgraded(
    tmp_path: Path, empty_store_url: str
) -> None:
    tree = config_tree()
    tree["database"] = empty_store_url
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree))
    engine = open_engine(empty_store_url)
    command.upgrade(_alembic_config(engine), "0004_fixintake")
    engine.dispose()
    target = tmp_path / "copy.sqlite"
    refused = masp("db", "copy", "--to", f"sqlite:///{target}", cwd=tmp_path)
    assert refused.returncode == 2
    assert "cannot copy: the database is at 0004_fixintake" in refused.stderr
    assert "run `masp db upgrade`" in refused.stderr
    assert not target.exists()


def test_a_running_service_is_refused_unless_forced(tmp_path: Path) -> None:
    config = installation(tmp_path / "site")
    env = child_env(["--config", str(config), "run"])
    env["COLUMNS"] = "400"
    service = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    target = tmp_path / "copy.sqlite"
    copy = ("--config", str(config), "db", "copy", "--to", f"sqlite:///{target}")
    try:
        poller = _first_poll(config, service)
        refused = masp(*copy)
        assert refused.returncode == 2, refused.stdout
        assert f"the service is running: {poller} is polling the mailbox" in refused.stderr
        assert "stop `masp run` first" in refused.stderr
        assert "so that no mail is filed into the old store after the copy" in refused.stderr
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
    # Stopped a moment ago: its last poll is too recent to be sure nothing else runs.
    recent = masp(*copy)
    assert recent.returncode == 2
    assert "appears to be running" in recent.stderr and "add --force" in recent.stderr
    forced = masp(*copy, "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"Copied {TABLES} tables" in forced.stdout


def _first_poll(config: Path, service: subprocess.Popen[bytes]) -> str:
    """Wait for the service's first poll (it holds the mailbox's lock from then on); the
    worker it names."""
    settings = parse_config(yaml.safe_load(config.read_text()), config.parent, env={})
    store = Store.open(settings.database_url)
    try:
        deadline = time.monotonic() + 60
        while (poller := heartbeat.read(store).poller) is None:
            assert service.poll() is None, service.stderr.read() if service.stderr else ""
            assert time.monotonic() < deadline, "masp run did not poll within 60 s"
            time.sleep(0.1)
    finally:
        store.close()
    return poller
