"""R13: one case's sheet failing never holds up the other referrers' sheets of its meeting.

From the first review (review1/test_sheet_block*.py): a damaged stored pack (or its files gone)
used to stop every sheet at the meeting, every tick.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.config import Config
from pipeline.outputs import decision_sheet
from pipeline.outputs.decision_sheet import SheetFacts
from pipeline.panel.decisions import larp as larp_step
from pipeline.panel.decisions import sheets as sheets_step
from pipeline.store.models import Case, Decision, Pack
from tests.helpers import Sent, attachments, sent_mail
from tests.panel.test_decision_sheets import (
    AFTER,
    FIRST,
    LARP,
    SECOND,
    at,
    decide,
    open_meeting,
    pdf_text,
    references,
    sheets,
    tick,
    to,
)


def _sheet_mails(app: App, address: str) -> list[Sent]:
    return [s for s in to(app, address) if "decision sheet" in s.subject]


def _failed_alerts(app: App) -> list[Sent]:
    return [s for s in sent_mail(app) if "decision sheet not sent" in s.subject]


def test_a_damaged_pack_still_sends_both_sheets_and_larp_gets_the_case_papers(
    tmp_path: Path,
) -> None:
    app = at(open_meeting(tmp_path, people__larp=LARP), AFTER)
    first, second = references(app)
    decide(app, first, larp=True)
    decide(app, second)
    with app.store.session() as session:
        for pack in session.scalars(select(Pack)):
            (app.config.data_path / pack.stored_path).write_bytes(b"not a pdf")
    tick(app)
    assert _sheet_mails(app, FIRST.referrer_email) and _sheet_mails(app, SECOND.referrer_email)
    [larp] = to(app, LARP["email"])
    papers = [a for a in attachments(larp, ".pdf") if first in pdf_text(a)]
    assert papers, "the LARP contact got the case papers laid out afresh"
    assert not _failed_alerts(app)
    app.close()


def test_a_case_whose_papers_cannot_be_made_fails_alone_and_the_administrator_is_told_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = at(open_meeting(tmp_path, people__larp=LARP), AFTER)
    first, second = references(app)
    decide(app, first, larp=True)
    decide(app, second)
    with app.store.session() as session:
        for pack in session.scalars(select(Pack)):
            (app.config.data_path / pack.stored_path).unlink()

    def gone(*_: object) -> bytes:
        raise OSError("the case's stored conversions are unreadable")

    monkeypatch.setattr(larp_step, "case_papers", gone)
    for _ in range(3):
        tick(app)
    assert len(_sheet_mails(app, SECOND.referrer_email)) == 1
    assert not _sheet_mails(app, FIRST.referrer_email)
    assert [s.version for s in sheets(app)] == [1]
    [alert] = _failed_alerts(app)
    assert first in alert.subject and second not in alert.text()
    assert "Robin" not in alert.text()
    app.close()


def test_a_decision_whose_facts_cannot_be_read_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = at(open_meeting(tmp_path, people__larp=LARP), AFTER)
    first, second = references(app)
    decide(app, first)
    decide(app, second)
    real = decision_sheet.sheet_facts

    def facts(config: Config, case: Case, decision: Decision) -> SheetFacts:
        if case.reference == first:
            raise ValueError("a field the sheet cannot read")
        return real(config, case, decision)

    monkeypatch.setattr(sheets_step, "sheet_facts", facts)
    tick(app)
    tick(app)
    assert _sheet_mails(app, SECOND.referrer_email)
    assert not _sheet_mails(app, FIRST.referrer_email)
    [alert] = _failed_alerts(app)
    assert first in alert.subject
    app.close()
