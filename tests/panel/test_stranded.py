"""R7: a case not heard at its meeting moves to the next one, and its referrer and the
administrator are told: a cancelled meeting, a case still unscreened, a case approved late.

The rule is tested on plain values with a frozen clock; the step through `tick` on the maildir
back-end, with real LibreOffice behind the pack the moved case must then appear in.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.intake.poll import poll
from pipeline.rules.meetings import upcoming
from pipeline.rules.unheard import Standing, Why, not_heard
from pipeline.states import CaseState
from pipeline.store.models import AuditEvent, Case, JobRun, Slot
from tests.helpers import Sent, config_tree, drop, open_service, sent_mail
from tests.panel.test_cutoff import CHILDREN, EMERGENCY, JANUARY, LATE, READY, refer, snapshot
from tests.panel.test_reminders import AT_72H, DEADLINE, RECEIVED, tick_at
from tests.panel.test_screening import SCHOOL, referral, reply
from tests.panel.test_slots import ics_field, ics_of

LONDON = ZoneInfo("Europe/London")
ADMIN, MANAGER = "admin@example.org", "sm@example.org"
DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
DECEMBER_TEXT = "Tuesday 8 December 2026, 10:00"
JANUARY_TEXT = "Tuesday 12 January 2027, 10:00"
DEC_NOTICE = datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC)
JAN_NOTICE = datetime(2027, 1, 7, 10, 0, 30, tzinfo=UTC)
JAN_PACK = datetime(2027, 1, 7, 10, 11, tzinfo=UTC)


def cancelling(*days: str) -> dict[str, Any]:
    """Config overrides: the panel as usual, with `days` added to `meetings.cancel`."""
    panel = config_tree()["panels"][0]
    panel["meetings"]["cancel"] = list(days)
    return {"panels": [panel]}


CANCEL_DECEMBER = cancelling("2026-12-08")


def to(app: App, address: str) -> list[Sent]:
    return [s for s in sent_mail(app) if s.to == address]


def moved_mail(app: App, address: str) -> list[Sent]:
    return [s for s in to(app, address) if "moved to the meeting on" in s.subject]


def admin_notices(app: App) -> list[Sent]:
    return [s for s in to(app, ADMIN) if "not heard" in s.subject]


def body(mail: Sent) -> str:
    return " ".join(mail.text().split())


def approve(folder: Path, when: datetime, **overrides: Any) -> None:
    """The Service Manager answers APPROVE to the screening request (there is one)."""
    app = open_service(folder, when, **overrides)
    [request] = [
        s
        for s in to(app, MANAGER)
        if "referral to screen" in s.subject and not s.subject.startswith("Reminder")
    ]
    drop(app, reply(request, "APPROVE"), when - timedelta(minutes=5))
    poll(app)
    app.close()


def carried(app: App) -> list[dict[str, Any]]:
    with app.store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "carried-forward").order_by(AuditEvent.id)
        )
        return [dict(row.detail) for row in rows]


def pack_bookmarks(app: App, recipient: str = ADMIN) -> list[str]:
    """The case bookmarks of the last pack `recipient` was sent: the cases in that pack."""
    [*_, mail] = [s for s in to(app, recipient) if "meeting pack" in s.subject]
    [part] = [p for p in mail.message.walk() if (p.get_filename() or "").endswith("-v1.pdf")]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    reader = pypdf.PdfReader(io.BytesIO(data))
    titles = [str(e.title) for e in reader.outline if not isinstance(e, list)]
    # A quarterly meeting's pack ends with the quarterly picture (R15): not a case.
    skip = ("Front sheet", "Agenda", "Quarterly picture")
    return [t.split(" (")[0] for t in titles if t not in skip]


# --- The rule: plain values, a frozen clock ---------------------------------------------------


def panel(**meetings: object) -> PanelConfig:
    spec = {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00", **meetings}
    return PanelConfig.model_validate({"id": "masp", "name": "Panel", "meetings": spec})


def standing(state: CaseState, slotted: bool = False, section20: bool = False) -> Standing:
    return Standing(state=state, section20=section20, meeting=DECEMBER, slotted=slotted)


AFTER_START = DECEMBER + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (standing(CaseState.APPROVED, slotted=True), None),
        (standing(CaseState.SCREENING, slotted=True), None),
        (standing(CaseState.DECLINED), None),
        (standing(CaseState.CLOSED), None),
        (standing(CaseState.APPROVED), Why.APPROVED_LATE),
        (standing(CaseState.SCREENING), Why.UNSCREENED),
        (standing(CaseState.COMPLETE), Why.UNSCREENED),
        (standing(CaseState.INCOMPLETE, section20=True), Why.NOT_READY),
    ],
)
def test_after_the_meeting_began_only_a_case_with_a_time_was_heard(
    facts: Standing, why: Why | None
) -> None:
    found = not_heard(facts, panel(), LONDON, AFTER_START)
    assert (found.why if found else None) == why
    if found is not None:
        assert found.to is not None
        assert found.to.day == date(2027, 1, 12) and found.due == DECEMBER


def test_nothing_moves_before_the_meeting_begins() -> None:
    for state in (
        CaseState.APPROVED,
        CaseState.SCREENING,
        CaseState.COMPLETE,
        CaseState.INCOMPLETE,
    ):
        assert not_heard(standing(state), panel(), LONDON, DECEMBER - timedelta(seconds=1)) is None


def test_a_cancelled_meeting_moves_its_cases_at_once() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    cancelled = panel(cancel=["2026-12-08"])
    for facts in (
        standing(CaseState.INCOMPLETE),
        standing(CaseState.APPROVED, slotted=True),
        standing(CaseState.COMPLETE),
    ):
        found = not_heard(facts, cancelled, LONDON, now)
        assert found is not None and found.why == Why.CANCELLED and found.to is not None
        assert (found.to.day, found.due) == (date(2027, 1, 12), now)
    assert not_heard(standing(CaseState.DECLINED), cancelled, LONDON, now) is None


def test_a_meeting_cancelled_once_it_began_keeps_the_cases_given_a_time() -> None:
    # The configuration is read as it is now: a date cancelled once the meeting began cannot
    # tell a meeting that did not take place from one cancelled afterwards, so the cases it had
    # timed stay heard, and only the one without a time moves.
    cancelled = panel(cancel=["2026-12-08"])
    assert (
        not_heard(standing(CaseState.APPROVED, slotted=True), cancelled, LONDON, AFTER_START)
        is None
    )
    found = not_heard(standing(CaseState.APPROVED), cancelled, LONDON, AFTER_START)
    assert found is not None and found.why == Why.CANCELLED


def test_a_rule_changed_afterwards_does_not_undo_a_meeting_that_was_held() -> None:
    # The panel now meets on the third Wednesday: 8 December is no longer a meeting day, but a
    # case heard there was heard. One that was not heard moves.
    changed = panel(rrule="FREQ=MONTHLY;BYDAY=+3WE")
    later = DECEMBER + timedelta(days=3)
    assert not_heard(standing(CaseState.APPROVED, slotted=True), changed, LONDON, later) is None
    found = not_heard(standing(CaseState.APPROVED), changed, LONDON, later)
    assert found is not None and found.to is not None and found.to.day == date(2026, 12, 16)


def test_a_new_meeting_time_moves_the_case_to_the_same_day() -> None:
    found = not_heard(
        standing(CaseState.APPROVED), panel(time="09:30"), LONDON, datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert found is not None and found.why == Why.RETIMED and found.to is not None
    assert found.to.starts_at == datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


def test_a_meeting_retimed_to_an_hour_already_past_is_a_move_to_the_next_meeting() -> None:
    # Moved to 09:30 at 09:45 on the day: the meeting at its new time has begun without the
    # case, which goes to January, and is not told the meeting merely changed its time.
    found = not_heard(
        standing(CaseState.APPROVED), panel(time="09:30"), LONDON, DECEMBER - timedelta(minutes=15)
    )
    assert found is not None and found.why == Why.RESCHEDULED and found.to is not None
    assert found.to.day == date(2027, 1, 12)


def test_where_a_case_goes_next() -> None:
    # The service was down from before the meeting until after January's deadline: a case
    # ready to be heard goes to January; one still waiting for documents to February, whose
    # deadline is still ahead; a Section 20 emergency to January whatever the deadline (R7).
    now = datetime(2027, 1, 6, 13, 0, tzinfo=UTC)
    days = {
        state: not_heard(standing(state, section20=s20), panel(), LONDON, now)
        for state, s20 in (
            (CaseState.APPROVED, False),
            (CaseState.INCOMPLETE, False),
            (CaseState.MORE_INFO, True),
        )
    }
    assert {state: found.to.day for state, found in days.items() if found and found.to} == {
        CaseState.APPROVED: date(2027, 1, 12),
        CaseState.INCOMPLETE: date(2027, 2, 9),
        CaseState.MORE_INFO: date(2027, 1, 12),
    }


def test_a_fortnightly_group_moves_an_unheard_case_two_weeks_on() -> None:
    masg = PanelConfig.model_validate(
        {
            "id": "masg-north",
            "name": "MASG North",
            "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "time": "13:30"},
            "deadline": {"days_before": 7, "time": "12:00"},
            "slot_notice_days": 5,
        }
    )
    [first] = upcoming(masg, LONDON, datetime(2026, 11, 25, tzinfo=UTC), 1)
    facts = Standing(
        state=CaseState.SCREENING, section20=False, meeting=first.starts_at, slotted=False
    )
    found = not_heard(facts, masg, LONDON, first.starts_at + timedelta(hours=2))
    assert found is not None and found.to is not None
    assert found.to.day == first.day + timedelta(days=14)
    assert found.to.deadline < found.to.slot_notice < found.to.starts_at


# --- A meeting cancelled before its date ------------------------------------------------------


@pytest.fixture(scope="module")
def cancelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three cases for 8 December (one incomplete, one approved, one Section 20); then the
    administrator cancels that meeting on 25 November, and ticks run on to January's pack."""
    folder = tmp_path_factory.mktemp("cancelled")
    refer(folder)
    tick_at(folder, RECEIVED + timedelta(hours=1)).close()
    approve(folder, RECEIVED + timedelta(hours=2))
    moment = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    tick_at(folder, moment, **CANCEL_DECEMBER).close()
    tick_at(folder, moment + timedelta(minutes=1), times=2, **CANCEL_DECEMBER).close()
    return folder


def test_a_cancelled_meetings_cases_move_to_the_next_meeting_at_once(cancelled: Path) -> None:
    cases = snapshot(cancelled)
    assert {c.referrer_email: c.meeting for c in cases.values()} == {
        child.referrer_email: JANUARY for child in CHILDREN
    }
    assert cases[READY.referrer_email].state == "approved"
    for case in cases.values():
        assert "moved from 2026-12-08: meeting cancelled" in case.flags
    app = open_service(cancelled, RECEIVED)
    assert carried(app) == [
        {"from_meeting": "2026-12-08T10:00", "to_meeting": "2027-01-12T10:00", "why": why}
        for why in ["meeting cancelled"] * 3
    ]
    app.close()


def test_each_referrer_is_told_the_new_date_and_why_once(cancelled: Path) -> None:
    app = open_service(cancelled, RECEIVED)
    [late] = moved_mail(app, LATE.referrer_email)
    assert JANUARY_TEXT in late.subject and "new deadline Tuesday 5 January 2027, 12:00" in (
        late.subject
    )
    text = body(late)
    assert f"The meeting on {DECEMBER_TEXT} has been cancelled" in text
    assert "Chronology" in text and "The new deadline is Tuesday 5 January 2027, 12:00" in text
    [ready] = moved_mail(app, READY.referrer_email)
    assert "deadline" not in ready.subject
    assert "You will be sent a timeslot for the new meeting" in body(ready)
    [emergency] = moved_mail(app, EMERGENCY.referrer_email)
    assert JANUARY_TEXT in emergency.subject
    [ack] = [s for s in to(app, READY.referrer_email) if "referral received" in s.subject]
    assert ready.message["In-Reply-To"] == ack.message["Message-ID"]
    app.close()


def test_the_administrator_is_told_once_with_minimal_identifiers(cancelled: Path) -> None:
    refs = {email: case.reference for email, case in snapshot(cancelled).items()}
    app = open_service(cancelled, RECEIVED)
    [notice] = admin_notices(app)
    app.close()
    assert DECEMBER_TEXT in notice.subject
    text = body(notice)
    for child in CHILDREN:
        assert f"{refs[child.referrer_email]} (" in text
        assert not any(part in text for part in child.name.split())
    assert text.count(f"meeting cancelled; now on {JANUARY_TEXT}") == 3


def test_the_cancelled_meeting_brings_no_reminder_or_cut_off(cancelled: Path) -> None:
    app = open_service(cancelled, RECEIVED)
    before = len(sent_mail(app))
    app.close()
    for moment in (AT_72H, DEADLINE, DEADLINE + timedelta(hours=1)):
        tick_at(cancelled, moment, **CANCEL_DECEMBER).close()
    app = open_service(cancelled, DEADLINE)
    assert sent_mail(app)[before:] == []
    app.close()


def test_the_moved_cases_get_a_time_and_are_in_the_next_pack(cancelled: Path) -> None:
    refs = {email: case.reference for email, case in snapshot(cancelled).items()}
    tick_at(cancelled, JAN_NOTICE, **CANCEL_DECEMBER).close()
    app = tick_at(cancelled, JAN_PACK, **CANCEL_DECEMBER)
    for child in (READY, EMERGENCY):
        [slot] = [s for s in to(app, child.referrer_email) if "your timeslot" in s.subject]
        assert ics_field(ics_of(slot), "DTSTART").startswith("20270112T")
    assert pack_bookmarks(app) == [refs[EMERGENCY.referrer_email], refs[READY.referrer_email]]
    app.close()


# --- Cancelled after the timeslots went ---------------------------------------------------------


def test_a_meeting_cancelled_after_the_timeslots_withdraws_the_slot(tmp_path: Path) -> None:
    app = open_service(tmp_path, RECEIVED)
    drop(app, referral(), RECEIVED)
    poll(app)
    app.close()
    tick_at(tmp_path, RECEIVED + timedelta(hours=1)).close()
    approve(tmp_path, RECEIVED + timedelta(hours=2))
    tick_at(tmp_path, DEC_NOTICE).close()
    app = tick_at(tmp_path, datetime(2026, 12, 4, 9, 0, tzinfo=UTC), **CANCEL_DECEMBER)
    [offer] = [s for s in to(app, SCHOOL.referrer_email) if "your timeslot" in s.subject]
    [moved] = moved_mail(app, SCHOOL.referrer_email)
    assert "10:00 to 10:30" in body(moved) and "withdrawn" in body(moved)
    cancel = ics_of(moved)
    assert "METHOD:CANCEL" in cancel and ics_field(cancel, "UID") == ics_field(ics_of(offer), "UID")
    with app.store.session() as session:
        assert list(session.scalars(select(Slot))) == []
        assert session.scalars(select(Case)).one().meeting == JANUARY
    app.close()
    app = tick_at(tmp_path, JAN_NOTICE, **CANCEL_DECEMBER)
    [*_, again] = [s for s in to(app, SCHOOL.referrer_email) if "your timeslot" in s.subject]
    assert ics_field(ics_of(again), "DTSTART") == "20270112T100000Z"
    app.close()


# --- Not heard at a meeting that took place -----------------------------------------------------


def screened_but_unanswered(folder: Path, **overrides: Any) -> None:
    """One complete referral for 8 December, its screening request sent and not answered."""
    app = open_service(folder, RECEIVED, **overrides)
    drop(app, referral(), RECEIVED)
    poll(app)
    app.close()
    tick_at(folder, RECEIVED + timedelta(hours=1), **overrides).close()


def test_a_case_unscreened_at_its_meeting_moves_and_is_heard_at_the_next(tmp_path: Path) -> None:
    screened_but_unanswered(tmp_path)
    app = tick_at(tmp_path, DEC_NOTICE)
    assert [s for s in to(app, SCHOOL.referrer_email) if "your timeslot" in s.subject] == []
    app.close()
    tick_at(tmp_path, DECEMBER - timedelta(seconds=1)).close()
    app = tick_at(tmp_path, DECEMBER, times=2)
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert (case.meeting, case.state) == (JANUARY, "screening")
        reference = case.reference
    [moved] = moved_mail(app, SCHOOL.referrer_email)
    assert f"was not heard at the meeting on {DECEMBER_TEXT}" in body(moved)
    assert "had not been screened by the time the meeting began" in body(moved)
    assert "Once it is approved you will be sent a timeslot" in body(moved)
    [notice] = admin_notices(app)
    assert f"{reference} (R.T., age 10): not screened in time; now on {JANUARY_TEXT}" in body(
        notice
    )
    app.close()
    approve(tmp_path, datetime(2026, 12, 15, 9, 0, tzinfo=UTC))
    tick_at(tmp_path, JAN_NOTICE).close()
    app = tick_at(tmp_path, JAN_PACK)
    [slot] = [s for s in to(app, SCHOOL.referrer_email) if "your timeslot" in s.subject]
    assert ics_field(ics_of(slot), "DTSTART") == "20270112T100000Z"
    assert pack_bookmarks(app) == [reference]
    app.close()


def test_a_case_approved_after_its_meeting_began_moves(tmp_path: Path) -> None:
    screened_but_unanswered(tmp_path)
    approve(tmp_path, DECEMBER + timedelta(minutes=30))
    app = tick_at(tmp_path, DECEMBER + timedelta(minutes=31))
    [moved] = moved_mail(app, SCHOOL.referrer_email)
    assert "approved too late to be given a time at that meeting" in body(moved)
    assert "You will be sent a timeslot for the new meeting" in body(moved)
    [notice] = admin_notices(app)
    assert "approved too late for a timeslot" in body(notice)
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert (case.meeting, case.state) == (JANUARY, "approved")
        keys = list(session.scalars(select(JobRun.key).where(JobRun.key.startswith("unheard:"))))
        assert len(keys) == 1 and keys[0].startswith("unheard:masp:2026-12-08T10:00:")
    app.close()


@pytest.mark.parametrize("unscreened", ["hold", "list"])
def test_a_case_heard_with_its_time_stays_on_its_meeting(tmp_path: Path, unscreened: str) -> None:
    overrides: dict[str, Any] = {"screening": {"unscreened": unscreened}}
    screened_but_unanswered(tmp_path, **overrides)
    if unscreened == "hold":
        approve(tmp_path, RECEIVED + timedelta(hours=2), **overrides)
    tick_at(tmp_path, DEC_NOTICE, **overrides).close()
    app = tick_at(tmp_path, DECEMBER + timedelta(hours=2), **overrides)
    with app.store.session() as session:
        assert session.scalars(select(Case)).one().meeting == DECEMBER
        assert len(list(session.scalars(select(Slot)))) == 1
    assert moved_mail(app, SCHOOL.referrer_email) == [] and admin_notices(app) == []
    assert carried(app) == []
    app.close()
