"""R17 with several panels: the administrator moves a case the routing sent to the wrong panel
(`masp case move REF --meeting DAY --panel ID`). It keeps its reference, becomes the other
panel's (its screening asked of that panel's managers, the old ones' request withdrawn), its
routing question goes, and its referrer is told; seen in the mail sent and the audit trail."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.panel.screening.jobs import screening_jobs
from pipeline.store.models import AuditEvent, Case, ScreeningRequest
from tests.helpers import config_tree, drop, open_service, sent_to, status_of
from tests.panel.test_screening import reply

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ME = f"cli:{getpass.getuser()}"
SOUTH_SM = "s.south@example.org"
MASP_SM = "sm@example.org"
SOUTH = {
    "id": "masg-south",
    "name": "MASG South",
    "locality": "Southtown",
    "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "time": "14:00"},
    "deadline": {"days_before": 5, "time": "12:00"},
    "slot_notice_days": 2,
    "addresses": ["masg-south@example.org"],
    "people": {"service_managers": [{"name": "S South", "email": SOUTH_SM}]},
}
# Sent to MASG South's own address, but its form names MASP: routed south, and flagged.
CHILD = samples.Child(panel="MASP")
REF = "MASGSOUTH-2026-0001"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    service = open_service(tmp_path, NOW, panels=[config_tree()["panels"][0], SOUTH])
    mail = samples.Mail(
        f"Jo <{CHILD.referrer_email}>",
        "Referral",
        files=samples.full_referral(CHILD),
        to="MASG South <masg-south@example.org>",
    )
    drop(service, mail, NOW)
    poll(service)
    yield service
    service.close()


def masp(folder: Path, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", NOW.isoformat(), *args])


def the_case(app: App) -> Case:
    with app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        session.expunge(case)
        return case


def requests(app: App) -> list[tuple[str, bool]]:
    """Each screening request: to whom, and whether it is still open."""
    with app.store.session() as session:
        rows = session.scalars(select(ScreeningRequest).order_by(ScreeningRequest.id))
        return [(r.manager_email, r.used_at is None) for r in rows]


def audited(app: App, action: str) -> list[dict[str, Any]]:
    with app.store.session() as session:
        query = select(AuditEvent.detail).where(AuditEvent.action == action)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_a_case_in_screening_moves_to_the_panel_its_form_named(tmp_path: Path, app: App) -> None:
    run_due(app, [screening_jobs])
    deliver_configured(app)
    before = the_case(app)
    assert before.panel_id == "masg-south" and before.state == "screening"
    assert any("check which is meant" in str(flag) for flag in before.flags)
    assert [s.subject.startswith(REF) for s in sent_to(app, SOUTH_SM)] == [True]

    done = masp(tmp_path, "case", "move", REF, "--meeting", "2026-12-08", "--panel", "masp")

    assert done.exit_code == 0, done.output
    assert "Multi Agency Support Panel" in done.output
    after = the_case(app)
    assert (after.reference, after.panel_id, after.state) == (REF, "masp", "screening")
    assert not any("check which is meant" in str(flag) for flag in after.flags)
    assert status_of(app, REF)["meeting"] == "2026-12-08"
    # The old panel's manager's request is withdrawn; MASP's manager is asked, at once.
    assert requests(app) == [(SOUTH_SM, False), (MASP_SM, True)]
    [asked] = sent_to(app, MASP_SM)
    assert asked.subject.startswith(f"{REF}: referral to screen for the Multi Agency Support")
    assert len(sent_to(app, SOUTH_SM)) == 1
    told = sent_to(app, CHILD.referrer_email)[-1]
    assert told.subject == f"{REF}: moved to the meeting on Tuesday 8 December 2026, 10:00"
    words = " ".join(told.text().split())
    assert "now for the Multi Agency Support Panel, not the MASG South" in words
    assert f"its reference stays {REF}" in words
    [moved] = audited(app, "moved")
    assert moved["by"] == ME
    assert (moved["from_panel"], moved["to_panel"]) == ("masg-south", "masp")
    assert moved["to_meeting"].startswith("2026-12-08T10:00")
    [withdrawn] = audited(app, "screening-withdrawn")
    assert withdrawn["by"] == ME and len(withdrawn["requests"]) == 1
    # MASG South's manager answers the withdrawn request: it decides nothing, the case waits
    # for MASP's manager, and the administrator hears of the refused answer.
    [old_request] = sent_to(app, SOUTH_SM)
    drop(app, reply(old_request, "APPROVE", sender=SOUTH_SM), NOW)
    poll(app)
    assert the_case(app).state == "screening"
    assert audited(app, "screening-decision") == []
    # Not the case's panel's screener any more: `rules.screening` says so before it would say
    # that the request is closed.
    assert [a["why"] for a in audited(app, "screening-refused")] == ["forged sender"]
    assert "not applied" in sent_to(app, "admin@example.org")[-1].subject


def test_a_case_not_yet_screened_is_asked_of_the_new_panels_managers(
    tmp_path: Path, app: App
) -> None:
    done = masp(tmp_path, "case", "move", REF, "--meeting", "2026-12-08", "--panel", "masp")
    assert done.exit_code == 0, done.output
    assert audited(app, "screening-withdrawn") == []
    # The tick asks the panel the case is now for: MASP's manager, never MASG South's.
    run_due(app, [screening_jobs])
    deliver_configured(app)
    assert requests(app) == [(MASP_SM, True)]
    assert sent_to(app, SOUTH_SM) == []
    assert len(sent_to(app, MASP_SM)) == 1


def test_moving_to_another_panel_refuses_what_cannot_be(tmp_path: Path, app: App) -> None:
    for args, why in (
        (("--meeting", "2026-12-08", "--panel", "nowhere"), "there is no panel 'nowhere'"),
        (("--meeting", "2026-12-08", "--panel", "masg-south"), "masg-south panel does not meet"),
        (("--meeting", "2026-12-09", "--panel", "masp"), "masp panel does not meet"),
    ):
        refused = masp(tmp_path, "case", "move", REF, *args)
        assert refused.exit_code == 1 and why in str(refused.exception), args
    assert the_case(app).panel_id == "masg-south"
    assert audited(app, "moved") == []


def test_moving_within_its_panel_keeps_the_routing_question(tmp_path: Path, app: App) -> None:
    done = masp(tmp_path, "case", "move", REF, "--meeting", "2026-12-24")
    assert done.exit_code == 0, done.output
    case = the_case(app)
    assert case.panel_id == "masg-south"
    assert any("check which is meant" in str(flag) for flag in case.flags)
    told = sent_to(app, CHILD.referrer_email)[-1]
    assert "not the" not in told.text()
    [moved] = audited(app, "moved")
    assert "to_panel" not in moved
