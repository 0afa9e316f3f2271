"""Shared by the decisions workbook tests: a meeting with cases, its workbook, filling it in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import samples
from pipeline.app import App
from pipeline.panel.decisions.workbook import send_workbook
from pipeline.store.models import Action, Case, Decision, DecisionImport, MeetingWorkbook
from tests.helpers import open_service

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# The second Tuesday of December 2026, 10:00 in London (GMT).
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
NAMES = ("Robin Testcase", "Sky Example", "Ash Placeholder", "Rowan Invented")
ADMIN = "admin@example.org"


def applied_import(
    session: Session, meeting: datetime, at: datetime, panel_id: str = "masp"
) -> DecisionImport:
    """The applied workbook import a decision row points at, as `masp decisions import` leaves
    one: tests and benchmarks that write decisions straight into the store need it first."""
    imported = DecisionImport(
        panel_id=panel_id,
        meeting=meeting,
        source="command",
        sha256="0" * 64,
        stored_path="imports/workbook.xlsx",
        status="applied",
        problems=[],
        imported_at=at,
    )
    session.add(imported)
    session.flush()
    return imported


def add_case(app: App, n: int, state: str, meeting: datetime = MEETING) -> None:
    with app.store.session() as session:
        session.add(
            Case(
                reference=f"MASP-2026-{n:04d}",
                panel_id="masp",
                meeting=meeting,
                state=state,
                referrer_email=f"ref{n}@school.example.org",
                received_at=NOW - timedelta(days=30 - n),
                section20=False,
                flags=[],
                fields={
                    "child_name": NAMES[n - 1],
                    "child_dob": "2016-12-09",
                    "request_types": ["advice"],
                },
            )
        )


def add_review(app: App, n: int) -> None:
    """Case n, decided at November's meeting with a review in December and one open action."""
    add_case(app, n, "decided", meeting=EARLIER)
    with app.store.session() as session:
        case = session.scalars(select(Case).where(Case.reference == f"MASP-2026-{n:04d}")).one()
        first = applied_import(session, EARLIER, EARLIER)
        decision = Decision(
            case_id=case.id,
            panel_id="masp",
            meeting=EARLIER,
            import_id=first.id,
            outcome="Accepted: multi-agency support agreed",
            lead_name="Lee Lead",
            lead_email="lead@school.example.org",
            review_date=date(2026, 12, 1),
            recorded_at=EARLIER,
        )
        decision.actions = [
            Action(
                case_id=case.id,
                position=1,
                text="Book a family meeting",
                owner="Lee Lead",
                agency="Education",
                due=date(2026, 11, 30),
            )
        ]
        session.add(decision)


def seeded(tmp_path: Path, now: datetime = NOW, **overrides: Any) -> App:
    """Two approved cases on December's agenda, one moved away, one review due."""
    app = open_service(tmp_path, now, **overrides)
    add_case(app, 1, "approved")
    add_case(app, 2, "approved")
    add_case(app, 3, "decided", meeting=EARLIER)
    add_review(app, 4)
    return app


def make_workbook(app: App) -> tuple[bytes, MeetingWorkbook]:
    with app.store.session() as session:
        row = send_workbook(app, session, "masp", MEETING)
        session.flush()
        session.expunge(row)
    return (app.config.data_path / row.stored_path).read_bytes(), row


fill = samples.fill_workbook
