"""`masp tick`'s job runner: each job once, stale jobs skipped, failures retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.errors import PipelineError
from pipeline.jobs import Action, Job, run_due
from pipeline.store.models import AuditEvent, JobRun
from tests.helpers import open_service

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def note(text: str) -> Action:
    def action(app: App, session: Session) -> None:
        session.add(AuditEvent(at=app.clock.now(), action=text, detail={}))

    return action


def audit_actions(app: App) -> list[str]:
    with app.store.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_each_job_runs_once_in_time_order_and_stale_ones_are_skipped(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)

    def source(_app: App, _session: Session, _now: datetime) -> list[Job]:
        return [
            Job("late", NOW - timedelta(hours=1), note("late")),
            Job("early", NOW - timedelta(hours=2), note("early")),
            Job("future", NOW + timedelta(hours=1), note("future")),
            Job("stale", NOW - timedelta(days=3), note("stale"), stale_after=NOW - timedelta(1)),
        ]

    first = run_due(app, [source])
    second = run_due(app, [source])
    assert first.done == ["early", "late"] and first.skipped == ["stale"]
    assert second.done == [] and second.skipped == []
    assert audit_actions(app) == ["early", "late"]
    app.close()
    later = open_service(tmp_path, NOW + timedelta(hours=2))
    assert run_due(later, [source]).done == ["future"]
    later.close()


def test_a_failed_job_rolls_back_and_is_tried_again(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    attempts: list[int] = []

    def flaky(app: App, session: Session) -> None:
        note("flaky")(app, session)
        attempts.append(1)
        if len(attempts) == 1:
            raise PipelineError("the mail server said later")

    def source(_app: App, _session: Session, _now: datetime) -> list[Job]:
        return [Job("flaky", NOW, flaky)]

    assert run_due(app, [source]).failed == ["flaky"]
    assert audit_actions(app) == []
    assert run_due(app, [source]).done == ["flaky"]
    assert audit_actions(app) == ["flaky"]
    with app.store.session() as session:
        assert [r.outcome for r in session.scalars(select(JobRun))] == ["done"]
    app.close()


def test_clock_is_the_only_time_source(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    assert isinstance(app.clock, Clock) and app.clock.now() == NOW
    app.close()
