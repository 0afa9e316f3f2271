"""SPEC §7 retention: working copies are deleted when their time is up, and only then.

A whole life on the maildir back-end: a quarantined email, a referral whose genogram is the
very same file as a later referral's, an auto-reply; then the clock moves past each retention
period and the files on disk, the database and `masp status` are checked.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.outputs.status import one_case
from pipeline.panel.jobs import run_due
from pipeline.panel.retention import REMOVED, retention_jobs
from pipeline.store.models import (
    AuditEvent,
    Case,
    Conversion,
    Document,
    Message,
    OutboxItem,
    Pack,
    PackSend,
)
from tests.helpers import drop, open_service

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEEP, QUARANTINE = 400, 90
FIRST = samples.Child(name="Ash Retained", referrer_email="one@school.example.org")
SECOND = samples.Child(name="Bay Retained", referrer_email="two@school.example.org")


def referral(child: samples.Child) -> samples.Mail:
    return samples.Mail(child.referrer_email, "Referral", files=samples.full_referral(child))


def at(folder: Path, when: datetime, **overrides: object) -> App:
    return open_service(folder, when, **overrides)


def files_of(app: App, reference: str) -> dict[str, list[Path]]:
    """Every file a case's rows point at, by kind of row (absolute paths)."""
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        documents = [d.stored_path for d in case.documents]
        conversions = session.scalars(
            select(Conversion.pdf_path).where(
                Conversion.source_sha256.in_([d.sha256 for d in case.documents])
            )
        )
        outbox = session.scalars(select(OutboxItem.raw_path).where(OutboxItem.case_id == case.id))
        found = {
            "documents": documents,
            "emails": [m.raw_path for m in case.messages],
            "conversions": [p for p in conversions if p],
            "sent": list(outbox),
        }
    return {kind: [app.files.absolute(p) for p in paths] for kind, paths in found.items()}


def purge(app: App) -> list[str]:
    done = run_due(app, [retention_jobs])
    assert not done.failed
    return done.done


def test_working_copies_are_purged_when_their_time_is_up_and_not_before(tmp_path: Path) -> None:
    # T0: an email too large for the inbox (quarantined), a referral, an auto-reply.
    app = at(tmp_path, T0, limits__max_email_bytes=20_000)
    drop(app, referral(samples.Child(name="Cy Quarantined")), T0)
    poll(app)
    app.close()
    app = at(tmp_path, T0)
    drop(app, referral(FIRST), T0 + timedelta(minutes=1))
    auto = samples.Mail("three@school.example.org", "Out of office", body="Away until Monday.")
    auto.headers["Auto-Submitted"] = "auto-replied"
    drop(app, auto, T0 + timedelta(minutes=2))
    poll(app)
    with app.store.session() as session:
        quarantined, loose = (
            session.scalars(select(Message).where(Message.case_id.is_(None)).order_by(Message.id))
        ).all()
        assert quarantined.status == "quarantined" and loose.status == "ignored"
        quarantined_raw = app.files.absolute(quarantined.raw_path)
        loose_raw = app.files.absolute(loose.raw_path)
        case = session.scalars(select(Case)).one()
        # The case is last "active" on the day of the meeting it is listed for.
        first, first_meeting = case.reference, case.meeting
        assert first_meeting is not None and first_meeting > T0
        # The genogram's PDF for the pack, as the conversion job leaves it.
        genogram = session.scalars(select(Document).where(Document.kind == "genogram")).one()
        _, pdf = app.files.put("conversions", b"%PDF-1.4 converted genogram", ".pdf")
        session.add(
            Conversion(
                source_sha256=genogram.sha256, pdf_path=pdf, status="done", pages=1, created_at=T0
            )
        )
    first_files = files_of(app, first)
    assert all(path.exists() for paths in first_files.values() for path in paths)
    assert first_files["conversions"] and first_files["sent"]
    assert purge(app) == []
    app.close()

    # A day past the quarantine period: only the quarantined email goes.
    app = at(tmp_path, T0 + timedelta(days=QUARANTINE + 1))
    assert purge(app) == [f"purge:email:{quarantined.id}"]
    assert not quarantined_raw.exists() and loose_raw.exists()
    with app.store.session() as session:
        row = session.get(Message, quarantined.id)
        assert row is not None and (row.status, row.raw_path, row.error) == ("purged", "", None)
    app.close()
    then = (T0 + timedelta(days=QUARANTINE + 1)).isoformat()
    config = str(tmp_path / "config.yaml")
    command = ["quarantine", "replay", str(quarantined.id)]
    replay = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", config, "--now", then, *command],
        capture_output=True,
        text=True,
        check=False,
    )
    assert replay.returncode == 1
    assert "deleted after the retention period" in replay.stdout + replay.stderr

    # 300 days on, a second referral: its genogram is byte for byte the first one's.
    app = at(tmp_path, T0 + timedelta(days=300))
    drop(app, referral(SECOND), T0 + timedelta(days=300))
    poll(app)
    with app.store.session() as session:
        later = session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert later is not None and later.meeting is not None
        second, second_meeting = later.reference, later.meeting
    second_files = files_of(app, second)
    shared = set(first_files["documents"]) & set(second_files["documents"])
    assert shared, "the samples share their genogram picture"
    app.close()

    # A day before the first case's time is up only the auto-reply goes (it had no meeting);
    # a day after, the case is purged.
    app = at(tmp_path, first_meeting + timedelta(days=KEEP - 1))
    assert purge(app) == [f"purge:email:{loose.id}"]
    assert not loose_raw.exists()
    app.close()
    app = at(tmp_path, first_meeting + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:case:1"]
    assert purge(app) == [], "a purge is done once"
    for kind, paths in first_files.items():
        for path in paths:
            # What the second case still uses stays; everything else of the first case goes.
            assert path.exists() == (path in shared or kind == "conversions"), (kind, path)
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == first)).one()
        assert case.fields == {} and case.child_key is None and "purged" in case.flags
        assert {(d.filename, d.stored_path, str(d.fields)) for d in case.documents} == {
            (REMOVED, "", "{}")
        }
        shown = one_case(app, session, first)
        assert shown["reference"] == first and shown["state"] == case.state
        assert "Ash" not in str(shown)
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "purged", AuditEvent.case_id == case.id)
        ).all()
        assert len(events) == 1 and events[0].detail["files"] > 0
        # The record of what was sent to whom stays.
        assert session.scalars(select(OutboxItem).where(OutboxItem.case_id == case.id)).all()
    assert all(path.exists() for paths in files_of(app, second).values() for path in paths)
    app.close()

    # When the second case's time is up too, the shared genogram and its PDF go with it.
    app = at(tmp_path, second_meeting + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:case:2"]
    assert not any(path.exists() for paths in second_files.values() for path in paths)
    assert not any(path.exists() for path in first_files["conversions"])
    app.close()


def test_a_pack_goes_when_its_meeting_is_that_long_past(tmp_path: Path) -> None:
    meeting = datetime(2026, 2, 10, 10, 0, tzinfo=UTC)
    app = at(tmp_path, meeting)
    _, path = app.files.put("packs", b"%PDF-1.4 a whole pack", ".pdf")
    with app.store.session() as session:
        pack = Pack(
            panel_id="masp",
            meeting=meeting,
            version=1,
            inputs_sha256="0" * 64,
            stored_path=path,
            pages=1,
            references=["MASP-2026-0001"],
            created_at=meeting,
        )
        session.add(pack)
        session.flush()
        session.add(PackSend(pack_id=pack.id, recipient="chair@example.org", sent_at=meeting))
    app.close()
    app = at(tmp_path, meeting + timedelta(days=KEEP - 1))
    assert purge(app) == [] and app.files.absolute(path).exists()
    app.close()
    app = at(tmp_path, meeting + timedelta(days=KEEP + 1))
    assert purge(app) == [f"purge:pack:{pack.id}"]
    assert not app.files.absolute(path).exists()
    with app.store.session() as session:
        stored = session.get(Pack, pack.id)
        assert stored is not None and stored.stored_path == ""
        # Who received it, and when, is still on record.
        assert session.scalars(select(PackSend.recipient)).all() == ["chair@example.org"]
    app.close()
