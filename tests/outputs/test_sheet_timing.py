"""R13, R15: "within 7 days" is one moment everywhere (the end of the 7th day after the meeting's
day, panel time), judged on when the outbox really sent the sheet, not when it was queued."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from pipeline.app import App
from pipeline.intake.poll import deliver_configured
from pipeline.jobs import run_due
from pipeline.outputs.quarterly import gather_quarter
from pipeline.outputs.status import after_meeting, decision_line
from pipeline.panel.decisions.sheets import sheet_jobs
from pipeline.rules.quarterly import Quarter
from pipeline.states import OutboxState
from pipeline.store.models import Case, DecisionSheet, OutboxItem
from tests.panel.test_decision_sheets import AFTER, at, decide, open_meeting, references

# The meeting is Tuesday 8 December 2026 (London = UTC in winter): the 7th day is the 15th.
LAST_MINUTE = datetime(2026, 12, 15, 23, 30, tzinfo=UTC)
NEXT_DAY = datetime(2026, 12, 16, 0, 30, tzinfo=UTC)


def _queue_held(folder: Path) -> tuple[App, str]:
    """One decision recorded; its sheet queued, then held by the outbox (a rate fuse)."""
    app = at(open_meeting(folder), AFTER)
    first, _ = references(app)
    decide(app, first)
    run_due(app, [sheet_jobs])
    with app.store.session() as session:
        [sheet] = session.scalars(select(DecisionSheet))
        item = session.get(OutboxItem, sheet.outbox_id)
        assert item is not None and item.status == OutboxState.PENDING
        item.status, item.hold_reason = OutboxState.HELD, "rate fuse"
    return app, first


def _release_and_send(app: App, moment: datetime) -> None:
    with app.store.session() as session:
        for item in session.scalars(select(OutboxItem).where(OutboxItem.status == "held")):
            item.status = OutboxState.PENDING
            item.next_attempt_at = moment
    deliver_configured(at(app, moment))


def _line(app: App, reference: str, today: datetime) -> str:
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        return decision_line(after_meeting(app.config, case, today.date()))


def _within(app: App) -> tuple[int, int]:
    with app.store.session() as session:
        figures = gather_quarter(app, session, Quarter(2026, 4), "masp")
        return figures.sheets_sent, figures.sheets_within


def test_a_held_sheet_shows_held_and_does_not_count_as_sent(tmp_path: Path) -> None:
    app, first = _queue_held(tmp_path)
    line = _line(app, first, AFTER)
    assert "HELD by the outbox" in line and "sent 08/12" not in line
    assert _within(app) == (0, 0)
    # Released after the due day: sent, and late.
    _release_and_send(app, NEXT_DAY)
    assert "sent 16/12/2026 LATE" in _line(app, first, NEXT_DAY)
    assert _within(app) == (1, 0)
    app.close()


def test_sent_late_on_the_seventh_day_is_on_time_in_status_and_the_quarter(
    tmp_path: Path,
) -> None:
    app, first = _queue_held(tmp_path)
    _release_and_send(app, LAST_MINUTE)
    assert "sent 15/12/2026 on time" in _line(app, first, LAST_MINUTE)
    assert _within(app) == (1, 1)
    app.close()
