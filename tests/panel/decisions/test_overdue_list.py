"""Agenda section 1 (R11, R14): the overdue actions listed for the chair are the most overdue,
a few dozen at most, then a count of the rest; a closed case's actions are over."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline.outputs.agenda import OVERDUE_LISTED
from pipeline.states import CaseState
from pipeline.store.lifecycle import move
from pipeline.store.models import Case
from tests.helpers import open_service
from tests.panel.decisions.fixtures import Agreed, add_case, decide
from tests.panel.decisions.test_agenda_reviews import DECEMBER, JANUARY, NOW, PANEL, section_one


def test_the_chair_sees_the_most_overdue_actions_then_how_many_more(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, panels=[PANEL])
    many = add_case(app, 1, DECEMBER)
    first_due = date(2026, 11, 30)
    actions = tuple(
        Agreed(f"Task {n:02d}", "Education", first_due + timedelta(days=n)) for n in range(35)
    )
    decide(app, many, DECEMBER, actions, no_further_review=True)
    closed = add_case(app, 2, DECEMBER)
    decide(app, closed, DECEMBER, (Agreed("Closed task", "Health", first_due),))
    with app.store.session() as session:
        move(session.get_one(Case, closed), CaseState.CLOSED)
    entries = [text for text, _ in section_one(app, JANUARY)]
    assert entries[0] == "Overdue actions, for the chair:"
    listed = entries[1 : 1 + OVERDUE_LISTED]
    assert [t.split(": ", 1)[1].split(" — ")[0] for t in listed] == [
        f"Task {n:02d}" for n in range(OVERDUE_LISTED)
    ]
    assert entries[1 + OVERDUE_LISTED :] == ["… and 5 more: see masp status"]
    assert not any("Closed task" in t for t in entries)
    with app.store.session() as session:
        assert session.scalars(select(Case.state).where(Case.id == closed)).one() == "closed"
    app.close()
