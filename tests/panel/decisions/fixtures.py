"""Decided cases made directly in the database, as the decisions import would leave them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline.app import App
from pipeline.states import CaseState, Outcome
from pipeline.store.lifecycle import move
from pipeline.store.models import Action, Case, Decision
from tests.decisions_helpers import applied_import

NAMES = ("Robin Testcase", "Sky Example", "Ash Placeholder", "Rowan Invented", "Kit Sample")
# Not a configured person, nor of an allowed domain: the workbook named them.
LEAD = "lead@nhs.example.net"


@dataclass(frozen=True)
class Agreed:
    """An agreed action: what, the owner's agency, by when, and whether it is done."""

    text: str
    agency: str
    due: date
    done: bool = False


def add_case(app: App, n: int, meeting: datetime, state: CaseState = CaseState.APPROVED) -> int:
    """Case number `n` (MASP-2026-000n) for child NAMES[n-1], listed at `meeting`."""
    with app.store.session() as session:
        case = Case(
            reference=f"MASP-2026-{n:04d}",
            panel_id="masp",
            meeting=meeting,
            state=state,
            referrer_email=f"ref{n}@school.example.org",
            received_at=meeting - timedelta(days=20),
            flags=[],
            fields={"child_name": NAMES[n - 1], "child_dob": "2016-12-09"},
        )
        session.add(case)
        session.flush()
        return case.id


def decide(
    app: App,
    case_id: int,
    meeting: datetime,
    actions: tuple[Agreed, ...] = (),
    **fields: Any,
) -> int:
    """The panel's decision on the case at `meeting` (heard there), with its agreed actions."""
    with app.store.session() as session:
        imported = applied_import(session, meeting, meeting + timedelta(days=1))
        values: dict[str, Any] = {
            "outcome": Outcome.ACCEPTED,
            "lead_name": "Lee Lead",
            "lead_agency": "Health",
            "lead_email": LEAD,
        }
        decision = Decision(
            case_id=case_id,
            panel_id="masp",
            meeting=meeting,
            import_id=imported.id,
            recorded_at=meeting + timedelta(days=1),
            **(values | fields),
        )
        decision.actions = [
            Action(
                case_id=case_id,
                position=i,
                text=a.text,
                owner="Owner Person",
                agency=a.agency,
                due=a.due,
                done_at=datetime(2027, 1, 2, tzinfo=UTC) if a.done else None,
            )
            for i, a in enumerate(actions, start=1)
        ]
        session.add(decision)
        case = session.get_one(Case, case_id)
        if case.state != CaseState.DECIDED:
            move(case, CaseState.DECIDED)
        session.flush()
        return decision.id
