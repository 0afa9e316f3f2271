"""SPEC §7 retention: working copies are deleted when their time is up, and only then.

A whole life on the maildir back-end: a quarantined email, a referral whose genogram is the
very same file as a later referral's, an auto-reply; then the clock moves past each retention
period and the files on disk, the database, `masp status` and a late email are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.errors import StoreError
from pipeline.intake.poll import poll
from pipeline.jobs import run_due
from pipeline.outputs.status import one_case
from pipeline.panel.cutoff import cutoff_jobs
from pipeline.panel.retention import REMOVED, retention_jobs
from pipeline.states import CaseState
from pipeline.store.files import FileStore
from pipeline.store.models import (
    AuditEvent,
    Case,
    Conversion,
    Document,
    Message,
    OutboxItem,
    OutboxRecipient,
    Pack,
    PackSend,
    ScreeningRequest,
    Slot,
)
from tests.helpers import drop, open_service

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEEP, QUARANTINE = 400, 90
FIRST = samples.Child(name="Ash Retained", referrer_email="one@school.example.org")
SECOND = samples.Child(name="Bay Retained", referrer_email="two@school.example.org")


def referral(child: samples.Child, subject: str = "Referral") -> samples.Mail:
    return samples.Mail(child.referrer_email, subject, files=samples.full_referral(child))


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


def sent_about_no_case(app: App) -> list[Path]:
    with app.store.session() as session:
        paths = session.scalars(select(OutboxItem.raw_path).where(OutboxItem.case_id.is_(None)))
        return [app.files.absolute(path) for path in paths if path]


def age_files(app: App) -> None:
    """Make every stored file two days old on disk, as files are long before a purge.

    (A file stored in the last day is never deleted: it may be a new row's, not committed yet.)
    """
    old = time.time() - 2 * 24 * 3600
    for path in app.files.root.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


DAILY = ("purge:sent:", "purge:leftovers:")


def purge(app: App) -> list[str]:
    """The purges done now, but the two daily sweeps (due every day)."""
    age_files(app)
    done = run_due(app, [retention_jobs])
    assert not done.failed
    return sorted(key.rsplit(":", 1)[0] for key in done.done if not key.startswith(DAILY))


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
        first = session.scalars(select(Case.reference)).one()
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
    # The quarantine alert to the administrator and the note to the sender are about no case.
    no_case = sent_about_no_case(app)
    assert len(no_case) == 2
    assert purge(app) == []
    app.close()

    # A day past the quarantine period: only the quarantined email goes.
    app = at(tmp_path, T0 + timedelta(days=QUARANTINE + 1))
    assert purge(app) == ["purge:email"]
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
        second = session.scalars(select(Case.reference).order_by(Case.id.desc())).first()
    assert second is not None and second != first
    second_files = files_of(app, second)
    shared = set(first_files["documents"]) & set(second_files["documents"])
    assert shared, "the samples share their genogram picture"
    app.close()

    # The first case is still incomplete (no screening here), so each cut-off puts it forward
    # to the next meeting; that is not activity. A day before its time is up nothing happens;
    # a day after, it is purged and closed, with the auto-reply and the emails about no case.
    app = at(tmp_path, T0 + timedelta(days=KEEP - 1))
    assert purge(app) == []
    app.close()
    app = at(tmp_path, T0 + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:case:1", "purge:email"]
    assert purge(app) == [], "a purge is done once"
    for kind, paths in first_files.items():
        for path in paths:
            # What the second case still uses stays; everything else of the first case goes.
            assert path.exists() == (path in shared or kind == "conversions"), (kind, path)
    assert not loose_raw.exists()
    assert not any(path.exists() for path in no_case)
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == first)).one()
        assert case.fields == {} and case.child_key is None and "purged" in case.flags
        assert (case.state, case.meeting) == (CaseState.CLOSED, None)
        assert {(d.filename, d.stored_path, str(d.fields)) for d in case.documents} == {
            (REMOVED, "", "{}")
        }
        shown = one_case(app.config, session, first)
        assert shown["reference"] == first and shown["state"] == CaseState.CLOSED
        assert "Ash" not in str(shown)
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "purged", AuditEvent.case_id == case.id)
        ).all()
        assert len(events) == 1 and events[0].detail["unused_files"] > 0
        # The record of what was sent to whom stays.
        assert session.scalars(select(OutboxItem).where(OutboxItem.case_id == case.id)).all()
    assert all(path.exists() for paths in files_of(app, second).values() for path in paths)

    # A late email about the purged case is a new referral: a new case, the old one untouched.
    late = T0 + timedelta(days=KEEP + 1)
    drop(app, referral(FIRST, f"Re: {first} new documents"), late)
    poll(app)
    with app.store.session() as session:
        references = session.scalars(select(Case.reference).order_by(Case.id)).all()
        assert len(references) == 3 and references[-1] not in (first, second)
        old = session.scalars(select(Case).where(Case.reference == first)).one()
        assert {d.stored_path for d in old.documents} == {""}
    third_files = files_of(app, references[-1])
    app.close()

    # The second case's time is up: what the third still uses (the genogram, its PDF) stays.
    app = at(tmp_path, T0 + timedelta(days=300 + KEEP + 1))
    assert purge(app) == ["purge:case:2"]
    still_used = {*third_files["documents"], *third_files["conversions"]}
    for kind, paths in second_files.items():
        for path in paths:
            assert path.exists() == (path in still_used), (kind, path)
    assert all(path.exists() for path in first_files["conversions"])
    app.close()

    # And when the third's is up too, the genogram and its PDF go at last.
    app = at(tmp_path, late + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:case:3"]
    assert not any(path.exists() for paths in third_files.values() for path in paths)
    assert not any(path.exists() for path in first_files["conversions"])
    app.close()


def test_a_pack_goes_when_its_meeting_is_that_long_past(tmp_path: Path) -> None:
    meeting = datetime(2026, 2, 10, 10, 0, tzinfo=UTC)
    app = at(tmp_path, meeting)
    _, path = app.files.put("packs", b"%PDF-1.4 a whole pack", ".pdf")
    _, email = app.files.put("outbox", b"the email that carried it", ".eml")
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
        item = OutboxItem(
            purpose=f"pack:{pack.id}:chair@example.org:1",
            message_id="<pack@example.org>",
            template="pack",
            recipients=[OutboxRecipient(address="chair@example.org")],
            subject="meeting pack",
            raw_path=email,
            status="sent",
            next_attempt_at=meeting,
            # Written after the meeting (a reissue): the pack's purge is what takes it.
            created_at=meeting + timedelta(days=3),
        )
        session.add(item)
        session.flush()
        session.add(
            PackSend(
                pack_id=pack.id, recipient="chair@example.org", outbox_id=item.id, sent_at=meeting
            )
        )
    app.close()
    app = at(tmp_path, meeting + timedelta(days=KEEP - 1))
    assert purge(app) == [] and app.files.absolute(path).exists()
    app.close()
    app = at(tmp_path, meeting + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:pack"]
    assert not app.files.absolute(path).exists()
    assert not app.files.absolute(email).exists()
    with app.store.session() as session:
        stored = session.get(Pack, pack.id)
        assert stored is not None and stored.stored_path == ""
        # Who received it, and when, is still on record.
        assert session.scalars(select(PackSend.recipient)).all() == ["chair@example.org"]
        assert session.scalars(select(OutboxRecipient.address)).all() == ["chair@example.org"]
    app.close()


def test_a_file_stored_again_while_it_is_deleted_stays(tmp_path: Path) -> None:
    files = FileStore(tmp_path / "data")
    _, path = files.put("documents", b"the same bytes")
    target = files.absolute(path)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(target, (two_days_ago, two_days_ago))
    seen = files.stored_at_ns(path)
    assert seen is not None
    # Stored again (another row, another process) after the purge looked at it.
    files.put("documents", b"the same bytes")
    assert not files.delete_unless_touched(path, seen)
    assert target.read_bytes() == b"the same bytes"
    # Stored in the last day, before the purge looked: maybe for a row not committed yet.
    assert not files.delete_unless_touched(path, files.stored_at_ns(path) or 0)
    assert target.exists()
    os.utime(target, (two_days_ago, two_days_ago))
    assert files.delete_unless_touched(path, files.stored_at_ns(path) or 0)
    assert not target.exists() and files.stored_at_ns(path) is None
    with pytest.raises(StoreError, match="missing from data_dir"):
        files.read(path)
    # Gone, then stored again: written afresh.
    files.put("documents", b"the same bytes")
    assert target.read_bytes() == b"the same bytes"


def test_a_referral_put_forward_at_every_cut_off_is_still_purged_and_closed(
    tmp_path: Path,
) -> None:
    app = at(tmp_path, T0)
    form = samples.File("Referral form.docx", samples.DOCX, samples.referral_form(FIRST))
    drop(app, samples.Mail(FIRST.referrer_email, "Referral", files=[form]), T0)
    poll(app)
    app.close()
    # Incomplete: each cut-off puts it forward to the next meeting, for more than a year.
    for day in range(20, KEEP + 1, 14):
        app = at(tmp_path, T0 + timedelta(days=day))
        assert not run_due(app, [cutoff_jobs]).failed
        app.close()
    app = at(tmp_path, T0 + timedelta(days=KEEP + 1))
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.state == "incomplete" and case.meeting is not None
        assert case.meeting > T0 + timedelta(days=KEEP), "put forward past the period"
        deferred = session.scalars(select(AuditEvent).where(AuditEvent.action == "deferred"))
        assert len(deferred.all()) >= 12
    assert purge(app) == ["purge:case:1"]
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert (case.state, case.meeting) == (CaseState.CLOSED, None)
    app.close()


def test_a_case_given_a_meeting_time_is_kept_until_that_meeting_is_long_past(
    tmp_path: Path,
) -> None:
    meeting = T0 + timedelta(days=200)
    app = at(tmp_path, T0)
    drop(app, referral(FIRST), T0)
    poll(app)
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        # Screened and given a time, long after the referral came in.
        case.state, case.meeting = CaseState.APPROVED, meeting
        session.add(
            Slot(
                case_id=case.id,
                panel_id=case.panel_id,
                meeting=meeting,
                position=1,
                starts_at=meeting,
                ends_at=meeting + timedelta(minutes=30),
            )
        )
        session.add(
            ScreeningRequest(
                case_id=case.id, manager_email="sm@example.org", nonce="n" * 32, sent_at=T0
            )
        )
    app.close()
    app = at(tmp_path, T0 + timedelta(days=KEEP + 1))
    assert purge(app) == []
    app.close()
    app = at(tmp_path, meeting + timedelta(days=KEEP + 1))
    assert purge(app) == ["purge:case:1"]
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        # Its outcome stays; a late reply to the screening request cannot reopen it.
        assert case.state == "approved"
        assert session.scalars(select(ScreeningRequest.used_at)).one() is not None
    app.close()


def test_files_no_row_points_at_are_swept_a_day_on(tmp_path: Path) -> None:
    app = at(tmp_path, T0)
    drop(app, referral(FIRST), T0)
    poll(app)
    reference = one_reference(app)
    _, orphan = app.files.put("documents", b"stored, then the process died before its row")
    crashed = app.files.absolute(orphan).with_name(".half-written.123.tmp")
    crashed.write_bytes(b"half")
    _, elsewhere = app.files.put("agendas", b"an area no row points into")
    age_files(app)
    _, fresh = app.files.put("documents", b"stored a moment ago; its row may not be committed")
    kept = files_of(app, reference)
    done = run_due(app, [retention_jobs])
    assert not done.failed and "purge:leftovers:2026-01-05" in done.done
    assert not app.files.absolute(orphan).exists() and not crashed.exists()
    assert app.files.absolute(fresh).exists() and app.files.absolute(elsewhere).exists()
    assert all(path.exists() for paths in kept.values() for path in paths)
    with app.store.session() as session:
        assert all(path.exists() for path in sent_about_no_case(app))
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purged")).one()
        assert event.detail == {"leftover_files": 2}
    app.close()


def one_reference(app: App) -> str:
    with app.store.session() as session:
        return session.scalars(select(Case.reference)).one()
