"""R9 screening end to end on the maildir back-end: the request, the manager's reply, refusals."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import JobSource, TickReport, run_due
from pipeline.mime.tokens import token_for, token_is_valid
from pipeline.outputs.summary import SummaryFacts, render_summary
from pipeline.panel.screening.jobs import screening_jobs
from pipeline.service import run_due_jobs
from pipeline.store.models import AuditEvent, Case, Message, ScreeningRequest
from tests.helpers import Sent, drop, open_service, sent_mail

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
MANAGER = "sm@example.org"
SCHOOL = samples.Child()
OTHER = samples.Child(
    name="Sam Otherchild", referrer_name="Lee Sample", referrer_email="lee.sample@example.org"
)


def referral(child: samples.Child = SCHOOL) -> samples.Mail:
    sender = f"{child.referrer_name} <{child.referrer_email}>"
    return samples.Mail(sender, "Referral for panel", files=samples.full_referral(child))


def tick_only(app: App, *sources: JobSource) -> TickReport:
    """This feature's jobs, then the outbox: the other sources are not under test here."""
    report = run_due(app, sources or (screening_jobs,))
    deliver_configured(app)
    return report


def to(app: App, address: str) -> list[Sent]:
    return [s for s in sent_mail(app) if address in s.to]


def case_row(app: App, reference: str | None = None) -> Case:
    with app.store.session() as session:
        query = select(Case).order_by(Case.id)
        if reference:
            query = query.where(Case.reference == reference)
        case = session.scalars(query).first()
        assert case is not None
        session.expunge(case)
        return case


def audits(app: App, action: str) -> list[dict[str, object]]:
    with app.store.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [dict(r.detail) for r in rows]


def reply(
    to_mail: Sent, body: str, sender: str = MANAGER, subject: str | None = None
) -> samples.Mail:
    """A manager's answer, quoting the request below it as mail programs do."""
    quoted = "\n".join(f"> {line}" for line in to_mail.text().splitlines())
    return samples.Mail(
        f"S Manager <{sender}>",
        subject or f"RE: {to_mail.subject}",
        body=f"{body}\n\nOn Sun, 29 Nov 2026, panel@example.org wrote:\n{quoted}",
        in_reply_to=to_mail.message_id,
    )


def answer(app: App, mail: samples.Mail, minutes: int = 5) -> None:
    drop(app, mail, app.clock.now() - timedelta(minutes=minutes))
    poll(app)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    """A complete referral, screened: the request has gone to the manager."""
    app = open_service(tmp_path, NOW)
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    yield app
    app.close()


def request_mail(app: App, index: int = 0) -> Sent:
    return [s for s in to(app, MANAGER) if "referral to screen" in s.subject][index]


def test_a_complete_referral_sends_the_manager_one_email_with_summary_and_documents(
    service: App,
) -> None:
    tick_only(service)
    [mail] = to(service, MANAGER)
    case = case_row(service)
    assert case.state == "screening"
    assert case.reference in mail.subject and re.search(r"\[screen:[0-9a-f.]+\]", mail.subject)
    assert "APPROVE" in mail.text() and "co-opt: Housing, Police" in mail.text()
    assert mail.attachment_names() == [
        f"{case.reference}-summary.pdf",
        "Referral form.docx",
        "Chronology.docx",
        "genogram.png",
        "EHA.docx",
    ]
    [pdf] = [p for p in mail.message.walk() if p.get_filename("").endswith(".pdf")]
    data = pdf.get_payload(decode=True)
    assert isinstance(data, bytes)
    reader = PdfReader(io.BytesIO(data))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1
    assert case.reference in text and "R.T." in text and "10 years" in text
    assert "What multi-agency support" in text
    assert "Robin" not in text and "Testcase" not in text and "2016" not in text


def test_the_managers_approval_approves_the_case_with_co_opted_agencies(service: App) -> None:
    answer(service, reply(request_mail(service), "Approve\nco-opt: Housing, Police"))
    case = case_row(service)
    assert case.state == "approved"
    assert "co-opt:Housing" in case.flags and "co-opt:Police" in case.flags
    with service.store.session() as session:
        [request] = session.scalars(select(ScreeningRequest))
        assert request.decision == "approve" and request.coopt == ["Housing", "Police"]
        assert request.used_at == NOW
    [decided] = audits(service, "screening-decision")
    assert decided["by"] == "manager" and decided["decision"] == "approve"


def assert_refused(app: App, why: str, state: str = "screening") -> None:
    assert [a["why"] for a in audits(app, "screening-refused")] == [why]
    [alert] = to(app, "admin@example.org")
    assert "not applied" in alert.subject and why in alert.text()
    assert case_row(app).state == state
    with app.store.session() as session:
        rows = session.scalars(select(Message.category).where(Message.category.like("screening%")))
        assert "screening_refused" in list(rows)


def test_a_forged_sender_with_a_valid_token_is_refused(service: App) -> None:
    answer(service, reply(request_mail(service), "APPROVE", sender="sm@example.org.evil.test"))
    assert_refused(service, "forged sender")
    assert audits(service, "screening-decision") == []


def test_a_configured_person_who_is_not_that_requests_manager_is_refused(service: App) -> None:
    answer(service, reply(request_mail(service), "APPROVE", sender="chair@example.org"))
    assert_refused(service, "forged sender")


def test_a_tampered_token_is_refused(service: App) -> None:
    mail = request_mail(service)
    subject = re.sub(r"\.([0-9a-f])", lambda m: "." + ("0" if m[1] != "0" else "1"), mail.subject)
    forged = samples.Mail(f"S Manager <{MANAGER}>", f"RE: {subject}", body="APPROVE")
    answer(service, forged)
    assert_refused(service, "bad token")


def test_another_cases_token_is_refused(service: App) -> None:
    drop(service, referral(OTHER), NOW - timedelta(minutes=30))
    poll(service)
    tick_only(service)
    first, second = request_mail(service, 0), request_mail(service, 1)
    first_ref = case_row(service).reference
    other_token = re.search(r"\[screen:[^\]]+\]", second.subject)
    assert other_token is not None and first_ref not in second.subject
    # The first case's reference in the subject, the second case's token.
    subject = re.sub(r"\[screen:[^\]]+\]", other_token[0], first.subject)
    answer(service, samples.Mail(f"S Manager <{MANAGER}>", f"RE: {subject}", body="APPROVE"))
    assert [a["why"] for a in audits(service, "screening-refused")] == ["other case"]
    with service.store.session() as session:
        assert set(session.scalars(select(Case.state))) == {"screening"}


def test_a_replayed_approval_is_refused(service: App) -> None:
    mail = request_mail(service)
    answer(service, reply(mail, "APPROVE"))
    answer(service, reply(mail, "DECLINE not needed after all"))
    assert [a["why"] for a in audits(service, "screening-refused")] == ["replayed"]
    assert case_row(service).state == "approved"


def test_a_decline_tells_the_referrer_why_in_their_thread(service: App) -> None:
    answer(service, reply(request_mail(service), "DECLINE - the family already has a CIN plan."))
    case = case_row(service)
    assert case.state == "declined"
    ack, declined = to(service, SCHOOL.referrer_email)
    assert "not accepted" in declined.subject and case.reference in declined.subject
    assert "the family already has a CIN plan." in declined.text()
    assert "[screen:" not in declined.text()
    assert declined.message["In-Reply-To"].strip() == ack.message_id


def more_documents(asked: Sent) -> samples.Mail:
    """The referrer's answer to a request for more information: an updated chronology."""
    return samples.Mail(
        f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>",
        f"RE: {asked.subject}",
        body="Updated chronology attached.",
        files=[samples.File("Chronology v2.docx", samples.DOCX, samples.chronology(14))],
        in_reply_to=asked.message_id,
    )


def test_more_information_asks_the_referrer_then_new_documents_are_screened_again(
    tmp_path: Path, service: App
) -> None:
    answer(service, reply(request_mail(service), "More information\nThe latest school report."))
    assert case_row(service).state == "more_info"
    tick_only(service)
    assert len(to(service, MANAGER)) == 1
    service.close()
    service = open_service(tmp_path, NOW + timedelta(hours=3))
    asked = to(service, SCHOOL.referrer_email)[-1]
    assert "more information" in asked.subject and "The latest school report." in asked.text()
    answer(service, more_documents(asked), minutes=1)
    tick_only(service)
    assert case_row(service).state == "screening"
    first, again = request_mail(service, 0), request_mail(service, 1)
    assert first.subject != again.subject
    assert "Chronology v2.docx" in again.attachment_names()
    # The first round's token is spent: only the new one counts.
    answer(service, reply(first, "APPROVE"), minutes=0)
    assert case_row(service).state == "screening"
    answer(service, reply(again, "APPROVE"), minutes=0)
    assert case_row(service).state == "approved"
    service.close()


def test_the_managers_out_of_office_is_ignored(service: App) -> None:
    mail = request_mail(service)
    answer(service, samples.out_of_office(mail.message_id, MANAGER, mail.subject))
    assert case_row(service).state == "screening"
    assert audits(service, "screening-refused") == [] and to(service, "admin@example.org") == []


def test_an_unclear_answer_is_shown_to_the_administrator_and_the_request_stays_open(
    service: App,
) -> None:
    mail = request_mail(service)
    answer(service, reply(mail, "Can we talk about this one first?"))
    assert case_row(service).state == "screening"
    [alert] = to(service, "admin@example.org")
    assert "unclear" in alert.text()
    answer(service, reply(mail, "approved"), minutes=1)
    assert case_row(service).state == "approved"


def test_an_unanswered_manager_is_reminded_once(tmp_path: Path, service: App) -> None:
    service.close()
    for hours in (47, 48, 49):
        later = open_service(tmp_path, NOW + timedelta(hours=hours))
        tick_only(later)
        later.close()
    app = open_service(tmp_path, NOW + timedelta(hours=50))
    first, reminder = to(app, MANAGER)
    assert reminder.subject.startswith("Reminder:") and first.subject.endswith(
        reminder.subject.rpartition(" ")[2]
    )
    assert reminder.message["In-Reply-To"].strip() == first.message_id
    # A reply to the reminder counts: it carries the same token.
    answer(app, reply(reminder, "APPROVE"))
    assert case_row(app).state == "approved"
    app.close()


def test_two_managers_each_get_their_own_token_and_the_first_answer_decides(
    tmp_path: Path,
) -> None:
    managers = [
        {"name": "S Manager", "email": MANAGER},
        {"name": "T Manager", "email": "tm@example.org"},
    ]
    app = open_service(tmp_path, NOW, people__service_managers=managers)
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    [first] = to(app, MANAGER)
    [second] = to(app, "tm@example.org")
    assert first.subject != second.subject
    answer(app, reply(second, "APPROVE", sender="tm@example.org"))
    answer(app, reply(first, "DECLINE too late"), minutes=1)
    assert case_row(app).state == "approved"
    assert [a["why"] for a in audits(app, "screening-refused")] == ["already decided"]
    app.close()


def test_masp_screen_is_the_administrators_fallback(tmp_path: Path, service: App) -> None:
    reference = case_row(service).reference
    service.close()
    runner = CliRunner()
    base = ["--config", str(tmp_path / "config.yaml"), "--now", NOW.isoformat()]
    missing = runner.invoke(cli, [*base, "screen", reference, "decline"])
    assert missing.exit_code == 2
    done = runner.invoke(cli, [*base, "screen", reference, "decline", "--reason", "Not MASP."])
    assert done.exit_code == 0, done.output
    assert f"{reference} is now declined" in done.output
    app = open_service(tmp_path, NOW)
    [decided] = audits(app, "screening-decision")
    assert decided["by"] == "administrator"
    declined = to(app, SCHOOL.referrer_email)[-1]
    assert "not accepted" in declined.subject and "Not MASP." in declined.text()
    # The manager's request was closed by the administrator's decision.
    answer(app, reply(request_mail(app), "APPROVE"))
    assert case_row(app).state == "declined"
    app.close()


# --- Pure rules -----------------------------------------------------------------------------


def test_tokens_are_signed_with_the_installation_key() -> None:
    token = token_for(b"key", "0123456789abcdef")
    nonce, signature = token.strip("[]").removeprefix("screen:").split(".")
    assert token_is_valid(b"key", nonce, signature)
    assert not token_is_valid(b"other key", nonce, signature)


def test_masp_tick_runs_the_screening_jobs(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    report = run_due_jobs(app)
    assert any(key.startswith("screen:case:") for key in report.done)
    assert len(to(app, MANAGER)) == 1
    app.close()


def test_the_summary_stays_on_one_page_however_much_there_is_to_say() -> None:
    crowded = SummaryFacts(
        reference="MASP-2026-0099",
        panel_name="Multi Agency Support Panel",
        meeting="Tuesday 8 December 2026, 10:00",
        received="Sunday 29 November 2026, 08:00",
        initials="A.B.C.",
        age="unborn (due March 2027)",
        request_types=tuple(f"Request type {i} " * 6 for i in range(9)),
        question="Why? " * 2000,
        section20=True,
        consent="not given",
        documents=tuple(f"Other document (version {i})" for i in range(40)),
        flags=tuple(f"deferred from meeting {i} " * 8 for i in range(20)),
    )
    reader = PdfReader(io.BytesIO(render_summary(crowded, NOW)))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "OFFICIAL-SENSITIVE" in text and "and 32 more" in text


def test_building_the_agenda_reminds_managers_of_unscreened_cases(tmp_path: Path) -> None:
    from pipeline.panel.screening.jobs import remind_unscreened

    app = open_service(tmp_path, NOW)
    drop(app, referral(), NOW)
    poll(app)
    tick_only(app)
    case = case_row(app)
    assert case.state == "screening" and case.meeting is not None
    with app.store.session() as session:
        remind_unscreened(app, session, case.panel_id, case.meeting)
        # Building the agenda again (a reissued pack) does not remind twice.
        remind_unscreened(app, session, case.panel_id, case.meeting)
    deliver_configured(app)
    reminders = [s for s in to(app, MANAGER) if s.subject.startswith("Reminder")]
    assert len(reminders) == 1 and case.reference in reminders[0].subject
    app.close()
