"""A service asked to stop (`app.stop`, set by SIGTERM in `masp run`) ends a LibreOffice batch
at once, records nothing against its documents, and leaves their jobs due for the next tick."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.errors import Stopped
from pipeline.jobs import run_due
from pipeline.outputs.convert import Source, conversion_jobs, office_to_pdf
from pipeline.store.models import Conversion, JobRun
from tests.helpers import open_service
from tests.outputs.test_convert import with_one_referral

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def running_with(profile: Path) -> bytes:
    return subprocess.run(["pgrep", "-f", str(profile)], capture_output=True, check=False).stdout


def test_a_stop_kills_libreoffice_part_way_and_cleans_up(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    profile = app.config.data_path / "soffice-profile"
    # Half a minute of LibreOffice's work, after a short document it finishes first.
    sources = [
        Source("a" * 64, "office", "docx", samples.chronology(rows=3)),
        Source("b" * 64, "office", "docx", samples.chronology(rows=3000)),
    ]
    stop = threading.Event()
    threading.Timer(3.0, stop.set).start()
    began = time.monotonic()
    with pytest.raises(Stopped, match="stopped part-way because the service is stopping"):
        office_to_pdf(app.config, sources, stop)
    took = time.monotonic() - began
    assert 3.0 <= took < 5.0, took
    # LibreOffice and its helpers are gone; its profile (with the lock it left) too, and the
    # working copies of the documents.
    assert running_with(profile) == b""
    assert not profile.exists()
    assert list((app.config.data_path / "work").iterdir()) == []
    # A stop already asked for starts no LibreOffice at all.
    with pytest.raises(Stopped):
        office_to_pdf(app.config, sources[:1], stop)
    assert not profile.exists()
    # The next call makes a fresh profile and converts.
    made = office_to_pdf(app.config, sources[:1])["a" * 64]
    assert isinstance(made, bytes) and made.startswith(b"%PDF")
    app.close()


def test_conversion_jobs_stopped_are_not_failed_and_run_at_the_next_tick(tmp_path: Path) -> None:
    app = with_one_referral(tmp_path)
    app.stop.set()
    stopped = run_due(app, [conversion_jobs])
    # Every job left as it was: none done, none failed, none recorded.
    assert len(stopped.stopped) == 4 and not stopped.done and not stopped.failed
    with app.store.session() as session:
        assert list(session.scalars(select(Conversion))) == []
        assert list(session.scalars(select(JobRun))) == []
    app.stop.clear()
    again = run_due(app, [conversion_jobs])
    assert len(again.done) == 4 and not again.failed and not again.stopped
    with app.store.session() as session:
        assert set(session.scalars(select(Conversion.status))) == {"done"}
    app.close()
