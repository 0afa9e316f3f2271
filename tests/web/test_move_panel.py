"""R17 in the console with two panels: the move form offers every panel's coming meetings,
grouped by panel, and a move to another panel's meeting makes the case that panel's (its
screening asked of that panel's managers, its referrer told), audited with the person signed in.
"""

from __future__ import annotations

from sqlalchemy import select

from pipeline.store.models import AuditEvent, Case, ScreeningRequest
from pipeline.web.users import Role
from tests.helpers import config_tree, sent_to
from tests.web.conftest import Console, csrf_of, signed_in
from tests.web.test_pages import text_of

SOUTH_SM = "s.south@example.org"
CONSOLE_CONFIG = {
    "panels": [
        config_tree()["panels"][0],
        {
            "id": "masg-south",
            "name": "MASG South",
            "locality": "Southtown",
            "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "time": "14:00"},
            "deadline": {"days_before": 5, "time": "12:00"},
            "slot_notice_days": 2,
            "people": {"service_managers": [{"name": "S South", "email": SOUTH_SM}]},
        },
    ]
}
REF = "MASP-2026-0002"
REFERRER = "ref2@school.example.org"


def the_case(console: Console) -> Case:
    with console.app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        session.expunge(case)
        return case


def test_the_move_form_offers_every_panels_meetings_grouped(console: Console) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get(f"/cases/{REF}").text
    own = page.index('<optgroup label="Multi Agency Support Panel (its panel now)">')
    south = page.index('<optgroup label="MASG South">')
    assert own < south
    assert '<option value="masp/2027-01-12">Tuesday 12 January 2027, 10:00</option>' in page
    assert (
        '<option value="masg-south/2026-12-10">Thursday 10 December 2026, 14:00</option>'
        in (page[south:])
    )
    # The meeting it is listed for is not offered as a move.
    assert 'value="masp/2026-12-08"' not in page


def test_a_bad_panel_is_refused_by_the_field(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{REF}").text
    answer = client.post(
        f"/cases/{REF}/move",
        data={"csrf_token": csrf_of(page), "move-day": "nowhere/2026-12-10"},
    )
    assert answer.status_code == 400
    assert "there is no panel &#39;nowhere&#39;" in answer.text
    assert the_case(console).panel_id == "masp"


def test_moving_a_case_to_another_panels_meeting(console: Console) -> None:
    assert the_case(console).state == "screening"
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{REF}").text
    answer = client.post(
        f"/cases/{REF}/move",
        data={"csrf_token": csrf_of(page), "move-day": "masg-south/2026-12-10"},
    )
    assert answer.status_code == 303, answer.text
    words = text_of(client.get(f"/cases/{REF}").text)
    assert "now a case of the MASG South, whose managers are asked to screen it" in words
    assert "MASG South" in words and "Meeting Thu 10 Dec 2026, 14:00" in words
    case = the_case(console)
    assert (case.reference, case.panel_id) == (REF, "masg-south")
    # Sent at once: MASG South's manager is asked to screen it; the referrer is told.
    [asked] = sent_to(console.app, SOUTH_SM)
    assert asked.subject.startswith(f"{REF}: referral to screen for the MASG South")
    told = sent_to(console.app, REFERRER)[-1]
    assert told.subject == f"{REF}: moved to the meeting on Thursday 10 December 2026, 14:00"
    assert "not the Multi Agency Support Panel" in " ".join(told.text().split())
    with console.app.store.session() as session:
        open_to = session.scalars(
            select(ScreeningRequest.manager_email).where(
                ScreeningRequest.case_id == case.id, ScreeningRequest.used_at.is_(None)
            )
        ).all()
        moved = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.case_id == case.id, AuditEvent.action == "moved"
            )
        ).all()
    assert open_to == [SOUTH_SM]
    assert [(m["by"], m["to_panel"]) for m in moved] == [("web:admin@example.org", "masg-south")]
    # On MASG South's meeting page now, and off MASP's.
    assert REF in text_of(client.get("/meetings/masg-south/2026-12-10").text)
    assert REF not in text_of(client.get("/meetings/masp/2026-12-08").text)
