"""R13: the filled decisions workbook comes back by email; it is checked whole, refused by cell
or recorded, a corrected one replaces the first, and a forged reply is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.panel.decisions.workbook import workbook_jobs
from pipeline.store.models import Action, AuditEvent, Case, Decision, DecisionImport, Message
from tests.decisions_helpers import ADMIN, MEETING, fill, seeded
from tests.helpers import Sent, attachments, drop, sent_to

AFTER = MEETING + timedelta(hours=4)
LEAD: dict[str, Any] = {
    "Outcome": "Accepted: multi-agency support agreed",
    "Lead Professional name": "Jo Lead",
    "Lead Professional agency": "education",
    "Lead Professional email": "jo.lead@school.example.org",
    "Review date": date(2027, 2, 2),
}
GOOD: dict[str, dict[str, Any]] = {
    "MASP-2026-0001": LEAD | {"LARP recommendation": "Yes", "LARP note": "Respite & support"},
    # Advice with a review date: the case stays open to be reviewed (without one, it closes).
    "MASP-2026-0002": {"Outcome": "Advice and guidance given", "Review date": date(2027, 3, 2)},
    "MASP-2026-0004": {
        "Outcome": "Closed: no further panel involvement",
        "Final review (closes the case)": "Yes",
    },
}
ACTIONS = [["MASP-2026-0001", "Share the plan", "Jo Lead", "Education", date(2027, 1, 5), "No"]]
# Three mistakes: no Lead Professional email, a review date in the past, an action with no owner.
BAD: dict[str, dict[str, Any]] = GOOD | {
    "MASP-2026-0001": GOOD["MASP-2026-0001"] | {"Lead Professional email": None},
    "MASP-2026-0002": {"Outcome": "Advice and guidance given", "Review date": date(2026, 12, 1)},
}
BAD_ACTIONS = [["MASP-2026-0001", "Share the plan", None, "Education", date(2027, 1, 5), "No"]]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    """The workbook job ran with the pack; the administrator has the workbook email."""
    app = seeded(tmp_path, now=MEETING - timedelta(days=1))
    run_due(app, (workbook_jobs,))
    deliver_configured(app)
    yield replace(app, clock=Clock.frozen_at(AFTER))
    app.close()


def workbook_email(app: App) -> Sent:
    [sent] = [s for s in sent_to(app, ADMIN) if ": decisions workbook for" in s.subject]
    return sent


def answer(app: App, body: bytes, sender: str = ADMIN, subject: str | None = None) -> None:
    mail = workbook_email(app)
    reply = samples.Mail(
        f"A Admin <{sender}>",
        subject if subject is not None else f"RE: {mail.subject}",
        body="Decisions attached.",
        in_reply_to=mail.message_id,
        files=[
            samples.File(
                "decisions.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                body,
            )
        ],
    )
    drop(app, reply, app.clock.now() - timedelta(minutes=5))
    poll(app)


def blank(app: App) -> bytes:
    [data] = attachments(workbook_email(app), ".xlsx")
    return data


def states(app: App) -> dict[str, str]:
    with app.store.session() as session:
        return {c.reference: str(c.state) for c in session.scalars(select(Case))}


def decisions(app: App) -> dict[str, tuple[int, str, list[tuple[str, bool]]]]:
    with app.store.session() as session:
        query = select(Decision).where(Decision.meeting == MEETING)
        return {
            d.case.reference: (
                d.import_id,
                d.outcome,
                [(a.text, a.done_at is not None) for a in d.actions],
            )
            for d in session.scalars(query)
        }


def test_the_workbook_goes_to_the_administrator_only_with_its_token(service: App) -> None:
    mail = workbook_email(service)
    assert mail.to == ADMIN and "[decisions:" in mail.subject
    assert "masp decisions import FILE" in mail.text() and "within 7 days" in mail.text()
    assert not [s for s in sent_to(service, "chair@example.org") if "decisions" in s.subject]


def test_three_errors_come_back_by_cell_and_change_nothing(service: App) -> None:
    before = states(service)
    answer(service, fill(blank(service), BAD, BAD_ACTIONS))
    deliver_configured(service)
    [refused] = [s for s in sent_to(service, ADMIN) if "was not recorded" in s.subject]
    text = refused.text()
    assert "Decisions!J2: MASP-2026-0001 needs a Lead Professional: give their email" in text
    assert "Decisions!K3: the review date 01/12/2026 is before the meeting" in text
    assert "Actions!C3: the action has no owner" in text
    assert states(service) == before and decisions(service) == {}
    with service.store.session() as session:
        [row] = session.scalars(select(DecisionImport).where(DecisionImport.meeting == MEETING))
        assert row.status == "refused" and len(row.problems) == 3
        assert session.scalars(select(Message.category)).all()[-1] == "decisions"


def test_the_corrected_workbook_records_and_a_second_replaces_it(service: App) -> None:
    answer(service, fill(blank(service), BAD, BAD_ACTIONS))
    answer(
        service,
        fill(
            blank(service),
            GOOD,
            ACTIONS,
        ),
    )
    deliver_configured(service)
    [recorded] = [s for s in sent_to(service, ADMIN) if "decisions recorded" in s.subject]
    assert "MASP-2026-0001 (presented): Accepted" in recorded.text()
    assert states(service) == {
        "MASP-2026-0001": "decided",
        "MASP-2026-0002": "decided",
        "MASP-2026-0003": "decided",
        "MASP-2026-0004": "closed",
    }
    first = decisions(service)
    assert first["MASP-2026-0001"][2] == [("Share the plan", False)]
    assert first["MASP-2026-0004"][2] == [("Book a family meeting", True)]
    with service.store.session() as session:
        lead = session.scalars(select(Decision).where(Decision.lead_agency.is_not(None))).all()
        assert {d.lead_agency for d in lead} == {"Education"}
    # A second, corrected workbook: case 2 now has an action; it replaces the first.
    again: dict[str, dict[str, Any]] = GOOD | {"MASP-2026-0002": LEAD}
    answer(service, fill(blank(service), again, ACTIONS))
    second = decisions(service)
    assert second["MASP-2026-0002"][1].startswith("Accepted")
    assert second["MASP-2026-0001"][0] != first["MASP-2026-0001"][0]
    with service.store.session() as session:
        assert session.scalars(select(Action).where(Action.case_id == 1)).all()[0].position == 1
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "decision-recorded"))
        replaced = [r.detail["replaced"] for r in rows]
    assert replaced == [False, False, False, True, True, True]


def test_a_forged_reply_is_refused_and_the_administrator_alerted(service: App) -> None:
    good = fill(blank(service), GOOD, ACTIONS)
    answer(service, good, sender="intruder@example.org")
    mail = workbook_email(service)
    forged = mail.subject.replace("[decisions:", "[decisions:0").replace(".", "0.", 1)
    answer(service, good, subject=f"RE: {forged[:-3]}]")
    deliver_configured(service)
    alerts = [s for s in sent_to(service, ADMIN) if "was not applied" in s.subject]
    assert len(alerts) == 2
    assert "not from the administrator" in alerts[0].text()
    assert decisions(service) == {} and states(service)["MASP-2026-0001"] == "approved"
    with service.store.session() as session:
        categories = session.scalars(select(Message.category)).all()
        assert categories.count("decisions_refused") == 2


def reply_to(app: App, mail: Sent, body: bytes) -> None:
    """The administrator answers `mail` (not the workbook email) with a workbook attached."""
    reply = samples.Mail(
        f"A Admin <{ADMIN}>",
        f"RE: {mail.subject}",
        body="Corrected.",
        in_reply_to=mail.message_id,
        files=[
            samples.File(
                "decisions.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                body,
            )
        ],
    )
    drop(app, reply, app.clock.now() - timedelta(minutes=1))
    poll(app)


def test_a_reply_to_the_refusal_with_the_corrected_workbook_is_recorded(service: App) -> None:
    answer(service, fill(blank(service), BAD, BAD_ACTIONS))
    deliver_configured(service)
    [refused] = [s for s in sent_to(service, ADMIN) if "was not recorded" in s.subject]
    assert "[decisions:" in refused.subject
    before = set(states(service))
    reply_to(service, refused, fill(blank(service), GOOD, ACTIONS))
    deliver_configured(service)
    assert decisions(service), "the corrected workbook was not recorded"
    assert set(states(service)) == before, "the reply opened a new case"
    [recorded] = [s for s in sent_to(service, ADMIN) if "decisions recorded" in s.subject]
    assert "[decisions:" in recorded.subject
    # Replying to the "recorded" email with a further correction replaces the decisions too.
    again: dict[str, dict[str, Any]] = GOOD | {"MASP-2026-0002": LEAD}
    reply_to(service, recorded, fill(blank(service), again, ACTIONS))
    assert decisions(service)["MASP-2026-0002"][1].startswith("Accepted")
    assert set(states(service)) == before
