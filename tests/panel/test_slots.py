"""R10 timeslots: the allocation arithmetic, the notice emails with their .ics, attendance."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.panel.screening.jobs import screening_jobs
from pipeline.panel.slots import slot_jobs
from pipeline.rules.meetings import meeting_at
from pipeline.rules.slots import Break, Candidate, allocate, running_order, timetable
from pipeline.store.models import AuditEvent, Document, Slot
from tests.helpers import Sent, config_tree, drop, open_service
from tests.panel.test_screening import (
    OTHER,
    SCHOOL,
    answer,
    case_row,
    referral,
    reply,
    request_mail,
    tick_only,
    to,
)

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
NOTICE = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
T = datetime(2026, 12, 8, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return T.replace(hour=hour, minute=minute)


# --- Pure allocation ------------------------------------------------------------------------


def test_slots_run_back_to_back_and_step_over_a_break() -> None:
    slots = allocate(at(10), 30, [Break(at(11, 30), 15)], 5)
    assert [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in slots] == [
        ("10:00", "10:30"),
        ("10:30", "11:00"),
        ("11:00", "11:30"),
        ("11:45", "12:15"),
        ("12:15", "12:45"),
    ]


def test_a_slot_that_would_straddle_a_break_starts_after_it() -> None:
    slots = allocate(at(10), 40, [Break(at(12), 30), Break(at(10, 30), 10)], 3)
    assert [s.strftime("%H:%M") for s, _ in slots] == ["10:40", "11:20", "12:30"]


def test_no_cases_no_slots() -> None:
    assert allocate(at(10), 30, [], 0) == []


def test_running_order_follow_ups_then_emergencies_then_arrival() -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    cases = [
        Candidate(1, day + timedelta(hours=1)),
        Candidate(2, day + timedelta(hours=3), section20=True),
        Candidate(3, day),
        Candidate(4, day + timedelta(hours=5), follow_up=True),
        Candidate(5, day + timedelta(hours=2), section20=True),
    ]
    assert [c.case_id for c in running_order(cases)] == [4, 5, 2, 3, 1]


def test_timetable_uses_the_configured_start_in_local_time(tmp_path: Path) -> None:
    slots = {"start": "09:30", "length_minutes": 20, "breaks": [{"at": "10:30", "minutes": 15}]}
    panel = {**config_tree()["panels"][0], "slots": slots}
    app = open_service(tmp_path, NOW, panels=[panel])
    # A summer meeting: 09:30 in London is 08:30 UTC.
    meeting = meeting_at(app.config.panels[0], date(2027, 7, 13), app.config.tz)
    start, breaks = timetable(app.config.panels[0], meeting, app.config.tz)
    assert start == datetime(2027, 7, 13, 8, 30, tzinfo=UTC)
    assert breaks == [Break(datetime(2027, 7, 13, 9, 30, tzinfo=UTC), 15)]
    app.close()


# --- Notice emails --------------------------------------------------------------------------


def approved_case(tmp_path: Path, child: samples.Child = SCHOOL) -> App:
    app = open_service(tmp_path, NOW)
    drop(app, referral(child), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    answer(app, reply(request_mail(app), "APPROVE"))
    assert case_row(app).state == "approved"
    return app


def at_time(tmp_path: Path, app: App, when: datetime) -> App:
    app.close()
    return open_service(tmp_path, when)


def timeslots(app: App, address: str) -> list[Sent]:
    return [s for s in to(app, address) if "your timeslot" in s.subject]


def ics_of(mail: Sent) -> str:
    [part] = [p for p in mail.message.walk() if (p.get_filename() or "").endswith(".ics")]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data.decode()


def ics_field(text: str, name: str) -> str:
    unfolded = text.replace("\r\n ", "")
    match = re.search(rf"^{name}[;:]([^\r\n]*)", unfolded, re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def test_slot_emails_go_at_the_notice_time_exactly_once_with_an_invitation(
    tmp_path: Path,
) -> None:
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, NOTICE - timedelta(minutes=1))
    tick_only(app, slot_jobs)
    assert timeslots(app, SCHOOL.referrer_email) == []
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs, screening_jobs)
    tick_only(app, slot_jobs, screening_jobs)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    reference = case_row(app).reference
    assert "10:00 to 10:30" in mail.text() and "YES" in mail.text()
    assert mail.attachment_names() == [f"{reference}-timeslot.ics"]
    ics = ics_of(mail)
    assert "METHOD:REQUEST" in ics and ics.endswith("END:VCALENDAR\r\n")
    assert ics_field(ics, "DTSTART") == "20261208T100000Z"
    assert ics_field(ics, "DTEND") == "20261208T103000Z"
    assert ics_field(ics, "SUMMARY") == f"Multi Agency Support Panel: {reference} (R.T.\\, age 10)"
    assert ics_field(ics, "ORGANIZER").endswith(":mailto:panel@example.org")
    assert "Robin" not in ics
    with app.store.session() as session:
        [slot] = session.scalars(select(Slot))
        assert slot.notified_at == NOTICE and slot.position == 0
    app.close()


def test_a_case_approved_after_the_notice_gets_the_next_slot(tmp_path: Path) -> None:
    app = approved_case(tmp_path)
    drop(app, referral(OTHER), NOW - timedelta(minutes=30))
    poll(app)
    tick_only(app)
    app = at_time(tmp_path, app, NOTICE + timedelta(hours=1))
    tick_only(app, slot_jobs)
    assert timeslots(app, OTHER.referrer_email) == []
    answer(app, reply(request_mail(app, 1), "APPROVE"))
    tick_only(app, slot_jobs)
    tick_only(app, slot_jobs)
    [late] = timeslots(app, OTHER.referrer_email)
    assert "10:30 to 11:00" in late.text()
    assert len(timeslots(app, SCHOOL.referrer_email)) == 1
    app.close()


def unscreened_case_at_notice(tmp_path: Path) -> App:
    """A complete, unscreened case listed by configuration, at its meeting's slot notice."""
    app = open_service(tmp_path, NOW, screening={"unscreened": "list"})
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    app.close()
    app = open_service(tmp_path, NOTICE, screening={"unscreened": "list"})
    tick_only(app, slot_jobs)
    return app


def test_unscreened_cases_are_listed_when_configured(tmp_path: Path) -> None:
    app = unscreened_case_at_notice(tmp_path)
    assert len(timeslots(app, SCHOOL.referrer_email)) == 1
    app.close()


def test_a_case_declined_after_its_slot_loses_it_and_the_invitation_is_cancelled(
    tmp_path: Path,
) -> None:
    app = unscreened_case_at_notice(tmp_path)
    [offer] = timeslots(app, SCHOOL.referrer_email)
    answer(app, reply(request_mail(app), "DECLINE the family has moved out of the area"))
    [declined] = [s for s in to(app, SCHOOL.referrer_email) if "not accepted" in s.subject]
    reference = case_row(app).reference
    assert "10:00 to 10:30" in declined.text() and "withdrawn" in declined.text()
    assert declined.attachment_names() == [f"{reference}-timeslot.ics"]
    cancel, invite = ics_of(declined), ics_of(offer)
    assert "METHOD:CANCEL" in cancel and ics_field(cancel, "STATUS") == "CANCELLED"
    [part] = [p for p in declined.message.walk() if (p.get_filename() or "").endswith(".ics")]
    assert part.get_param("method") == "CANCEL"
    # The same event, at a higher sequence: the calendar removes the entry it holds.
    assert ics_field(cancel, "UID") == ics_field(invite, "UID")
    assert int(ics_field(cancel, "SEQUENCE")) > int(ics_field(invite, "SEQUENCE"))
    with app.store.session() as session:
        assert list(session.scalars(select(Slot))) == []
        withdrawn = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "timeslot-withdrawn")
        )
        assert len(list(withdrawn)) == 1
    app.close()


def test_a_referrers_yes_is_recorded_and_not_answered(tmp_path: Path) -> None:
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    sent_before = len(to(app, SCHOOL.referrer_email))
    yes = samples.Mail(
        f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>",
        f"RE: {mail.subject}",
        body="Yes, I will be there.\n\n> Please reply YES or NO",
        in_reply_to=mail.message_id,
    )
    answer(app, yes)
    with app.store.session() as session:
        [slot] = session.scalars(select(Slot))
        assert slot.attendance == "yes" and slot.attendance_at == NOTICE
        actions = list(session.scalars(select(AuditEvent.action)))
        assert "attendance" in actions
    tick_only(app)
    assert len(to(app, SCHOOL.referrer_email)) == sent_before
    assert to(app, "admin@example.org") == []
    app.close()


def test_a_reply_with_documents_is_still_filed_as_documents(tmp_path: Path) -> None:
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    with_file = samples.Mail(
        f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>",
        f"RE: {mail.subject}",
        body="Yes. Also attached is the updated chronology.",
        files=[samples.File("Chronology v2.docx", samples.DOCX, samples.chronology(14))],
        in_reply_to=mail.message_id,
    )
    answer(app, with_file)
    with app.store.session() as session:
        [slot] = session.scalars(select(Slot))
        assert slot.attendance is None
        assert len(list(session.scalars(select(Document)))) == 5
    app.close()


def test_english_subject_words_alone_are_not_an_answer(tmp_path: Path) -> None:
    # "Declined: REF" with neither the calendar's iTIP answer nor our thread proves nothing
    # (anyone can write it): a person reads it. Calendar answers: test_documents_attendance.
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    reference = case_row(app).reference
    declined = samples.Mail(
        f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>",
        f"Declined: {reference}",
        body="",
    )
    answer(app, declined)
    with app.store.session() as session:
        [slot] = session.scalars(select(Slot))
        assert slot.attendance is None
    [notice] = to(app, "admin@example.org")
    assert reference in notice.subject and "needs reading" in notice.subject
    app.close()


def test_no_slot_email_once_the_meeting_has_started(tmp_path: Path) -> None:
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, MEETING + timedelta(minutes=1))
    report = tick_only(app, slot_jobs)
    assert timeslots(app, SCHOOL.referrer_email) == []
    assert report.done == []
    app.close()
