"""R5: a referral forwarded by someone else (a duty desk) is answered to the referrer named on
the form, the forwarder in copy, from the acknowledgement on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.service import run_due_jobs
from tests.helpers import drop, open_service, sent_mail, sent_to, status_of, status_rows

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
# The 24-hour reminder before the December deadline (Tuesday 1 December, noon).
AT_24H = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SCHOOL = samples.Child()
DUTY = "duty.desk@council.example.org"
REFERENCE = "MASP-2026-0001"
ALLOWED = ["example.org", "school.example.org", "council.example.org"]


def forwarded_referral(child: samples.Child) -> samples.Mail:
    files = [f for f in samples.full_referral(child) if f.filename != "Chronology.docx"]
    inner = samples.Mail(f"{child.referrer_name} <{child.referrer_email}>", "Referral", files=files)
    return samples.forwarded(inner, by=f"Duty Desk <{DUTY}>")


def service(folder: Path, now: datetime = NOW) -> App:
    return open_service(folder, now, limits__allowed_recipient_domains=ALLOWED)


def test_the_named_referrer_is_answered_and_the_forwarder_copied(tmp_path: Path) -> None:
    app = service(tmp_path)
    drop(app, forwarded_referral(SCHOOL), NOW)
    poll(app)
    case = status_of(app, REFERENCE)
    assert case["referrer"] == SCHOOL.referrer_email
    assert case["forwarded_by"] == DUTY
    [ack] = sent_mail(app)
    assert ack.message["To"] == SCHOOL.referrer_email
    assert ack.message["Cc"] == DUTY
    assert SCHOOL.referrer_email in ack.to and DUTY in ack.to
    assert "referral received" in ack.subject
    app.close()
    # Everything after the acknowledgement goes the same way: here, the 24-hour reminder.
    app = service(tmp_path, AT_24H)
    run_due_jobs(app)
    reminder = sent_mail(app)[-1]
    assert "reminder" in reminder.subject.lower()
    assert reminder.message["To"] == SCHOOL.referrer_email and reminder.message["Cc"] == DUTY
    app.close()


def test_the_forwarder_may_still_send_with_the_reference(tmp_path: Path) -> None:
    app = service(tmp_path)
    drop(app, forwarded_referral(SCHOOL), NOW)
    poll(app)
    chronology = samples.File("Chronology.docx", samples.DOCX, samples.chronology())
    more = samples.Mail(f"Duty Desk <{DUTY}>", f"{REFERENCE} chronology", files=[chronology])
    drop(app, more, NOW + timedelta(hours=1))
    poll(app)
    [case] = status_rows(app)
    assert case["state"] == "complete"
    update = sent_mail(app)[-1]
    assert update.message["To"] == SCHOOL.referrer_email and update.message["Cc"] == DUTY
    app.close()


def test_a_referrer_at_an_address_we_may_not_write_to_is_not_answered(tmp_path: Path) -> None:
    app = service(tmp_path)
    drop(app, forwarded_referral(samples.Child(referrer_email="jo.example@gmail.com")), NOW)
    poll(app)
    case = status_of(app, REFERENCE)
    assert case["referrer"] == DUTY and case["forwarded_by"] is None
    assert any("not an allowed" in flag for flag in case["flags"])
    assert sent_to(app, "jo.example@gmail.com") == []
    [ack] = sent_to(app, DUTY)
    assert ack.message["Cc"] is None
    app.close()


def test_a_referrer_writing_for_themselves_is_not_copied(tmp_path: Path) -> None:
    app = service(tmp_path)
    sender = f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>"
    drop(app, samples.Mail(sender, "Referral", files=samples.full_referral(SCHOOL)), NOW)
    poll(app)
    [ack] = sent_mail(app)
    assert ack.message["To"] == SCHOOL.referrer_email and ack.message["Cc"] is None
    assert status_of(app, REFERENCE)["forwarded_by"] is None
    app.close()
