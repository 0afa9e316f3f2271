"""The decisions entry form (R13) in the console: the same checks as a returned workbook, each
problem shown by its field, and the same recording when all is right."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pipeline.clock import Clock
from pipeline.panel.screening.decisions import decide_by_administrator
from pipeline.rules.reply_text import Decision as Screening
from pipeline.states import Outcome, Verdict
from pipeline.store.models import AuditEvent, Case, Decision, DecisionImport
from pipeline.web.users import Role
from tests.helpers import sent_to
from tests.web.conftest import FIRST, Console, csrf_of, signed_in
from tests.web.test_pages import text_of

FORM = "/meetings/masp/2026-12-08/decisions"
# An hour after the December meeting began.
AFTER = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
WHOLE = {
    "d2-g": Outcome.ACCEPTED.value,
    "d2-h": "Lee Lead",
    "d2-i": "School",
    "d2-j": "lee.lead@school.example.org",
    "d2-k": "12/01/2027",
    "d2-p": "Agreed at the meeting.",
}


@pytest.fixture
def after_the_meeting(console: Console) -> Iterator[Console]:
    """The console with its clock an hour into the December meeting, FIRST approved (on the
    agenda)."""
    with console.app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == FIRST))
        assert case is not None
        if case.state.value == "screening":
            decide_by_administrator(console.app, session, FIRST, Screening(Verdict.APPROVE))
    state = console.web.state
    state.masp = dataclasses.replace(console.app, clock=Clock.frozen_at(AFTER))
    try:
        yield console
    finally:
        state.masp = console.app


def test_before_the_meeting_the_form_is_refused(console: Console) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get(FORM)
    assert page.status_code == 400 and "has not started yet" in page.text


def test_only_the_administrator_and_only_with_the_token(after_the_meeting: Console) -> None:
    chair = signed_in(after_the_meeting, Role.CHAIR)
    assert chair.get(FORM).status_code == 403
    token = csrf_of(chair.get("/board").text)
    assert chair.post(FORM, data={"csrf_token": token, **WHOLE}).status_code == 403
    admin = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    refused = admin.post(FORM, data=WHOLE)
    assert refused.status_code == 403 and "was not sent from this console" in refused.text


def test_problems_are_shown_by_their_fields_and_nothing_is_recorded(
    after_the_meeting: Console,
) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    page = client.get(FORM)
    assert page.status_code == 200
    assert f"{FIRST} (presented)" in text_of(page.text)
    token = csrf_of(page.text)
    nothing = client.post(FORM, data={"csrf_token": token})
    assert nothing.status_code == 400
    assert '<a href="#d2-g">The workbook records no decisions</a>' in nothing.text
    partial = {"csrf_token": token, "d2-g": Outcome.ACCEPTED.value, "d2-k": "31/02/2027"}
    answer = client.post(FORM, data=partial)
    assert answer.status_code == 400
    words = html.unescape(text_of(answer.text))
    assert f"Error: {FIRST} needs a Lead Professional: give a name" in words
    assert '"31/02/2027" is not a date: write the review date as dd/mm/yyyy' in words
    assert '<a href="#d2-h">' in answer.text and '<a href="#d2-k">' in answer.text
    assert 'value="31/02/2027"' in answer.text
    assert f'<option value="{Outcome.ACCEPTED.value}" selected>' in answer.text
    with after_the_meeting.app.store.session() as session:
        assert session.scalars(select(Decision)).all() == []
        assert session.scalars(select(DecisionImport)).all() == []


def test_whole_decisions_are_recorded_as_a_workbook_s_are(after_the_meeting: Console) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    token = csrf_of(client.get(FORM).text)
    before = len(sent_to(after_the_meeting.app, "admin@example.org"))
    answer = client.post(FORM, data={"csrf_token": token, **WHOLE})
    assert answer.status_code == 303, text_of(answer.text)
    assert answer.headers["location"] == "/meetings/masp/2026-12-08"
    meeting = text_of(client.get("/meetings/masp/2026-12-08").text)
    assert "The decisions are recorded" in meeting
    assert f"{FIRST} {Outcome.ACCEPTED.value} Lee Lead, School 2027-01-12" in meeting
    with after_the_meeting.app.store.session() as session:
        [decision] = session.scalars(select(Decision)).all()
        assert decision.lead_email == "lee.lead@school.example.org"
        [entered] = session.scalars(select(DecisionImport)).all()
        assert (entered.source, entered.status) == ("console", "applied")
        actions = {
            e.action: e.detail
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("decision%")))
        }
    assert actions["decisions-entered"]["by"] == "web:admin@example.org"
    assert actions["decision-recorded"]["import_id"] == entered.id
    # The administrator is told, as after a workbook.
    assert len(sent_to(after_the_meeting.app, "admin@example.org")) > before
    # Opened again, the form holds what was recorded, to correct it.
    again = client.get(FORM).text
    assert f'<option value="{Outcome.ACCEPTED.value}" selected>' in again
    assert 'value="Lee Lead"' in again
