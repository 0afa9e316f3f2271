"""Intake end to end on the maildir back-end: cases, documents, answers and the ledger."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline import samples
from pipeline.app import App
from pipeline.intake import filing
from pipeline.intake.poll import poll
from pipeline.mime.message import ParsedEmail, parse_email
from pipeline.outputs.status import all_cases, one_case
from pipeline.store.models import Case, Document, Message, OutboxItem
from tests.helpers import Sent, drop, open_service, sent_mail

# Two days before the December 2026 deadline (Tuesday 1 December, noon GMT).
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SCHOOL = samples.Child()
REFERRER = f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    yield app
    app.close()


def referral(child: samples.Child = SCHOOL, **kwargs: Any) -> samples.Mail:
    sender = f"{child.referrer_name} <{child.referrer_email}>"
    return samples.Mail(sender, "Referral for panel", files=samples.full_referral(child), **kwargs)


def cases(service: App) -> list[dict[str, Any]]:
    with service.store.session() as session:
        return all_cases(service.config, session)


def to(service: App, address: str) -> list[Sent]:
    return [s for s in sent_mail(service) if address in s.to]


def test_complete_referral_gets_one_acknowledgement(service: App) -> None:
    drop(service, referral(), NOW - timedelta(hours=1))
    poll(service)
    poll(service)
    [case] = cases(service)
    assert case["state"] == "complete"
    assert case["meeting"] == "2026-12-08"
    assert case["missing"] == []
    kinds = sorted(d["kind"] for d in case["documents"])
    assert kinds == ["assessment", "chronology", "genogram", "referral_form"]
    [ack] = to(service, SCHOOL.referrer_email)
    assert case["reference"] in ack.subject and "complete" in ack.subject
    body = ack.text()
    assert "Tuesday 8 December 2026, 10:00" in body
    assert "Tuesday 1 December 2026, 12:00" in body
    assert ack.message["Auto-Submitted"] == "auto-replied"
    assert ack.message["X-Auto-Response-Suppress"] == "All"
    assert ack.attachment_names() == []


def test_missing_chronology_then_reply_completes_the_case(service: App) -> None:
    files = [f for f in samples.full_referral(SCHOOL) if f.filename != "Chronology.docx"]
    drop(service, samples.Mail(REFERRER, "Referral", files=files), NOW)
    poll(service)
    [case] = cases(service)
    assert case["missing"] == ["chronology"]
    [ack] = to(service, SCHOOL.referrer_email)
    assert "Chronology" in ack.text().split("Still needed")[1]
    reply = samples.Mail(
        REFERRER,
        f"Re: {ack.subject}",
        in_reply_to=ack.message_id,
        message_id="<reply-1@school.example.org>",
        files=[samples.File("chron.docx", samples.DOCX, samples.chronology())],
    )
    drop(service, reply, NOW + timedelta(minutes=5))
    poll(service)
    [case] = cases(service)
    assert case["state"] == "complete" and case["missing"] == []
    update = to(service, SCHOOL.referrer_email)[-1]
    assert "now complete" in update.subject
    assert update.message["In-Reply-To"] == "<reply-1@school.example.org>"


def test_reference_in_subject_adds_to_the_case_and_newer_supersedes(service: App) -> None:
    drop(service, referral(), NOW)
    poll(service)
    reference = cases(service)[0]["reference"]
    again = samples.Mail(
        REFERRER,
        f"{reference} updated chronology",
        files=[samples.File("Chronology v2.docx", samples.DOCX, samples.chronology(20))],
    )
    drop(service, again, NOW + timedelta(hours=1))
    poll(service)
    [case] = cases(service)
    chronologies = [d for d in case["documents"] if d["kind"] == "chronology"]
    assert [(d["version"], d["superseded"]) for d in chronologies] == [(1, True), (2, False)]


def test_forged_thread_id_does_not_join_a_case(service: App) -> None:
    drop(service, referral(), NOW)
    poll(service)
    [ack] = to(service, SCHOOL.referrer_email)
    forged_id = ack.message_id.replace("MASP-2026-0001", "MASP-2026-0099")
    other = samples.Child(name="Dee Invented", referrer_email="dee@example.org")
    drop(service, referral(other, in_reply_to=forged_id), NOW)
    poll(service)
    assert [c["reference"] for c in cases(service)] == ["MASP-2026-0001", "MASP-2026-0002"]


def test_out_of_office_and_bounce_are_stored_not_answered(service: App) -> None:
    drop(service, referral(), NOW)
    poll(service)
    [ack] = to(service, SCHOOL.referrer_email)
    drop(service, samples.out_of_office(ack.message_id, REFERRER, ack.subject), NOW)
    bounce = samples.Mail(
        "MAILER-DAEMON@mx.example.org",
        "Undelivered Mail Returned to Sender",
        body="This is the mail system. Delivery failed.",
    )
    drop(service, bounce, NOW)
    before = len(sent_mail(service))
    poll(service)
    assert len(sent_mail(service)) == before
    with service.store.session() as session:
        rows = session.scalars(select(Message).where(Message.status == "ignored")).all()
        assert sorted(str(r.category) for r in rows) == ["auto_reply", "bounce"]
        ooo = next(r for r in rows if r.category == "auto_reply")
        assert ooo.case is not None and ooo.case.reference == "MASP-2026-0001"


def test_email_without_attachments_gets_the_blank_form(service: App) -> None:
    drop(service, samples.Mail(REFERRER, "How do I refer?", body="Hello, how do I refer?"), NOW)
    poll(service)
    [reply] = to(service, SCHOOL.referrer_email)
    assert "How to refer" in reply.subject
    assert reply.attachment_names() == ["MASP-referral-form.docx"]
    assert cases(service) == []


def test_late_referral_goes_to_the_next_meeting(service: App) -> None:
    deadline = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    drop(service, referral(), deadline + timedelta(seconds=1))
    poll(service)
    [case] = cases(service)
    assert case["meeting"] == "2027-01-12"
    assert "after the deadline" in to(service, SCHOOL.referrer_email)[0].text()


def test_section20_alerts_administrator_and_chair(service: App) -> None:
    child = samples.Child(section20=True, request_types=("section20",), genogram_required=True)
    drop(service, referral(child), NOW)
    poll(service)
    [alert] = [s for s in sent_mail(service) if "Section 20" in s.subject]
    assert "admin@example.org" in alert.to and "chair@example.org" in alert.to
    with service.store.session() as session:
        assert one_case(service.config, session, "MASP-2026-0001")["fields"]["section20"] is True


def test_same_child_twice_is_linked_not_merged(service: App) -> None:
    drop(service, referral(), NOW)
    drop(service, referral(samples.Child(referrer_email="other@example.org")), NOW + timedelta(1))
    poll(service)
    first, second = cases(service)
    assert second["flags"] == [f"same child as {first['reference']}"]


def test_too_large_attachment_is_refused_with_a_reason(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, limits__max_attachment_bytes=20_000)
    big = samples.File("assessment.pdf", samples.PDF, b"%PDF-1.4\n" + b"0" * 30_000)
    drop(app, samples.Mail(REFERRER, "Referral", files=[big]), NOW)
    poll(app)
    [case] = cases(app)
    [document] = case["documents"]
    assert document["status"] == "refused" and "too large" in document["reason"]
    assert "too large" in to(app, SCHOOL.referrer_email)[0].text()
    app.close()


def test_oversized_email_is_quarantined_then_replayed(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, limits__max_email_bytes=20_000)
    drop(app, referral(), NOW)
    poll(app)
    assert cases(app) == []
    [told] = to(app, SCHOOL.referrer_email)
    assert "too large" in told.subject
    assert any("quarantine replay" in s.text() for s in to(app, "admin@example.org"))
    app.close()
    app = open_service(tmp_path, NOW)
    with app.store.session() as session:
        row_id = session.scalar(select(Message.id).where(Message.status == "quarantined"))
    assert row_id is not None
    report = filing.replay(app, row_id)
    assert report.cases == ["MASP-2026-0001"]
    app.close()


def test_a_crash_in_one_email_quarantines_only_that_email(service: App, monkeypatch) -> None:
    real = parse_email

    def fragile(raw: bytes) -> ParsedEmail:
        if b"Explosive" in raw:
            raise RuntimeError("parser failure injected by the test")
        return real(raw)

    monkeypatch.setattr(filing, "parse_email", fragile)
    drop(service, samples.Mail(REFERRER, "Explosive", files=samples.full_referral(SCHOOL)), NOW)
    drop(service, referral(samples.Child(name="Noa Sample")), NOW + timedelta(seconds=1))
    report = poll(service)
    assert report.filing.quarantined == 1 and report.filing.filed == 1
    assert len(cases(service)) == 1
    assert any(
        "passed to the administrator" in s.subject for s in to(service, SCHOOL.referrer_email)
    )
    with service.store.session() as session:
        row = session.scalar(select(Message).where(Message.status == "quarantined"))
        assert row is not None and "parser failure injected" in (row.error or "")
        assert Path(service.files.absolute(row.raw_path)).read_bytes().find(b"Explosive") > 0


def test_rate_fuse_holds_a_runaway(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, limits__max_sends_per_recipient_per_hour=2)
    for i in range(3):
        drop(app, samples.Mail(REFERRER, f"Question {i}", body="Hello"), NOW + timedelta(seconds=i))
    poll(app)
    assert len(to(app, SCHOOL.referrer_email)) == 2
    with app.store.session() as session:
        held = session.scalars(select(OutboxItem).where(OutboxItem.status == "held")).all()
        assert len(held) == 1 and "rate fuse" in (held[0].hold_reason or "")
    app.close()


def test_files_are_private_and_logs_name_no_one(service: App, caplog) -> None:
    caplog.set_level("DEBUG")
    drop(service, referral(), NOW)
    poll(service)
    data = service.config.data_path
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"
    assert SCHOOL.name not in caplog.text and SCHOOL.referrer_email not in caplog.text
    with service.store.session() as session:
        assert session.scalar(select(func.count(Document.id))) == 4
        assert session.scalar(select(func.count(Case.id))) == 1


def test_acknowledgement_lists_what_the_form_leaves_unanswered(service: App) -> None:
    from pipeline.documents.form import fill_form

    form = fill_form({"child_name": "Lou Pretend", "referrer_name": "Jo Example"})
    files = [
        samples.File("Referral form.docx", samples.DOCX, form),
        *samples.full_referral(SCHOOL)[1:],
    ]
    drop(service, samples.Mail(REFERRER, "Referral", files=files), NOW)
    poll(service)
    [ack] = to(service, SCHOOL.referrer_email)
    unanswered = ack.text().split("does not yet say")[1]
    assert "date of birth" in unanswered and "consent" in unanswered
    assert "child's name" not in unanswered


def test_chronology_problems_are_reported_not_fixed(service: App) -> None:
    from docx import Document as WordDocument

    document = WordDocument()
    document.add_heading("Chronology", level=1)
    table = document.add_table(rows=1, cols=3)
    for cell, title in zip(table.rows[0].cells, ("Date", "Event", "Source"), strict=True):
        cell.text = title
    for when, event in (("03/02/2025", "Visit"), ("31/02/2025", "Meeting"), ("01/01/2027", "Plan")):
        cells = table.add_row().cells
        cells[0].text, cells[1].text, cells[2].text = when, event, "School"
    buffer = __import__("io").BytesIO()
    document.save(buffer)
    chron = samples.File("chronology.docx", samples.DOCX, buffer.getvalue())
    files = [f for f in samples.full_referral(SCHOOL) if f.filename != "Chronology.docx"]
    drop(service, samples.Mail(REFERRER, "Referral", files=[*files, chron]), NOW)
    poll(service)
    with service.store.session() as session:
        case = one_case(service.config, session, "MASP-2026-0001")
    [chronology] = [d for d in case["documents"] if d["kind"] == "chronology"]
    notes = " ".join(chronology["notes"])
    # The clock reads November 2026: January 2027 is in the future; 31 February never is.
    assert "'01/01/2027' is in the future" in notes
    assert "31/02/2025" in notes
