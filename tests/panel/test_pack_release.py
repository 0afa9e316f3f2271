"""R12, R17: with `pack.release: manual` a meeting's pack waits for the administrator's word that
the agenda is final (`masp meeting release`); with auto (the default) it goes by itself."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.cli import app as cli
from pipeline.config import parse_config
from pipeline.errors import ConfigError
from pipeline.intake.poll import poll
from pipeline.store.models import AuditEvent, PackRelease
from tests.helpers import config_tree, drop, open_service, sent_to
from tests.panel.test_reminders import tick_at

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# The slot notices go at 10:00 on 3 December; the pack is due ten minutes later.
PACK_DUE = datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
CHILD = samples.Child()
REF = "MASP-2026-0001"


def masp(folder: Path, now: datetime, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", now.isoformat(), *args])


def packs_to_admin(folder: Path, now: datetime) -> list[str]:
    app = open_service(folder, now, pack__release="manual")
    found = [s.subject for s in sent_to(app, "admin@example.org") if "meeting pack" in s.subject]
    app.close()
    return found


@pytest.fixture
def approved(tmp_path: Path) -> Path:
    """A complete referral, approved, before the December slot notices; packs are manual."""
    app = open_service(tmp_path, RECEIVED, pack__release="manual")
    sender = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
    drop(app, samples.Mail(sender, "Referral", files=samples.full_referral(CHILD)), RECEIVED)
    poll(app)
    app.close()
    done = masp(tmp_path, RECEIVED + timedelta(hours=1), "screen", REF, "approve")
    assert done.exit_code == 0, done.output
    tick_at(tmp_path, PACK_DUE - timedelta(minutes=10), pack__release="manual").close()
    return tmp_path


def test_a_manual_pack_waits_for_its_release(approved: Path) -> None:
    tick_at(approved, PACK_DUE, pack__release="manual").close()
    tick_at(approved, PACK_DUE + timedelta(days=1), pack__release="manual").close()
    assert packs_to_admin(approved, PACK_DUE) == []
    # The decisions workbook goes with the pack: it waits too.
    app = open_service(approved, PACK_DUE, pack__release="manual")
    to_admin = sent_to(app, "admin@example.org")
    assert not [s for s in to_admin if "workbook" in s.subject.lower()]
    # The administrator is told, once, that the pack waits for them, and how to release it.
    [waiting] = [s for s in to_admin if "waiting for you to release it" in s.subject]
    assert "8 December 2026" in waiting.subject
    assert "masp meeting release masp 2026-12-08" in waiting.text()
    app.close()


def test_release_sends_the_pack_once(approved: Path) -> None:
    later = PACK_DUE + timedelta(hours=2)
    done = masp(approved, later, "meeting", "release", "masp", "2026-12-08")
    assert done.exit_code == 0, done.output
    assert "released; it has been sent" in done.output
    [pack] = packs_to_admin(approved, later)
    assert "8 December 2026" in pack
    tick_at(approved, later + timedelta(minutes=1), pack__release="manual").close()
    app = open_service(approved, later, pack__release="manual")
    subjects = [s.subject.lower() for s in sent_to(app, "admin@example.org")]
    assert len([s for s in subjects if "workbook" in s]) == 1, subjects
    app.close()
    tick_at(approved, later + timedelta(minutes=5), pack__release="manual").close()
    assert len(packs_to_admin(approved, later)) == 1
    app = open_service(approved, later, pack__release="manual")
    with app.store.session() as session:
        [release] = session.scalars(select(PackRelease))
        assert release.released_by == f"cli:{getpass.getuser()}"
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "pack-released"))
        assert event.detail["by"] == release.released_by and event.detail["panel"] == "masp"
    app.close()
    again = masp(approved, later, "meeting", "release", "masp", "2026-12-08")
    assert again.exit_code == 1 and "already released" in str(again.exception)


def test_release_before_the_notices_waits_for_them(approved: Path) -> None:
    early = PACK_DUE - timedelta(days=1)
    done = masp(approved, early, "meeting", "release", "masp", "2026-12-08")
    assert done.exit_code == 0, done.output
    assert "it goes when it is due" in done.output
    assert packs_to_admin(approved, early) == []
    tick_at(approved, PACK_DUE, pack__release="manual").close()
    assert len(packs_to_admin(approved, PACK_DUE)) == 1
    app = open_service(approved, PACK_DUE, pack__release="manual")
    assert not [s for s in sent_to(app, "admin@example.org") if "waiting for you" in s.subject]
    app.close()


def test_release_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    open_service(tmp_path, RECEIVED).close()
    auto = masp(tmp_path, RECEIVED, "meeting", "release", "masp", "2026-12-08")
    assert auto.exit_code == 1 and "pack.release is auto" in str(auto.exception)
    open_service(tmp_path, RECEIVED, pack__release="manual").close()
    for day, why in (("2026-12-09", "does not meet"), ("2026-11-10", "has started")):
        refused = masp(tmp_path, RECEIVED, "meeting", "release", "masp", day)
        assert refused.exit_code == 1 and why in str(refused.exception)


def test_pack_release_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pack\.release"):
        parse_config(config_tree(pack__release="sometimes"), tmp_path, env={})
