"""R14 re-referral and `masp status` after the meeting: a new referral of a child whose case
was heard and closed links to that case; status shows decision, actions, review, sheets and
follow-up, in JSON and in the table."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline import samples
from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from pipeline.outputs.status import all_cases, print_detail, print_table
from pipeline.states import CaseState, OutboxState
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, DecisionSheet, OutboxItem
from tests.helpers import drop, open_service, status_of
from tests.panel.decisions.fixtures import NAMES, Agreed, add_case, decide

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def referral(child: samples.Child) -> samples.Mail:
    sender = f"{child.referrer_name} <{child.referrer_email}>"
    return samples.Mail(sender, "Referral for panel", files=samples.full_referral(child))


def test_a_re_referral_links_to_the_closed_case(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    try:
        drop(app, referral(samples.Child()), NOW)
        poll(app)
        with app.store.session() as session:
            first = session.scalars(select(Case)).one()
            first.state = CaseState.APPROVED
            first_id = first.id
        decide(app, first_id, DECEMBER, final=True)
        with app.store.session() as session:
            move(session.get_one(Case, first_id), CaseState.CLOSED)
        other = samples.Child(referrer_name="Pat Other", referrer_email="pat@example.org")
        drop(app, referral(other), NOW + timedelta(days=40))
        poll(app)
        # Received in January: a reference of 2027.
        again = status_of(app, "MASP-2027-0001")
        assert again["flags"] == ["re-referral: previously MASP-2026-0001"]
        with app.store.session() as session:
            second = session.scalars(select(Case).where(Case.id != first_id)).one()
            assert second.linked_case_id == first_id
        # The CLI's JSON carries the flag too.
        result = CliRunner().invoke(
            cli,
            ["--config", str(tmp_path / "config.yaml"), "status", "MASP-2027-0001", "--json"],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["flags"] == ["re-referral: previously MASP-2026-0001"]
    finally:
        app.close()


def test_status_shows_the_decision_actions_review_sheet_and_follow_up(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    try:
        reviewed = add_case(app, 1, DECEMBER)
        decision_id = decide(
            app,
            reviewed,
            DECEMBER,
            (
                Agreed("School meeting", "Education", date(2027, 1, 5)),
                Agreed("Health visit", "Health", date(2027, 1, 6), done=True),
                Agreed("Family plan", "Early Help", date(2027, 2, 1)),
            ),
            review_date=date(2027, 1, 20),
        )
        masg = add_case(app, 2, DECEMBER)
        decide(app, masg, DECEMBER, no_further_review=True)
        add_case(app, 3, DECEMBER)
        with app.store.session() as session:
            # Queued on the 10th; the outbox sent it on the 11th (what status shows).
            mail = OutboxItem(
                purpose="decision-sheet:test",
                message_id="<sheet-test@example.org>",
                case_id=reviewed,
                template="decision_sheet",
                subject="decision sheet",
                raw_path="outbox/x.eml",
                status=OutboxState.SENT,
                next_attempt_at=DECEMBER + timedelta(days=2),
                created_at=DECEMBER + timedelta(days=2),
                sent_at=DECEMBER + timedelta(days=3),
            )
            session.add(mail)
            session.flush()
            session.add(
                DecisionSheet(
                    case_id=reviewed,
                    decision_id=decision_id,
                    version=1,
                    inputs_sha256="1" * 64,
                    docx_path="sheets/x.docx",
                    created_at=DECEMBER + timedelta(days=2),
                    outbox_id=mail.id,
                    sent_at=DECEMBER + timedelta(days=2),
                )
            )
        with app.store.session() as session:
            rows = all_cases(app.config, session, date(2027, 1, 10))
        first, second, third = rows
        assert first["decision"] == {
            "outcome": "Accepted: multi-agency support agreed",
            "meeting": "2026-12-08",
            "heard_as": "presented",
            "lead_agency": "Health",
            "review_date": "2027-01-20",
            "no_further_review": False,
            "final": False,
            "larp": False,
        }
        assert [(a["text"], a["due"], a["done"], a["overdue"]) for a in first["actions"]] == [
            ("School meeting", "2027-01-05", False, True),
            ("Health visit", "2027-01-06", True, False),
            ("Family plan", "2027-02-01", False, False),
        ]
        # 20 January falls between meetings: the review lists it on 9 February.
        assert first["review_meeting"] == "2027-02-09"
        assert first["sheets"] == [
            {
                "version": 1,
                "queued_at": (DECEMBER + timedelta(days=2)).isoformat(),
                "sent_at": (DECEMBER + timedelta(days=3)).isoformat(),
                "held": False,
                "on_time": True,
            }
        ]
        assert first["follow_up"] is None
        assert second["follow_up"] == {
            "due_at": "2027-03-02T09:00:00+00:00",
            "asked_at": None,
            "reminded_at": None,
            "answered_at": None,
        }
        assert third["decision"] is None and third["actions"] == [] and third["sheets"] == []
        # The SPEC §5 keys are all still there.
        assert {"reference", "panel", "meeting", "state", "referrer", "documents", "missing"} <= (
            set(first)
        )
        assert not any(part in json.dumps(rows) for name in NAMES for part in name.split())
        out = io.StringIO()
        print_table(Console(file=out, width=200), rows)
        table = out.getvalue()
        assert "After the meeting" in table
        assert (
            "MASP-2026-0001: Accepted: multi-agency support agreed (08/12/2026); 2 action(s) "
            "open, 1 OVERDUE; review 20/01/2027, at the meeting of 09/02/2027; sheet v1 sent "
            "11/12/2026 on time"
        ) in table
        assert "MASP-2026-0002: " in table and "follow-up due 02/03/2027" in table
        assert "MASP-2026-0003:" not in table
        out = io.StringIO()
        with app.store.session() as session:
            from pipeline.outputs.status import one_case

            detail = one_case(app.config, session, "MASP-2026-0001", date(2027, 1, 10))
        print_detail(Console(file=out, width=200), detail)
        assert "action: School meeting (Education), OVERDUE 05/01/2027" in out.getvalue()
    finally:
        app.close()
