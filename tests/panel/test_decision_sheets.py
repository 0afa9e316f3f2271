"""R13 after the meeting: decision sheets to referrers, chasing the administrator, LARP.

Decisions are written straight into the database here (the workbook import is another step's):
a case approved and slotted at the meeting of Tuesday 8 December 2026, its pack built before
it, then a Decision with its actions recorded after it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document as WordDocument
from pypdf import PdfReader
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import JobSource, TickReport, run_due
from pipeline.outputs.pack import build_pack
from pipeline.panel.decisions.chase import chase_jobs
from pipeline.panel.decisions.sheets import sheet_jobs
from pipeline.states import CaseState, Outcome
from pipeline.store.lifecycle import move
from pipeline.store.models import (
    Action,
    AuditEvent,
    Case,
    Decision,
    DecisionSheet,
    Slot,
)
from tests.decisions_helpers import applied_import
from tests.helpers import Sent, attachments, drop, open_service, sent_mail

RECEIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
AFTER = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
LEAD = "kim.lead@example.org"
LARP = {"name": "L Resource Panel", "email": "larp@example.org"}
FIRST = samples.Child(name="Robin Testcase", referrer_email="jo.example@school.example.org")
SECOND = samples.Child(
    name="Sam Otherchild", referrer_name="Lee Sample", referrer_email="lee.sample@example.org"
)


def at(app: App, moment: datetime) -> App:
    return replace(app, clock=Clock.frozen_at(moment))


def tick(app: App, *sources: JobSource) -> TickReport:
    report = run_due(app, sources or (sheet_jobs,))
    deliver_configured(app)
    return report


def open_meeting(folder: Path, **overrides: object) -> App:
    """Two referrals approved and slotted at the meeting, its pack built; then the meeting."""
    app = open_service(folder, RECEIVED, **overrides)
    for child in (FIRST, SECOND):
        sender = f"{child.referrer_name} <{child.referrer_email}>"
        drop(app, samples.Mail(sender, "Referral", files=samples.full_referral(child)), RECEIVED)
    poll(app)
    with app.store.session() as session:
        for position, case in enumerate(session.scalars(select(Case).order_by(Case.id))):
            assert case.meeting == MEETING, case.meeting
            move(case, CaseState.APPROVED)
            start = MEETING + timedelta(minutes=30 * position)
            session.add(
                Slot(
                    case_id=case.id,
                    panel_id="masp",
                    meeting=MEETING,
                    position=position,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=30),
                )
            )
    with app.store.session() as session:
        build_pack(app, session, "masp", MEETING)
    return app


def decide(
    app: App,
    reference: str,
    larp: bool = False,
    notes: str = "The family agreed the plan.",
    outcome: Outcome = Outcome.ACCEPTED,
) -> None:
    """What the workbook import records: the decision, its actions, and the case DECIDED."""
    now = app.clock.now()
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        decision = session.scalar(select(Decision).where(Decision.case_id == case.id))
        if decision is None:
            imported = applied_import(session, MEETING, now)
            decision = Decision(case_id=case.id, panel_id="masp", meeting=MEETING)
            decision.import_id = imported.id
            session.add(decision)
            move(case, CaseState.DECIDED)
        decision.outcome = outcome.value
        decision.lead_name, decision.lead_agency, decision.lead_email = (
            "Kim Lead",
            "Early Help",
            LEAD,
        )
        decision.review_date = date(2027, 3, 1)
        decision.larp, decision.larp_note = larp, "residential short breaks" if larp else None
        decision.notes = notes
        decision.recorded_at = now
        decision.actions = [
            Action(
                case_id=case.id,
                position=1,
                text="Arrange a TAF meeting",
                owner="Kim Lead",
                agency="Early Help",
                due=date(2026, 12, 22),
            )
        ]


def references(app: App) -> list[str]:
    """FIRST's case reference, then SECOND's: found by referrer, as both referrals arrive at the
    same moment and may be filed in either order."""
    with app.store.session() as session:
        return [
            session.scalars(
                select(Case.reference).where(Case.referrer_email == child.referrer_email)
            ).one()
            for child in (FIRST, SECOND)
        ]


def to(app: App, address: str) -> list[Sent]:
    return [s for s in sent_mail(app) if address in s.to]


def audits(app: App, action: str) -> list[dict[str, object]]:
    with app.store.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [dict(r.detail) for r in rows]


def sheets(app: App) -> list[DecisionSheet]:
    with app.store.session() as session:
        rows = list(session.scalars(select(DecisionSheet).order_by(DecisionSheet.id)))
        session.expunge_all()
        return rows


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages).split()
    )


def docx_text(data: bytes) -> str:
    document = WordDocument(io.BytesIO(data))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


@pytest.fixture
def meeting(tmp_path: Path) -> Iterator[App]:
    app = open_meeting(tmp_path, people__larp=LARP)
    yield at(app, AFTER)
    app.close()


def test_a_recorded_decision_sends_the_referrer_the_sheet_copying_the_lead(meeting: App) -> None:
    first, _ = references(meeting)
    decide(meeting, first)
    tick(meeting)
    [mail] = [s for s in to(meeting, FIRST.referrer_email) if "decision sheet" in s.subject]
    assert first in mail.subject and "Robin" not in mail.subject
    assert mail.message["To"] == FIRST.referrer_email and mail.message["Cc"] == LEAD
    assert mail.attachment_names() == [
        f"{first}-decision-sheet.pdf",
        f"{first}-decision-sheet.docx",
    ]
    assert "place it on the child's file" in mail.text()
    [pdf] = attachments(mail, ".pdf")
    [docx] = attachments(mail, ".docx")
    for text in (pdf_text(pdf), docx_text(docx)):
        assert first in text and "Robin Testcase" in text and "Arrange a TAF meeting" in text
        assert Outcome.ACCEPTED.value in text and "on or after 1 March 2027" in text
    [sheet] = sheets(meeting)
    assert sheet.version == 1 and sheet.sent_at == AFTER and sheet.outbox_id is not None
    assert sheet.pdf_path and sheet.larp_outbox_id is None
    [sent] = audits(meeting, "decision-sheet-sent")
    assert sent == {"version": 1, "outbox": sheet.outbox_id, "pdf": True, "on_time": True}


def test_a_second_tick_sends_nothing_and_a_correction_sends_version_two_once(
    meeting: App,
) -> None:
    first, _ = references(meeting)
    decide(meeting, first)
    tick(meeting)
    tick(meeting)
    assert len(to(meeting, FIRST.referrer_email)) == 2  # the acknowledgement and the sheet
    later = at(meeting, AFTER + timedelta(days=1))
    decide(later, first, notes="Corrected: the school will attend the TAF.")
    tick(later)
    tick(later)
    decide(
        at(later, AFTER + timedelta(days=1, hours=1)),
        first,
        notes="Corrected: the school will attend the TAF.",
    )
    tick(at(later, AFTER + timedelta(days=1, hours=2)))
    mails = [s for s in to(meeting, FIRST.referrer_email) if "decision sheet" in s.subject]
    assert len(mails) == 2 and "version 2" in mails[1].subject
    assert "Corrected: the school" in docx_text(attachments(mails[1], ".docx")[0])
    assert [s.version for s in sheets(meeting)] == [1, 2]


def test_a_late_decision_chases_the_administrator_on_day_3_and_6_and_not_after(
    meeting: App,
) -> None:
    first, second = references(meeting)
    decide(meeting, first)
    tick(meeting, sheet_jobs, chase_jobs)
    day = MEETING.replace(hour=9, minute=0)

    def chases() -> list[Sent]:
        return [s for s in to(meeting, "admin@example.org") if "decisions still" in s.subject]

    tick(at(meeting, day + timedelta(days=3, minutes=-1)), chase_jobs)
    assert chases() == []
    tick(at(meeting, day + timedelta(days=3)), chase_jobs)
    tick(at(meeting, day + timedelta(days=4)), chase_jobs)
    [chase] = chases()
    assert second in chase.text() and first not in chase.text() and "4 days left" in chase.text()
    assert "masp decisions import FILE" in chase.text() and "Sam" not in chase.text()
    tick(at(meeting, day + timedelta(days=6)), chase_jobs)
    assert len(chases()) == 2 and "1 day left" in chases()[1].text()
    recorded = at(meeting, day + timedelta(days=6, hours=3))
    decide(recorded, second)
    tick(recorded, sheet_jobs, chase_jobs)
    assert [s for s in to(meeting, SECOND.referrer_email) if "decision sheet" in s.subject]
    for later in (7, 8, 10):
        tick(at(meeting, day + timedelta(days=later)), sheet_jobs, chase_jobs)
    assert len(chases()) == 2
    assert [a["day"] for a in audits(meeting, "decisions-chased")] == [3, 6]


def test_after_an_outage_one_chase_goes_and_none_after_the_sheets_due_day(
    tmp_path: Path,
) -> None:
    app = open_meeting(tmp_path)
    # The service was down from day 2 to day 7: the day 3 chase is skipped, day 6's goes once.
    report = tick(at(app, MEETING + timedelta(days=7)), chase_jobs)
    assert len(report.skipped) == 1 and len(report.done) == 1
    tick(at(app, MEETING + timedelta(days=8)), chase_jobs)
    tick(at(app, MEETING + timedelta(days=30)), chase_jobs)
    chased = [s for s in to(app, "admin@example.org") if "decisions still" in s.subject]
    assert len(chased) == 1 and "that is today" in chased[0].text()
    app.close()


def test_the_larp_contact_gets_that_cases_papers_and_its_sheet_only(meeting: App) -> None:
    first, second = references(meeting)
    decide(meeting, first, larp=True)
    tick(meeting)
    [mail] = to(meeting, LARP["email"])
    assert first in mail.subject and "Robin" not in mail.subject
    assert mail.attachment_names() == [f"{first}-papers.pdf", f"{first}-decision-sheet.pdf"]
    papers, sheet = attachments(mail, ".pdf")
    text = pdf_text(papers)
    # The case's own documents (its referral form names the child), nothing of the other
    # case, and neither the front sheet nor the agenda, which list every case.
    assert "Robin Testcase" in text and "Referral Form" in text
    assert second not in text and "Sam Otherchild" not in text and "Meeting pack" not in text
    assert "L Resource Panel" in text  # stamped with its recipient's name
    assert "Recommended to the resource panel (LARP): residential short breaks" in pdf_text(sheet)
    [referrer] = [s for s in to(meeting, FIRST.referrer_email) if "decision sheet" in s.subject]
    assert "the papers have been sent to it" in pdf_text(attachments(referrer, ".pdf")[0])
    [row] = sheets(meeting)
    assert row.larp_outbox_id is not None
    assert audits(meeting, "larp-referral") == [
        {"version": 1, "outbox": row.larp_outbox_id, "to": "larp"}
    ]


def test_with_no_larp_contact_the_administrator_is_asked_to_send_the_papers(
    tmp_path: Path,
) -> None:
    app = at(open_meeting(tmp_path), AFTER)
    first, _ = references(app)
    decide(app, first, larp=True)
    tick(app)
    [alert] = [s for s in to(app, "admin@example.org") if "LARP" in s.subject]
    assert "no LARP contact is configured" in alert.text() and "people.larp" in alert.text()
    assert alert.attachment_names() == [f"{first}-papers.pdf", f"{first}-decision-sheet.pdf"]
    found = [s for s in to(app, FIRST.referrer_email) if "decision sheet" in s.subject]
    assert len(found) == 1, [(s.to, s.subject) for s in sent_mail(app)]
    [referrer] = found
    sheet = pdf_text(attachments(referrer, ".pdf")[0])
    assert "the administrator is sending it the papers" in sheet
    assert audits(app, "larp-referral")[0]["to"] == "administrator"
    app.close()
