"""R14: 12 weeks after its last review a MASG case's Lead Professional is asked for outcomes,
once, at 09:00; reminded once if silent; their answer closes the case; anyone else's reply, or
a forged token, is refused."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.panel.decisions.followup import follow_up_jobs
from pipeline.states import CaseState, MessageCategory
from pipeline.store.models import AuditEvent, Case, FollowUp, Message
from tests.helpers import Sent, drop, open_service, sent_mail, status_of
from tests.panel.decisions.fixtures import LEAD, NAMES, Agreed, add_case, decide

NOW = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
# Twelve weeks after 8 December 2026 is Tuesday 2 March 2027; 09:00 in London is 09:00 UTC.
DUE = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = "admin@example.org"


def world(tmp_path: Path) -> App:
    app = open_service(tmp_path, NOW)
    case_id = add_case(app, 1, DECEMBER)
    actions = (
        Agreed("School to meet Robin's carers", "Education", date(2027, 1, 15)),
        Agreed("Health check", "Health", date(2027, 2, 1)),
    )
    decide(app, case_id, DECEMBER, actions, no_further_review=True)
    return app


def tick(app: App, when: datetime, times: int = 1) -> App:
    """The follow-up jobs, then the outbox, `times` times with the clock at `when`."""
    app = replace(app, clock=Clock.frozen_at(when))
    for _ in range(times):
        run_due(app, [follow_up_jobs])
        deliver_configured(app)
    return app


def to_lead(app: App) -> list[Sent]:
    return [s for s in sent_mail(app) if LEAD in s.to]


def to_admin(app: App) -> list[Sent]:
    return [s for s in sent_mail(app) if ADMIN in s.to]


def follow_up(app: App) -> FollowUp:
    with app.store.session() as session:
        row = session.scalars(select(FollowUp)).one()
        session.expunge(row)
        return row


def state(app: App) -> CaseState:
    with app.store.session() as session:
        return session.scalars(select(Case.state)).one()


def answer(app: App, request: Sent, when: datetime, sender: str = LEAD, **mail: str) -> App:
    """An email to the panel inbox in the request's thread, then one intake pass."""
    app = replace(app, clock=Clock.frozen_at(when))
    fields = {"subject": f"Re: {request.subject}", "body": "Outcomes: all actions done."} | mail
    message = samples.Mail(
        f"Someone <{sender}>",
        fields["subject"],
        body=fields["body"],
        in_reply_to=mail.get("in_reply_to", request.message_id),
    )
    drop(app, message, when)
    poll(app)
    return app


def test_the_request_goes_once_at_nine_twelve_weeks_on(tmp_path: Path) -> None:
    app = world(tmp_path)
    try:
        tick(app, DUE - timedelta(minutes=1), times=2)
        assert to_lead(app) == []
        app = tick(app, DUE, times=2)
        tick(app, DUE + timedelta(days=1))
        [request] = to_lead(app)
        subject = request.subject
        assert "MASP-2026-0001" in subject and "(R.T.)" in subject
        assert re.search(r"\[follow-up:[0-9a-f]{16}\.[0-9a-f]{20}\]", subject)
        text = request.text()
        assert "please reply to this email with the outcomes" in text.lower()
        assert "School to meet R.'s carers (Education), by 15 January 2027" in text
        assert "Health check (Health), by 1 February 2027" in text
        assert not any(part in request.raw.decode() for part in NAMES[0].split())
        row = follow_up(app)
        assert row.asked_at == DUE and row.due_at == DUE and row.lead_email == LEAD
        with app.store.session() as session:
            actions = session.scalars(select(AuditEvent.action)).all()
        assert "follow-up-asked" in actions
    finally:
        app.close()


def test_a_silent_lead_is_reminded_once_in_the_thread(tmp_path: Path) -> None:
    app = world(tmp_path)
    try:
        tick(app, DUE)
        tick(app, DUE + timedelta(days=13, hours=23))
        assert len(to_lead(app)) == 1
        tick(app, DUE + timedelta(days=14), times=2)
        tick(app, DUE + timedelta(days=40))
        request, reminder = to_lead(app)
        assert reminder.subject.startswith("Reminder: MASP-2026-0001 (R.T.)")
        assert str(reminder.message["In-Reply-To"]) == request.message_id
        assert request.message_id in str(reminder.message["References"])
        assert follow_up(app).reminded_at == DUE + timedelta(days=14)
    finally:
        app.close()


def test_the_answer_is_recorded_and_closes_the_case_and_no_reminder_follows(
    tmp_path: Path,
) -> None:
    app = world(tmp_path)
    try:
        tick(app, DUE)
        [request] = to_lead(app)
        app = answer(app, request, DUE + timedelta(days=3))
        row = follow_up(app)
        assert row.answered_at == DUE + timedelta(days=3) and row.answer_row_id is not None
        assert state(app) == CaseState.CLOSED
        [told] = to_admin(app)
        assert "MASP-2026-0001: follow-up outcomes received" in told.subject
        assert f"ledger id {row.answer_row_id}" in told.text()
        # The text stays in the raw email, not in the administrator's email.
        assert "all actions done" not in told.text()
        with app.store.session() as session:
            message = session.get_one(Message, row.answer_row_id)
            assert message.category == MessageCategory.FOLLOW_UP
            assert "follow-up-answered" in session.scalars(select(AuditEvent.action)).all()
        tick(app, DUE + timedelta(days=20), times=2)
        assert len(to_lead(app)) == 1
        # A second answer is kept and the administrator told; nothing changes.
        app = answer(app, request, DUE + timedelta(days=25), body="One more thing.")
        assert follow_up(app).answered_at == DUE + timedelta(days=3)
        assert "another answer to the follow-up" in to_admin(app)[-1].subject
        assert status_of(app, "MASP-2026-0001")["follow_up"]["answered_at"] == (
            (DUE + timedelta(days=3)).isoformat()
        )
    finally:
        app.close()


def test_a_strangers_reply_or_a_forged_token_is_refused(tmp_path: Path) -> None:
    app = world(tmp_path)
    try:
        tick(app, DUE)
        [request] = to_lead(app)
        app = answer(app, request, DUE + timedelta(days=1), sender="someone@example.org")
        forged = re.sub(r"\.[0-9a-f]{20}\]", ".0123456789abcdef0123]", request.subject)
        app = answer(app, request, DUE + timedelta(days=2), subject=forged, in_reply_to="")
        row = follow_up(app)
        assert row.answered_at is None and state(app) == CaseState.DECIDED
        alerts = [s for s in to_admin(app) if "was not recorded" in s.subject]
        assert len(alerts) == 2
        assert "not from the Lead Professional" in alerts[0].text()
        assert "Why: bad token" in alerts[1].text()
        with app.store.session() as session:
            refused = session.scalars(
                select(Message).where(Message.category == MessageCategory.FOLLOW_UP_REFUSED)
            ).all()
            audits = session.scalars(select(AuditEvent.action)).all()
        assert len(refused) == 2 and audits.count("follow-up-refused") == 2
        # Still waiting: the reminder still goes.
        tick(app, DUE + timedelta(days=14))
        assert len(to_lead(app)) == 2
    finally:
        app.close()


def test_no_follow_up_without_a_lead_or_with_a_review(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    try:
        decide(app, add_case(app, 1, DECEMBER), DECEMBER, no_further_review=True, lead_email=None)
        decide(app, add_case(app, 2, DECEMBER), DECEMBER, review_date=date(2027, 1, 12))
        tick(app, DUE + timedelta(days=30))
        assert sent_mail(app) == []
    finally:
        app.close()
