"""Several readers (`limits.readers`, issue 14): the attachments of one poll are read by that
many processes side by side, and the emails are still filed one by one in arrival order, each
exactly as one reader files it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.app import App
from pipeline.config import parse_config
from pipeline.documents.pool import ReaderPool
from pipeline.errors import ConfigError
from pipeline.intake.poll import poll
from pipeline.store.models import Case
from tests.helpers import ROOT, config_tree, drop, numbered_referral, open_service, sent_mail

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
COUNT = 6


def _filed(app: App) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The run's cases (the last COUNT: in the PostgreSQL pass both runs share a database), in
    reference order: each one's referrer and documents (name, kind, status)."""
    with app.store.session() as session:
        cases = session.query(Case).order_by(Case.reference).all()[-COUNT:]
        return [
            (case.referrer_email, sorted((d.filename, d.kind, d.status) for d in case.documents))
            for case in cases
        ]


def _run(folder: Path, readers: int) -> tuple[list[Any], list[str], set[int]]:
    folder.mkdir()
    app = open_service(folder, NOW, limits__readers=readers)
    try:
        for n in range(1, COUNT + 1):
            # A minute apart: the order they arrived in is the order they must be filed in.
            drop(app, numbered_referral("Reader", n), NOW + timedelta(minutes=n))
        report = poll(app)
        assert report.filing.filed == COUNT and report.filing.quarantined == 0
        pids: set[int] = set()
        if isinstance(app.documents, ReaderPool):
            pids = {reader.pid for reader in app.documents.readers if reader.pid is not None}
        acknowledged = [mail.to for mail in sent_mail(app) if "referral received" in mail.subject]
        return _filed(app), acknowledged, pids
    finally:
        app.close()


def test_two_readers_file_in_order_exactly_as_one_reader_does(tmp_path: Path) -> None:
    one, one_acks, _ = _run(tmp_path / "one", readers=1)
    two, two_acks, pids = _run(tmp_path / "two", readers=2)
    assert two == one
    # Filed in the order received: referral n is case n.
    assert [referrer for referrer, _docs in two] == [
        f"ref{n}@school.example.org" for n in range(1, COUNT + 1)
    ]
    assert all(docs for _referrer, docs in two)
    assert sorted(two_acks[-COUNT:]) == sorted(one_acks[-COUNT:]) and len(one_acks) >= COUNT
    # Both readers were started and used: two processes.
    assert len(pids) == 2


def test_readers_are_refused_beyond_twice_the_processors() -> None:
    tree = config_tree(limits__readers=2 * (os.cpu_count() or 1) + 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == "limits.readers"
    assert "twice this machine's processors" in str(caught.value)
    tree = config_tree(limits__readers=0)
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == "limits.readers"
