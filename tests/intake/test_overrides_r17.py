"""R17: the administrator's overrides on a case — accept a document, move the case, withdraw
or close it, correct the referrer's address, re-send an email — each as `masp` runs it and as
the console calls it, each seen in the mail that arrives, `masp status` and the audit trail."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.errors import PipelineError
from pipeline.intake.address import correct_address
from pipeline.intake.moves import close_case, default_message, move_case
from pipeline.intake.poll import deliver_configured, poll
from pipeline.outputs.agenda import build_agenda
from pipeline.store.models import AuditEvent, Case, OutboxItem, Slot
from tests.helpers import DATA, drop, everything_said, open_service, sent_to, status_of

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
REF = "MASP-2026-0001"
ME = f"cli:{getpass.getuser()}"
WEB = "web:admin@example.org"
SCAN = samples.File("scan0001.pdf", samples.PDF, (DATA / "documents" / "scan0001.pdf").read_bytes())


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    drop(app, samples.Mail(REFERRER, "Referral", files=[*samples.full_referral(CHILD), SCAN]), NOW)
    poll(app)
    yield app
    app.close()


def masp(folder: Path, *args: str, now: datetime = NOW) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", now.isoformat(), *args])


def audited(app: App, action: str) -> list[dict[str, Any]]:
    with app.store.session() as session:
        query = select(AuditEvent.detail).where(AuditEvent.action == action)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def to_referrer(app: App) -> list[str]:
    return [s.subject for s in sent_to(app, CHILD.referrer_email)]


def test_accept_a_document_that_needs_review(tmp_path: Path, service: App) -> None:
    [scan] = [d for d in status_of(service, REF)["documents"] if d["filename"] == "scan0001.pdf"]
    assert scan["status"] == "needs_review"
    before = to_referrer(service)
    done = masp(tmp_path, "case", "accept", REF, str(scan["id"]))
    assert done.exit_code == 0, done.output
    [scan] = [d for d in status_of(service, REF)["documents"] if d["filename"] == "scan0001.pdf"]
    assert scan["status"] == "ok" and "reason" not in scan
    assert status_of(service, REF)["state"] == "complete"
    # Nothing the referrer was told has changed: they are not written to.
    assert to_referrer(service) == before
    [event] = audited(service, "accepted")
    assert event["by"] == ME and event["document"] == scan["id"] and "scanned" in event["reason"]
    again = masp(tmp_path, "case", "accept", REF, "scan0001.pdf")
    assert again.exit_code == 1 and "does not need review" in str(again.exception)
    unknown = masp(tmp_path, "case", "accept", REF, "nothing.pdf")
    assert unknown.exit_code == 1 and f"masp status {REF} --json" in str(unknown.exception)


def test_reclassify_refuses_what_it_cannot_do(tmp_path: Path, service: App) -> None:
    bad = masp(tmp_path, "case", "reclassify", REF, "scan0001.pdf", "letter")
    assert bad.exit_code == 1 and "referral_form, chronology" in str(bad.exception)
    # A scan has no text a form's answers could be read from: the reader's reason is given.
    form = masp(tmp_path, "case", "reclassify", REF, "scan0001.pdf", "referral_form")
    assert form.exit_code == 1 and "could not be read as a referral form" in str(form.exception)


def test_reclassify_taking_away_the_chronology_tells_the_referrer(
    tmp_path: Path, service: App
) -> None:
    done = masp(tmp_path, "case", "reclassify", REF, "Chronology.docx", "other")
    assert done.exit_code == 0, done.output
    case = status_of(service, REF)
    assert (case["state"], case["missing"], case["meeting"]) == (
        "incomplete",
        ["chronology"],
        "2026-12-08",
    )
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert "documents still needed" in told.subject and "Chronology" in told.text()


def test_move_to_another_meeting(tmp_path: Path, service: App) -> None:
    done = masp(tmp_path, "case", "move", REF, "--meeting", "2027-01-12")
    assert done.exit_code == 0, done.output
    assert status_of(service, REF)["meeting"] == "2027-01-12"
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert told.subject == f"{REF}: moved to the meeting on Tuesday 12 January 2027, 10:00"
    assert "from the meeting on Tuesday 8 December 2026, 10:00" in " ".join(told.text().split())
    [event] = audited(service, "moved")
    assert event["by"] == ME and event["to_meeting"].startswith("2027-01-12T10:00")
    for day, why in (
        ("2026-12-09", "does not meet on 2026-12-09"),
        ("2027-01-12", "already listed for 2027-01-12"),
        ("2026-11-10", "has started"),
    ):
        refused = masp(tmp_path, "case", "move", REF, "--meeting", day)
        assert refused.exit_code == 1 and why in str(refused.exception), day
    usage = masp(tmp_path, "case", "move", REF, "--meeting", "12/01/2027")
    assert usage.exit_code == 2 and "YYYY-MM-DD" in usage.output


def test_withdraw_with_the_administrators_words(tmp_path: Path, service: App) -> None:
    words = tmp_path / "words.txt"
    words.write_text("The family has moved away.\n\nThank you for referring them.\n")
    done = masp(tmp_path, "case", "withdraw", REF, "--message-file", str(words))
    assert done.exit_code == 0, done.output
    case = status_of(service, REF)
    assert (case["state"], case["meeting"]) == ("withdrawn", None)
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert told.subject == f"{REF}: referral withdrawn"
    assert "The family has moved away.\r\n\r\nThank you for referring them." in told.text()
    assert "has been withdrawn and will not be presented" not in everything_said(told)
    [event] = audited(service, "withdrawn")
    assert event == {"edited": True, "by": ME}
    again = masp(tmp_path, "case", "close", REF)
    assert again.exit_code == 1 and "withdrawn: it cannot be closed" in str(again.exception)


def test_close_from_the_console_with_the_default_words(service: App) -> None:
    with service.store.session() as session:
        text = default_message(service, session, REF, "closed")
        result = close_case(service, session, REF, WEB, None)
    assert text.startswith(f"Referral {REF} is now closed")
    assert (result.reference, result.state, result.meeting) == (REF, "closed", None)
    deliver_configured(service)
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert told.subject == f"{REF}: referral closed" and text in " ".join(told.text().split())
    assert audited(service, "closed") == [{"edited": False, "by": WEB}]
    with service.store.session() as session, pytest.raises(PipelineError, match="say who"):
        close_case(service, session, REF, "  ", None)


def test_a_corrected_address_gets_the_mail_not_yet_sent(service: App) -> None:
    right = "robin.right@school.example.org"
    with service.store.session() as session:
        move_case(service, session, REF, date(2027, 1, 12), WEB)
        result = correct_address(service, session, REF, right.upper(), WEB)
    assert result.queued and "now go to it" in str(result)
    deliver_configured(service)
    assert not any("moved to" in s for s in to_referrer(service))
    [moved] = sent_to(service, right)
    assert "moved to the meeting" in moved.subject and moved.message["To"] == right
    assert status_of(service, REF)["referrer"] == right
    [event] = audited(service, "address-corrected")
    assert event == {"old": CHILD.referrer_email, "new": right, "by": WEB}
    with service.store.session() as session:
        for bad in ("not an address", "panel@example.org", right):
            with pytest.raises(PipelineError, match=REF):
                correct_address(service, session, REF, bad, WEB)


def test_resend_an_email_as_a_fresh_copy(tmp_path: Path, service: App) -> None:
    assert len(sent_to(service, CHILD.referrer_email)) == 1
    with service.store.session() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.template == "acknowledgement"))
        assert item is not None
        ack_id = item.id
    later = NOW + timedelta(days=1)
    done = masp(tmp_path, "outbox", "resend", str(ack_id), now=later)
    assert done.exit_code == 0, done.output
    first, copy = sent_to(service, CHILD.referrer_email)
    assert copy.subject == first.subject and copy.text() == first.text()
    assert copy.attachment_names() == first.attachment_names()
    assert copy.message_id != first.message_id and REF in copy.message_id
    [event] = audited(service, "resent")
    assert event["by"] == ME and event["of"] == ack_id
    # After a correction, a copy goes to the right address.
    with service.store.session() as session:
        correct_address(service, session, REF, "robin.right@school.example.org", WEB)
    assert masp(tmp_path, "outbox", "resend", str(ack_id), now=later).exit_code == 0
    [again] = sent_to(service, "robin.right@school.example.org")
    assert again.subject == first.subject
    missing = masp(tmp_path, "outbox", "resend", "999")
    assert missing.exit_code == 1 and "no sent email with id 999" in str(missing.exception)


def reviewed_at_december(app: App) -> list[str | None]:
    """The cases in the follow-up section of December's agenda."""
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", datetime(2026, 12, 8, 10, 0, tzinfo=UTC))
        return [reference for _, reference in agenda.follow_ups]


def test_closing_a_decided_case_keeps_its_heard_slot(tmp_path: Path) -> None:
    from tests.decisions_helpers import EARLIER, add_review

    app = open_service(tmp_path, NOW)
    add_review(app, 4)
    with app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == "MASP-2026-0004"))
        assert case is not None
        session.add(
            Slot(
                case_id=case.id,
                panel_id="masp",
                meeting=EARLIER,
                position=0,
                starts_at=EARLIER,
                ends_at=EARLIER + timedelta(minutes=30),
            )
        )
    assert "MASP-2026-0004" in reviewed_at_december(app)
    with app.store.session() as session:
        result = close_case(app, session, "MASP-2026-0004", WEB, "The plan has ended.")
    assert (result.state, result.meeting) == ("closed", date(2026, 11, 10))
    deliver_configured(app)
    [told] = sent_to(app, "ref4@school.example.org")
    assert told.subject == "MASP-2026-0004: referral closed" and told.attachment_names() == []
    assert "The plan has ended." in told.text()
    with app.store.session() as session:
        assert session.scalar(select(Slot).where(Slot.meeting == EARLIER)) is not None
    assert status_of(app, "MASP-2026-0004")["review_meeting"] is None
    assert "MASP-2026-0004" not in reviewed_at_december(app)
    app.close()
