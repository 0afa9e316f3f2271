"""An action typed in the meeting ("Call Robin's mum") shows the child's initial, not the name,
in the decisions workbook's Actions sheet, in `masp status`, and in the follow-up emails."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from pipeline.outputs.status import after_meeting
from pipeline.outputs.workbook import gather_workbook
from pipeline.store.models import Case
from tests.panel.decisions.test_agenda_reviews import JANUARY, world


def test_the_workbook_and_status_show_an_action_without_the_childs_name(tmp_path: Path) -> None:
    app = world(tmp_path)
    with app.store.session() as session:
        facts = gather_workbook(app, session, "masp", JANUARY, 1)
        texts = [a.text for a in facts.actions]
        assert "Call R.'s mum about school" in texts
        assert not any("Robin" in t for t in texts)
        case = session.scalars(select(Case).where(Case.reference == "MASP-2026-0001")).one()
        shown = [a["text"] for a in after_meeting(app.config, case, date(2027, 1, 10))["actions"]]
        assert "Call R.'s mum about school" in shown
        assert not any("Robin" in t for t in shown)
    app.close()
