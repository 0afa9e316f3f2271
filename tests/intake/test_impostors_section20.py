"""R7: a Section 20 emergency goes to the next meeting whatever the deadline, and says so; an
email that only mentions Section 20 is put to the administrator to confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.emergency import mentions_section20
from pipeline.intake.poll import poll
from tests.helpers import Sent, drop, open_service, sent_to, status_of

# Saturday 5 December 2026: after the deadline (Tuesday 1st, noon) for Tuesday 8th's meeting.
SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
NEXT_MEETING = "Tuesday 8 December 2026, 10:00"
EMERGENCY = samples.Child(section20=True, genogram_required=True)
ORDINARY = samples.Child()
REFERRER = f"{ORDINARY.referrer_name} <{ORDINARY.referrer_email}>"
REFERENCE = "MASP-2026-0001"


def refer(folder: Path, child: samples.Child, subject: str = "Referral", body: str = "") -> App:
    app = open_service(folder, SATURDAY)
    mail = samples.Mail(REFERRER, subject, files=samples.full_referral(child))
    drop(app, mail if not body else samples.Mail(REFERRER, subject, body, mail.files), SATURDAY)
    poll(app)
    return app


def masp(folder: Path, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", SATURDAY.isoformat(), *args])


def s20_alerts(app: App) -> list[Sent]:
    return [s for s in sent_to(app, "chair@example.org") if "Section 20" in s.subject]


def test_a_late_section20_referral_goes_to_the_next_meeting(tmp_path: Path) -> None:
    app = refer(tmp_path, EMERGENCY)
    assert status_of(app, REFERENCE)["meeting"] == "2026-12-08"
    [ack] = sent_to(app, ORDINARY.referrer_email)
    body = ack.text()
    assert NEXT_MEETING in body and "Section 20" in body
    assert "January" not in body and "after the deadline" not in body
    [alert] = s20_alerts(app)
    assert "admin@example.org" in alert.to
    said = alert.text()
    assert NEXT_MEETING in said and "after the document deadline" in said
    assert "It will now be screened" not in said and "Your referral" not in said
    app.close()


def test_a_later_form_saying_section20_brings_the_case_forward(tmp_path: Path) -> None:
    app = refer(tmp_path, ORDINARY)
    assert status_of(app, REFERENCE)["meeting"] == "2027-01-12"
    [ack] = sent_to(app, ORDINARY.referrer_email)
    form = samples.File("form v2.docx", samples.DOCX, samples.referral_form(EMERGENCY))
    reply = samples.Mail(REFERRER, f"Re: {ack.subject}", in_reply_to=ack.message_id, files=[form])
    drop(app, reply, SATURDAY + timedelta(hours=1))
    poll(app)
    case = status_of(app, REFERENCE)
    assert case["meeting"] == "2026-12-08" and case["section20"] is True
    [alert] = s20_alerts(app)
    assert NEXT_MEETING in alert.text()
    update = sent_to(app, ORDINARY.referrer_email)[-1]
    assert NEXT_MEETING in update.text() and "January" not in update.text()
    app.close()


def test_an_email_saying_s20_without_the_form_is_put_to_the_administrator(
    tmp_path: Path,
) -> None:
    app = refer(tmp_path, ORDINARY, subject="URGENT S20 referral")
    case = status_of(app, REFERENCE)
    # Not silently an emergency: no exemption and no chair alert until someone confirms it.
    assert case["section20"] is False and case["meeting"] == "2027-01-12"
    assert any("Section 20" in flag and "confirm" in flag for flag in case["flags"])
    assert s20_alerts(app) == []
    [question] = [s for s in sent_to(app, "admin@example.org") if "confirm" in s.subject]
    assert f"masp case section20 {REFERENCE}" in question.text()
    [ack] = sent_to(app, ORDINARY.referrer_email)
    assert "Section 20" in ack.text() and "confirm" in ack.text()
    app.close()
    done = masp(tmp_path, "case", "section20", REFERENCE)
    assert done.exit_code == 0, done.output
    app = open_service(tmp_path, SATURDAY)
    case = status_of(app, REFERENCE)
    assert case["section20"] is True and case["meeting"] == "2026-12-08"
    assert not any("to confirm" in flag for flag in case["flags"])
    assert "Section 20 confirmed by the administrator" in case["flags"]
    [alert] = s20_alerts(app)
    assert NEXT_MEETING in alert.text()
    told = sent_to(app, ORDINARY.referrer_email)[-1]
    assert "Section 20" in told.subject and NEXT_MEETING in told.text()
    app.close()


def test_the_administrator_can_say_it_is_not_section20(tmp_path: Path) -> None:
    refer(tmp_path, ORDINARY, body="Mum says this may become an S20.").close()
    done = masp(tmp_path, "case", "section20", REFERENCE, "--not")
    assert done.exit_code == 0, done.output
    app = open_service(tmp_path, SATURDAY)
    case = status_of(app, REFERENCE)
    assert case["section20"] is False and case["meeting"] == "2027-01-12"
    assert not any("Section 20" in flag for flag in case["flags"])
    assert s20_alerts(app) == []
    app.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("URGENT S20 referral", True),
        ("Section 20 placement last night", True),
        ("accommodated under s.20 on Friday", True),
        ("child now in S 20 care", True),
        ("SECTION20 admission", True),
        ("Referral for panel", False),
        ("The family lives at 4 Any Road, Sheffield S20 1AB", False),
        ("Year 7 class S201", False),
        ("section 200 of the act", False),
    ],
)
def test_what_counts_as_mentioning_section20(text: str, expected: bool) -> None:
    assert mentions_section20(text) is expected
