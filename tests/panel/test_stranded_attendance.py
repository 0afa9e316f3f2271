"""R10: before the meeting the administrator learns which referrers have not confirmed their
timeslot (the cut-off digest, sent before any slot exists, no longer pretends to say)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pipeline import samples
from pipeline.config import PanelConfig
from pipeline.intake.poll import poll
from pipeline.rules.attendance import attendance_check
from pipeline.rules.meetings import Meeting, upcoming
from pipeline.store.models import Case, Slot
from tests.helpers import ROOT, Sent, drop, open_service, sent_mail
from tests.panel.test_reminders import DEADLINE, RECEIVED, tick_at
from tests.panel.test_screening import OTHER, SCHOOL, referral, reply

ADMIN, MANAGER = "admin@example.org", "sm@example.org"
THIRD = samples.Child(
    name="Dale Exampleson", referrer_name="Ash Sample", referrer_email="ash.sample@example.org"
)
NOTICE = datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC)
# The meeting is on Tuesday 8 December: the check goes at 09:00 on Monday 7 December.
CHECK = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def to(folder: Path, address: str) -> list[Sent]:
    app = open_service(folder, RECEIVED)
    try:
        return [s for s in sent_mail(app) if s.to == address]
    finally:
        app.close()


def answer_timeslot(folder: Path, child: samples.Child, words: str) -> None:
    [slot] = [s for s in to(folder, child.referrer_email) if "your timeslot" in s.subject]
    app = open_service(folder, NOTICE + timedelta(hours=2))
    mail = samples.Mail(
        f"{child.referrer_name} <{child.referrer_email}>",
        f"RE: {slot.subject}",
        body=words,
        in_reply_to=slot.message_id,
    )
    drop(app, mail, NOTICE + timedelta(hours=1))
    poll(app)
    app.close()


def three_slots(folder: Path) -> dict[str, str]:
    """Three approved cases with timeslots: one referrer says yes, one no, one says nothing."""
    app = open_service(folder, RECEIVED)
    for child in (SCHOOL, OTHER, THIRD):
        drop(app, referral(child), RECEIVED)
    poll(app)
    app.close()
    tick_at(folder, RECEIVED + timedelta(hours=1)).close()
    app = open_service(folder, RECEIVED + timedelta(hours=2))
    for request in [s for s in sent_mail(app) if s.to == MANAGER]:
        drop(app, reply(request, "APPROVE"), RECEIVED + timedelta(hours=2))
    poll(app)
    with app.store.session() as session:
        cases = list(session.scalars(select(Case)))
        assert {c.state for c in cases} == {"approved"}
        refs = {c.referrer_email: c.reference for c in cases}
    app.close()
    tick_at(folder, DEADLINE).close()
    tick_at(folder, NOTICE).close()
    answer_timeslot(folder, SCHOOL, "Yes, I will be there.")
    answer_timeslot(folder, THIRD, "No, I cannot attend that day.")
    return refs


def test_the_administrator_learns_who_has_not_confirmed_before_the_meeting(
    tmp_path: Path,
) -> None:
    refs = three_slots(tmp_path)
    tick_at(tmp_path, CHECK - timedelta(minutes=1)).close()
    assert [s for s in to(tmp_path, ADMIN) if "timeslot replies" in s.subject] == []
    tick_at(tmp_path, CHECK, times=2).close()
    tick_at(tmp_path, CHECK + timedelta(hours=1)).close()
    [check] = [s for s in to(tmp_path, ADMIN) if "timeslot replies" in s.subject]
    assert "Tuesday 8 December 2026, 10:00" in check.subject
    text = " ".join(check.text().split())
    waiting, declined = text.split("Said they cannot attend")
    [slot] = [s for s in to(tmp_path, OTHER.referrer_email) if "your timeslot" in s.subject]
    found = re.search(r"Your timeslot: (\d\d:\d\d to \d\d:\d\d)", slot.text())
    assert found is not None
    line = f"{refs[OTHER.referrer_email]} (S.O., age 10): {found.group(1)}, {OTHER.referrer_email}"
    assert line in waiting
    assert refs[THIRD.referrer_email] in declined and THIRD.referrer_email in declined
    assert refs[THIRD.referrer_email] not in waiting and refs[OTHER.referrer_email] not in declined
    assert refs[SCHOOL.referrer_email] not in text and "Confirmed: 1 of 3" in text
    for child in (SCHOOL, OTHER, THIRD):
        assert not any(part in text for part in child.name.split())


def test_the_cut_off_digest_no_longer_has_an_attendance_section(tmp_path: Path) -> None:
    three_slots(tmp_path)
    [digest] = [s for s in to(tmp_path, ADMIN) if "after the deadline" in s.subject]
    assert "attendance" not in digest.text().lower()


def test_the_check_goes_on_the_last_weekday_before_the_meeting_after_the_notice() -> None:
    london = ZoneInfo("Europe/London")

    def meeting(rule: str, notice_days: int) -> Meeting:
        panel = PanelConfig.model_validate(
            {
                "id": "masp",
                "name": "Panel",
                "meetings": {"rrule": rule, "time": "10:00"},
                "deadline": {"days_before": 7},
                "slot_notice_days": notice_days,
            }
        )
        [found] = upcoming(panel, london, datetime(2026, 11, 20, tzinfo=UTC), 1)
        return found

    # Tuesday 8 December: Monday 09:00. Monday 7 December: the Friday before, 09:00.
    assert attendance_check(meeting("FREQ=MONTHLY;BYDAY=+2TU", 5), london) == CHECK
    monday = meeting("FREQ=MONTHLY;BYDAY=+1MO", 5)
    assert attendance_check(monday, london) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    # Timeslots only the day before, at 10:00: the check goes halfway to the meeting.
    late = meeting("FREQ=MONTHLY;BYDAY=+2TU", 1)
    assert attendance_check(late, london) == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def test_the_readme_says_what_tick_does() -> None:
    readme = (ROOT / "README.md").read_text()
    [row] = [line for line in readme.splitlines() if line.startswith("| `masp tick` |")]
    assert "today: outbox retries" not in row
    for job in ("reminders", "screening", "cut-offs", "digests", "timeslots", "packs", "outbox"):
        assert job in row, job


def test_a_referrer_who_said_maybe_is_on_the_check_when_the_others_said_yes(
    tmp_path: Path,
) -> None:
    refs = three_slots(tmp_path)
    app = open_service(tmp_path, NOTICE + timedelta(hours=3))
    with app.store.session() as session:
        # As the calendar handler records a TENTATIVE answer ("maybe" in Gmail, Outlook's
        # "Tentative"); the other two referrers have both said yes.
        answers = {OTHER.referrer_email: "maybe", THIRD.referrer_email: "yes"}
        for slot in session.scalars(select(Slot)):
            case = session.get_one(Case, slot.case_id)
            slot.attendance = answers.get(case.referrer_email, slot.attendance)
    app.close()
    tick_at(tmp_path, CHECK).close()
    [check] = [s for s in to(tmp_path, ADMIN) if "timeslot replies" in s.subject]
    text = " ".join(check.text().split())
    _, maybe = text.split("Said maybe (1):")
    assert refs[OTHER.referrer_email] in maybe and OTHER.referrer_email in maybe
    assert "Confirmed: 2 of 3" in text
    assert refs[SCHOOL.referrer_email] not in text and refs[THIRD.referrer_email] not in text
