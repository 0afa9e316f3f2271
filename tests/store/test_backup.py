"""Backups and restores: a snapshot taken while a poll runs restores whole on another data_dir."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.config import Config, parse_config
from pipeline.errors import StoreError
from pipeline.intake.poll import poll
from pipeline.panel.retention import purge_leftovers
from pipeline.store.backup import back_up, restore
from pipeline.store.models import Case, Document, ScreeningRequest
from tests.helpers import config_tree, drop, numbered_referral, open_service, sent_mail
from tests.panel.test_screening import MANAGER, answer, referral, reply, tick_only

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
# The signing key generated into data_dir (not set in the config), so the backup must carry it.
OWN_KEY = {"security__signing_key": ""}


def config_for(folder: Path) -> Config:
    folder.mkdir(exist_ok=True)
    return parse_config(config_tree(folder, **OWN_KEY), folder, env={})


def screened_service(folder: Path) -> App:
    """A referral whose screening request has gone to the manager, then three more waiting."""
    folder.mkdir()
    app = open_service(folder, NOW, **OWN_KEY)
    drop(app, referral(), NOW - timedelta(hours=2))
    poll(app)
    tick_only(app)
    for n in range(3):
        drop(app, numbered_referral("B", n), NOW - timedelta(minutes=50 - n))
    return app


def backup_during_a_poll(folder: Path, target: Path) -> App:
    """Back up while another handle on the same data_dir (as `masp run` would be) polls."""
    app = screened_service(folder)
    poller = open_service(folder, NOW, **OWN_KEY)
    thread = threading.Thread(target=poll, args=(poller,))
    thread.start()
    try:
        back_up(app.config, target, NOW)
    finally:
        thread.join()
        poller.close()
    return app


def test_a_backup_taken_during_a_poll_restores_cases_documents_and_tokens(tmp_path: Path) -> None:
    first = backup_during_a_poll(tmp_path / "a", tmp_path / "backup")
    [request] = [s for s in sent_mail(first) if MANAGER in s.to]
    first.close()

    restore(config_for(tmp_path / "b"), tmp_path / "backup")
    second = open_service(tmp_path / "b", NOW, **OWN_KEY)
    with second.store.session() as session:
        documents = list(session.scalars(select(Document)))
        school = session.scalars(select(Case).order_by(Case.id)).first()
    assert school is not None and school.state == "screening"
    assert documents and all(second.files.read(d.stored_path) for d in documents)

    # The manager answers the email sent before the backup: its token still applies.
    answer(second, reply(request, "APPROVE"))
    with second.store.session() as session:
        assert session.get(Case, school.id).state == "approved"  # type: ignore[union-attr]
        [used] = session.scalars(
            select(ScreeningRequest).where(ScreeningRequest.used_at.is_not(None))
        )
        assert used.case_id == school.id
    second.close()


def test_the_daily_sweep_after_a_restore_deletes_only_what_no_row_points_at(
    tmp_path: Path,
) -> None:
    backup_during_a_poll(tmp_path / "a", tmp_path / "backup").close()
    restore(config_for(tmp_path / "b"), tmp_path / "backup")
    app = open_service(tmp_path / "b", NOW, **OWN_KEY)
    stray = app.files.root / "raw" / "ff" / ("f" * 64 + ".eml")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not any row's")
    # Every file old enough for the sweep to consider it.
    long_ago = time.time() - 3 * 24 * 3600
    for path in app.files.root.rglob("*"):
        os.utime(path, (long_ago, long_ago))
    with app.store.session() as session:
        purge_leftovers(app, session)
    with app.store.session() as session:
        documents = list(session.scalars(select(Document)))
    assert documents and all(app.files.read(d.stored_path) for d in documents)
    assert not stray.exists()
    app.close()


def test_restore_refuses_a_data_dir_in_use_without_force(tmp_path: Path) -> None:
    first = screened_service(tmp_path / "a")
    back_up(first.config, tmp_path / "backup", NOW)
    first.close()
    (tmp_path / "b").mkdir()
    open_service(tmp_path / "b", NOW, **OWN_KEY).close()
    with pytest.raises(StoreError, match="is not empty: restore into an empty one, or add --force"):
        restore(config_for(tmp_path / "b"), tmp_path / "backup")
    restore(config_for(tmp_path / "b"), tmp_path / "backup", force=True)
    app = open_service(tmp_path / "b", NOW, **OWN_KEY)
    with app.store.session() as session:
        assert session.scalars(select(Case)).first() is not None
    app.close()


def test_restore_refuses_a_damaged_backup(tmp_path: Path) -> None:
    first = screened_service(tmp_path / "a")
    back_up(first.config, tmp_path / "backup", NOW)
    first.close()
    document = min((tmp_path / "backup" / "files" / "documents").glob("*/*"))
    document.write_bytes(b"changed")
    relative = document.relative_to(tmp_path / "backup").as_posix()
    with pytest.raises(StoreError, match=f"damaged: {relative} does not match its sha256"):
        restore(config_for(tmp_path / "b"), tmp_path / "backup")
    assert not (tmp_path / "b" / "data").exists()


def test_a_postgresql_backup_without_pg_dump_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    tree = config_tree(database="postgresql+psycopg://masp@localhost/masp")
    config = parse_config(tree, tmp_path, env={})
    with pytest.raises(StoreError, match="pg_dump is not installed: install PostgreSQL's client"):
        back_up(config, tmp_path / "backup", NOW)
