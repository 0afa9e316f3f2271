"""What the referrer and the chair are told: no LARP papers "sent" when nobody was configured
to send them to, and no requirement numbers in the chair's email."""

from __future__ import annotations

from pathlib import Path

from tests.panel.test_decision_sheets import (
    AFTER,
    FIRST,
    LARP,
    at,
    decide,
    open_meeting,
    references,
    tick,
    to,
)
from tests.test_templates import CONTEXT, TEMPLATES


def _sheet_text(folder: Path, **overrides: object) -> str:
    app = at(open_meeting(folder, **overrides), AFTER)
    first, _ = references(app)
    decide(app, first, larp=True)
    tick(app)
    [mail] = [s for s in to(app, FIRST.referrer_email) if "decision sheet" in s.subject]
    app.close()
    return " ".join(mail.text().split())


def test_with_no_larp_contact_the_referrer_is_told_the_administrator_passes_the_papers_on(
    tmp_path: Path,
) -> None:
    text = _sheet_text(tmp_path)
    assert "has sent it the papers" not in text
    assert "administrator is passing the papers on" in text


def test_with_a_larp_contact_the_referrer_is_told_the_papers_went(tmp_path: Path) -> None:
    text = _sheet_text(tmp_path, people__larp=LARP)
    assert "has sent it the papers" in text


def test_the_chairs_quarterly_email_names_no_requirement() -> None:
    rendered = TEMPLATES.render("quarterly_report", CONTEXT)
    assert "R15" not in rendered.text and "R15" not in rendered.html
