"""R6 cut-off and the administrator's digest, through `tick` at the deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.rules.cutoff import forward_meeting
from pipeline.rules.meetings import meeting_at
from pipeline.states import CaseState
from pipeline.store.models import AuditEvent, Case, JobRun, ScreeningRequest
from tests.helpers import drop, open_service, sent_mail
from tests.panel.test_reminders import DEADLINE, RECEIVED, tick_at

DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
JANUARY = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
LATE = samples.Child(
    name="Alex Sampleton", referrer_name="Sam Late", referrer_email="sam.late@example.org"
)
READY = samples.Child(
    name="Casey Fixture", referrer_name="Kim Ready", referrer_email="kim.ready@example.org"
)
EMERGENCY = samples.Child(
    name="Morgan Mockwell",
    dob=date(2020, 2, 29),
    referrer_name="Lee Urgent",
    referrer_email="lee.urgent@example.org",
    section20=True,
    request_types=("section20",),
    genogram_required=True,
)
CHILDREN = (LATE, READY, EMERGENCY)


def refer(folder: Path) -> None:
    """One case missing its chronology, one complete, one Section 20 missing its chronology."""
    app = open_service(folder, RECEIVED)
    for child in CHILDREN:
        files = samples.full_referral(child, genogram=child.genogram_required)
        if child is not READY:
            files = [f for f in files if f.filename != "Chronology.docx"]
        sender = f"{child.referrer_name} <{child.referrer_email}>"
        drop(app, samples.Mail(sender, "Referral for panel", files=files), RECEIVED)
    poll(app)
    app.close()


@pytest.fixture
def after_cutoff(tmp_path: Path) -> Path:
    refer(tmp_path)
    tick_at(tmp_path, DEADLINE - timedelta(seconds=1)).close()
    tick_at(tmp_path, DEADLINE, times=3).close()
    return tmp_path


def snapshot(folder: Path) -> dict[str, Case]:
    """Every case by its referrer's address (intake numbers them in whatever order it files)."""
    app = open_service(folder, DEADLINE)
    with app.store.session() as session:
        found = {c.referrer_email: c for c in session.scalars(select(Case))}
        session.expunge_all()
    app.close()
    return found


def test_incomplete_case_moves_to_the_next_meeting(after_cutoff: Path) -> None:
    cases = snapshot(after_cutoff)
    late = cases[LATE.referrer_email]
    assert (late.meeting, late.state) == (JANUARY, "incomplete")
    assert late.flags == ["deferred from 2026-12-08: missing chronology"]
    assert cases[READY.referrer_email].meeting == DECEMBER
    emergency = cases[EMERGENCY.referrer_email]
    assert (emergency.meeting, emergency.state) == (DECEMBER, "incomplete")
    app = open_service(after_cutoff, DEADLINE)
    [told] = [s for s in sent_mail(app) if "moved to" in s.subject]
    assert told.to == LATE.referrer_email
    assert "Tuesday 12 January 2027, 10:00" in told.subject
    body = " ".join(told.text().split())
    assert "Chronology" in body and "Tuesday 8 December 2026, 10:00" in body
    assert "The new deadline is Tuesday 5 January 2027, 12:00" in body
    with app.store.session() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "deferred"))
        assert event.detail == {
            "from_meeting": "2026-12-08T10:00",
            "to_meeting": "2027-01-12T10:00",
            "missing": "chronology",
        }
        keys = session.scalars(select(JobRun.key).where(JobRun.key.startswith("cutoff:")))
        assert list(keys) == [f"cutoff:case:{late.id}:2026-12-08T10:00"]
    app.close()


def test_digest_arrives_once_with_minimal_identifiers(after_cutoff: Path) -> None:
    tick_at(after_cutoff, DEADLINE + timedelta(hours=1)).close()
    ref = {email: case.reference for email, case in snapshot(after_cutoff).items()}
    app = open_service(after_cutoff, DEADLINE)
    [digest] = [s for s in sent_mail(app) if "after the deadline" in s.subject]
    app.close()
    assert digest.to == "admin@example.org"
    body = digest.text()
    agenda, deferred = body.split("Deferred to the next meeting")
    assert f"{ref[READY.referrer_email]} (C.F., age 10): awaiting screening" in agenda
    emergency = f"{ref[EMERGENCY.referrer_email]} (M.M., age 6): Section 20 emergency;"
    assert f"{emergency} documents still missing" in agenda
    assert f"{ref[LATE.referrer_email]} (A.S., age 10): missing chronology" in deferred
    assert ref[LATE.referrer_email] not in agenda
    html = b"".join(
        payload
        for p in digest.message.walk()
        if p.get_content_subtype() == "html"
        and isinstance(payload := p.get_payload(decode=True), bytes)
    )
    for child in CHILDREN:
        for part in child.name.split():
            assert part not in body and part.encode() not in html


def test_more_information_that_never_came_defers_the_case(tmp_path: Path) -> None:
    refer(tmp_path)
    asked = DEADLINE - timedelta(days=2)
    app = open_service(tmp_path, asked)
    with app.store.session() as session:
        query = select(Case).where(Case.referrer_email == READY.referrer_email)
        case = session.scalars(query).one()
        case.state = CaseState.MORE_INFO
        session.add(
            ScreeningRequest(
                case_id=case.id,
                manager_email="sm@example.org",
                nonce="test-nonce",
                sent_at=asked,
                used_at=asked,
                decision="more_info",
                reason="the latest attendance record",
            )
        )
    app.close()
    tick_at(tmp_path, DEADLINE - timedelta(hours=3)).close()
    tick_at(tmp_path, DEADLINE).close()
    case = snapshot(tmp_path)[READY.referrer_email]
    assert (case.meeting, case.state) == (JANUARY, "more_info")
    assert case.flags == [
        "deferred from 2026-12-08: missing the further information asked for at screening"
    ]
    app = open_service(tmp_path, DEADLINE)
    [reminder] = [
        s for s in sent_mail(app) if s.to == READY.referrer_email and "reminder" in s.subject
    ]
    assert "information needed" in reminder.subject
    assert "asked for more information: the latest attendance record" in reminder.text()
    app.close()


def test_a_case_is_never_put_forward_to_a_deadline_already_passed(tmp_path: Path) -> None:
    app = open_service(tmp_path, DEADLINE)
    panel = app.config.panel("masp")
    december = meeting_at(panel, DECEMBER.date(), app.config.tz)
    assert forward_meeting(panel, app.config.tz, december, DEADLINE).starts_at == JANUARY
    down_until = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
    assert forward_meeting(panel, app.config.tz, december, down_until).day == date(2027, 2, 9)
    app.close()
