"""The decisions entry form (R13) in the console: the same checks as a returned workbook, each
problem shown by its field, and the same recording when all is right."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.panel.decisions.record import record_workbook
from pipeline.panel.screening.decisions import decide_by_administrator
from pipeline.rules import decisions as rule
from pipeline.rules.reply_text import Decision as Screening
from pipeline.states import Outcome, Verdict
from pipeline.store.models import (
    Action,
    AuditEvent,
    Case,
    Decision,
    DecisionImport,
    MeetingWorkbook,
)
from pipeline.web.decisions import field_id
from pipeline.web.users import Role
from tests.decisions_helpers import MEETING, fill, make_workbook, seeded
from tests.helpers import sent_to
from tests.web.conftest import FIRST, Console, add_accounts, csrf_of, serve, sign_in, signed_in
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


# Two action lines for FIRST (row 2 of the form): what, who, which agency, by when.
TWO_LINES = {
    "a2-lines": "2",
    "a2-1-b": "Arrange a team around the family meeting",
    "a2-1-c": "Lee Lead",
    "a2-1-d": "education",
    "a2-1-e": "15/12/2026",
    "a2-2-b": "Share the assessment with Health",
    "a2-2-c": "Sam Social",
    "a2-2-e": "2027-01-05",
}


def recorded_actions(app: App) -> list[tuple[str, int, str, str, str | None, date, bool]]:
    """Every recorded action line: case, position, what, who, agency, by when, done."""
    with app.store.session() as session:
        found = session.execute(
            select(Case.reference, Action)
            .join(Case, Case.id == Action.case_id)
            .order_by(Case.reference, Action.position)
        )
        return [
            (ref, a.position, a.text, a.owner, a.agency, a.due, a.done_at is not None)
            for ref, a in found
        ]


def test_action_lines_are_recorded_with_the_decision_and_shown_again(
    after_the_meeting: Console,
) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    page = client.get(FORM)
    # A case with no action yet offers blank lines, each field labelled for its case and line.
    assert 'name="a2-lines" value="2"' in page.text
    assert f"Owner (action 2 for {FIRST})" in text_of(page.text)
    token = csrf_of(page.text)
    answer = client.post(FORM, data={"csrf_token": token, **WHOLE, **TWO_LINES})
    assert answer.status_code == 303, text_of(answer.text)
    assert recorded_actions(after_the_meeting.app) == [
        (FIRST, 1, TWO_LINES["a2-1-b"], "Lee Lead", "Education", date(2026, 12, 15), False),
        (FIRST, 2, TWO_LINES["a2-2-b"], "Sam Social", None, date(2027, 1, 5), False),
    ]
    with after_the_meeting.app.store.session() as session:
        last = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "decision-recorded")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert last is not None and last.detail["actions"] == 2
    # Opened again, each line holds what was recorded, with two blank lines below.
    again = client.get(FORM).text
    assert 'name="a2-lines" value="4"' in again
    assert 'id="a2-1-d" name="a2-1-d" type="text" spellcheck="false" value="Education"' in again
    assert 'name="a2-2-e" type="text" spellcheck="false" value="05/01/2027"' in again
    assert 'name="a2-3-b" type="text" spellcheck="false" value=""' in again


def test_a_wrong_action_line_is_refused_by_its_field_and_nothing_is_recorded(
    after_the_meeting: Console,
) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    token = csrf_of(client.get(FORM).text)
    before = recorded_actions(after_the_meeting.app)
    with after_the_meeting.app.store.session() as session:
        imports = len(session.scalars(select(DecisionImport)).all())
    wrong = TWO_LINES | {"a2-1-e": "31/02/2027", "a2-2-c": "", "a2-3-b": "Ring the school"}
    wrong |= {"a2-lines": "3", "a2-3-c": "Kim", "a2-3-e": "01/12/2026"}
    answer = client.post(FORM, data={"csrf_token": token, **WHOLE, **wrong})
    assert answer.status_code == 400
    words = html.unescape(text_of(answer.text))
    # The workbook's own words, each linked from the summary to its field and shown by it.
    assert '<a href="#a2-1-e">"31/02/2027" is not a date: write the date as dd/mm/yyyy' in (
        html.unescape(answer.text)
    )
    assert '<a href="#a2-2-c">The action has no owner</a>' in answer.text
    assert '<a href="#a2-3-e">The date 01/12/2026 is before the meeting' in answer.text
    assert 'id="a2-2-c-error"' in answer.text and 'aria-describedby="a2-2-c-error"' in answer.text
    assert "Error: The action has no owner" in words
    # What was typed is shown again, in its place.
    assert 'id="a2-1-e" name="a2-1-e" type="text" spellcheck="false" value="31/02/2027"' in (
        answer.text
    )
    assert 'name="a2-lines" value="3"' in answer.text
    assert recorded_actions(after_the_meeting.app) == before
    with after_the_meeting.app.store.session() as session:
        assert len(session.scalars(select(DecisionImport)).all()) == imports
    # Lines for a case with no decision: the case's outcome is asked for, nothing recorded.
    lines_only = client.post(FORM, data={"csrf_token": token, **TWO_LINES})
    assert lines_only.status_code == 400
    assert f'<a href="#d2-g">{FIRST} has no outcome: choose one from the list</a>' in (
        lines_only.text
    )
    assert recorded_actions(after_the_meeting.app) == before


def test_more_lines_are_added_without_recording(after_the_meeting: Console) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    token = csrf_of(client.get(FORM).text)
    before = recorded_actions(after_the_meeting.app)
    more = client.post(FORM, data={"csrf_token": token, **WHOLE, **TWO_LINES, "more": "lines"})
    assert more.status_code == 200 and "There is a problem" not in more.text
    assert 'name="a2-lines" value="4"' in more.text and 'id="a2-4-b"' in more.text
    assert 'value="Sam Social"' in more.text and 'value="Lee Lead"' in more.text
    # A forged count is capped: the page stays bounded.
    many = client.post(FORM, data={"csrf_token": token, "a2-lines": "100000", "more": "lines"})
    assert many.status_code == 200 and 'name="a2-lines" value="60"' in many.text
    assert recorded_actions(after_the_meeting.app) == before


def test_an_action_line_is_corrected_and_another_removed_in_place(
    after_the_meeting: Console,
) -> None:
    client = signed_in(after_the_meeting, Role.ADMINISTRATOR)
    token = csrf_of(client.get(FORM).text)
    first = client.post(FORM, data={"csrf_token": token, **WHOLE, **TWO_LINES})
    assert first.status_code == 303, text_of(first.text)
    # The page as opened again: the recorded lines and two blank ones; line 1 corrected and
    # marked done, line 2 ticked Remove.
    shown = TWO_LINES | {"a2-lines": "4", "a2-1-d": "Education", "a2-2-e": "05/01/2027"}
    changed = shown | {"a2-1-c": "Jo Other", "a2-1-f": "Yes", "a2-2-remove": "Yes"}
    answer = client.post(FORM, data={"csrf_token": token, **WHOLE, **changed})
    assert answer.status_code == 303, text_of(answer.text)
    assert recorded_actions(after_the_meeting.app) == [
        (FIRST, 1, TWO_LINES["a2-1-b"], "Jo Other", "Education", date(2026, 12, 15), True),
    ]
    again = client.get(FORM).text
    assert 'name="a2-1-f" type="checkbox" value="Yes" checked' in again
    assert 'name="a2-lines" value="3"' in again and 'value="Sam Social"' not in again
    # A line cleared is removed too: the decision keeps no action.
    cleared = {"a2-lines": "3", "a2-1-b": "", "a2-1-c": "", "a2-1-d": "", "a2-1-e": ""}
    answer = client.post(FORM, data={"csrf_token": token, **WHOLE, **cleared})
    assert answer.status_code == 303, text_of(answer.text)
    assert recorded_actions(after_the_meeting.app) == []


@dataclasses.dataclass
class Seeded:
    """A console over the workbook tests' meeting (two cases on the agenda, one moved away,
    a review due with an open action), its clock after the meeting."""

    app: App
    client: httpx.Client


@pytest.fixture
def seeded_console(tmp_path: Path) -> Iterator[Seeded]:
    (tmp_path / "form").mkdir()
    app = dataclasses.replace(seeded(tmp_path / "form"), clock=Clock.frozen_at(AFTER))
    add_accounts(app)
    server, thread, port = serve(app)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        assert sign_in(client, "admin@example.org").status_code == 303
        yield Seeded(app, client)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.close()


# The decisions of the workbook tests, as typed into the form (rows: 0001, 0002, 0004) and
# into the workbook (by header), with the same action lines.
REVIEW = "MASP-2026-0004"
# The review's open action as the form shows it pre-filled, by its fields' letters.
KEPT = {"b": "Book a family meeting", "c": "Lee Lead", "d": "Education", "e": "30/11/2026"}
# An outcome field's label names its case: (form row, reference).
OUTCOME_LABEL = r'for="d(\d+)-g">Outcome<span class="govuk-visually-hidden"> for ([A-Z0-9-]+)<'
BY_HEADER: dict[str, dict[str, Any]] = {
    "MASP-2026-0001": {
        "Outcome": Outcome.ACCEPTED.value,
        "Lead Professional name": "Jo Lead",
        "Lead Professional agency": "Education",
        "Lead Professional email": "jo.lead@school.example.org",
        "Review date": "02/02/2027",
    },
    "MASP-2026-0002": {"Outcome": Outcome.ADVICE.value, "Review date": "02/03/2027"},
    REVIEW: {
        "Outcome": Outcome.ACCEPTED.value,
        "Lead Professional name": "Jo Lead",
        "Lead Professional email": "jo.lead@school.example.org",
        "Review date": "02/02/2027",
    },
}
NEW_ACTIONS = [
    (
        "MASP-2026-0001",
        "Hold a team around the family meeting",
        "Jo Lead",
        "Education",
        "15/12/2026",
        "",
    ),
    ("MASP-2026-0001", "Refer to the school nurse", "Pat Nurse", "Health", "08/01/2027", ""),
    (REVIEW, "Write to the family", "Jo Lead", "", "20/12/2026", "Yes"),
]


def decisions_recorded(app: App) -> list[dict[str, Any]]:
    """Every decision as the store holds it (what any later step reads), with its actions."""
    columns = (
        "heard_as",
        "outcome",
        "lead_name",
        "lead_agency",
        "lead_email",
        "review_date",
        "no_further_review",
        "larp",
        "larp_note",
        "final",
        "notes",
        "recorded_at",
    )
    with app.store.session() as session:
        query = select(Decision).join(Case).order_by(Case.reference, Decision.meeting)
        return [
            {c: getattr(d, c) for c in columns}
            | {
                "reference": d.case.reference,
                "state": d.case.state,
                "actions": [
                    (a.position, a.text, a.owner, a.agency, a.due, a.done_at) for a in d.actions
                ],
            }
            for d in session.scalars(query)
        ]


def test_the_form_records_what_the_same_workbook_records(
    seeded_console: Seeded, tmp_path: Path
) -> None:
    client = seeded_console.client
    page = client.get(FORM)
    assert page.status_code == 200
    rows = {ref: int(row) for row, ref in re.findall(OUTCOME_LABEL, page.text)}
    assert sorted(rows) == ["MASP-2026-0001", "MASP-2026-0002", REVIEW]
    # The review comes pre-filled with its open action, as in the workbook.
    review = rows[REVIEW]
    assert f'name="a{review}-1-b" type="text" spellcheck="false" value="Book a family meeting"' in (
        page.text
    )
    assert f'name="a{review}-1-e" type="text" spellcheck="false" value="30/11/2026"' in page.text
    form = {"csrf_token": csrf_of(page.text)}
    columns = {header: column for column, header in enumerate(rule.DECISION_HEADERS, start=1)}
    for ref, values in BY_HEADER.items():
        form |= {field_id(rows[ref], columns[h]): v for h, v in values.items()}
    # The review's pre-filled line stays as it is (kept open); the new lines follow it.
    form |= {f"a{review}-1-{c}": v for c, v in KEPT.items()}
    counts = {ref: 1 if ref == REVIEW else 0 for ref in rows}
    for ref, *line in NEW_ACTIONS:
        counts[ref] += 1
        form |= {
            f"a{rows[ref]}-{counts[ref]}-{c}": v for c, v in zip("bcdef", line, strict=True) if v
        }
    form |= {f"a{rows[ref]}-lines": str(n) for ref, n in counts.items()}
    answer = client.post(FORM, data=form)
    assert answer.status_code == 303, text_of(answer.text)

    (tmp_path / "workbook").mkdir()
    workbook_app = seeded(tmp_path / "workbook", now=MEETING - timedelta(days=1))
    try:
        data, sent = make_workbook(workbook_app)
        filled = fill(data, BY_HEADER, actions=[list(a) for a in NEW_ACTIONS], done="No")
        later = dataclasses.replace(workbook_app, clock=Clock.frozen_at(AFTER))
        with later.store.session() as session:
            row = record_workbook(
                later, session, filled, "email", workbook=session.get(MeetingWorkbook, sent.id)
            )
            assert row.status == "applied", row.problems
        expected = decisions_recorded(later)
    finally:
        workbook_app.close()
    recorded = decisions_recorded(seeded_console.app)
    assert recorded == expected
    # The review's decision at this meeting (after its November one).
    *_, review_decision = [d for d in recorded if d["reference"] == REVIEW]
    assert [line[1] for line in review_decision["actions"]] == [
        "Book a family meeting",
        "Write to the family",
    ]


def test_a_review_left_as_pre_filled_is_not_decided_now(seeded_console: Seeded) -> None:
    client = seeded_console.client
    page = client.get(FORM)
    form = {"csrf_token": csrf_of(page.text)}
    # Only the first case is filled in; the review's pre-filled line is posted as shown.
    form |= {"d2-g": Outcome.ADVICE.value, "d2-k": "02/03/2027"}
    review = re.search(r'name="a(\d+)-1-b" type="text" spellcheck="false" value="Book', page.text)
    assert review is not None
    row = review.group(1)
    form |= {f"a{row}-1-{c}": v for c, v in KEPT.items()}
    form[f"a{row}-lines"] = "3"
    answer = client.post(FORM, data=form)
    assert answer.status_code == 303, text_of(answer.text)
    # Recorded now: the first case's decision only (the review keeps its November one).
    now = [
        d["reference"] for d in decisions_recorded(seeded_console.app) if d["recorded_at"] == AFTER
    ]
    assert now == ["MASP-2026-0001"]
