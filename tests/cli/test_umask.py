"""The `masp` process makes what it creates owner-only, whatever umask it was started with."""

from __future__ import annotations

import mailbox
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import yaml

from pipeline import samples
from tests.helpers import config_tree, masp, store_url

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_poll_started_with_a_permissive_umask_writes_private_files(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config_tree()))
    (tmp_path / "mail").mkdir()
    inbox = mailbox.Maildir(str(tmp_path / "mail" / "inbox"), create=True)
    inbox.add(samples.Mail("Jo <jo@school.example.org>", "Referral", body="Please help").as_bytes())
    # The child inherits this umask, as from a login shell or a cron job.
    previous = os.umask(0o022)
    try:
        result = masp("--config", str(tmp_path / "config.yaml"), "--now", NOW.isoformat(), "poll")
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    written = [*(tmp_path / "data").rglob("*"), *(tmp_path / "mail" / "sent").rglob("*")]
    # On the PostgreSQL pass the store is no file of ours; the mail and documents still are.
    assert any(path.name == "masp.sqlite" for path in written) == (store_url() is None)
    assert any(path.parent.name == "new" for path in written), "nothing was sent"
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"
