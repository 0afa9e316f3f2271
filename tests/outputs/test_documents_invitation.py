"""R10 the timeslot invitation (.ics): a real iCalendar file with a place, a useful title and
times that are right on both sides of the clock change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import yaml

from pipeline.app import App
from pipeline.config import parse_config
from pipeline.errors import ConfigError
from pipeline.intake.poll import poll
from pipeline.outputs.invitation import Invitation, to_ics
from pipeline.panel.slots import slot_jobs
from pipeline.rules.meetings import meeting_at
from tests.helpers import ROOT, config_tree, drop, open_service
from tests.panel.test_screening import (
    SCHOOL,
    answer,
    case_row,
    referral,
    reply,
    request_mail,
    tick_only,
    to,
)
from tests.panel.test_slots import NOTICE, NOW, at_time, ics_of, timeslots
from tests.panel.test_slots import approved_case as approved_default

LONDON = ZoneInfo("Europe/London")
PLACE = "Room 2, Civic Centre, 1 High Street, Any Town"


def event_of(data: str | bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return calendar, event


def approved_with_place(tmp_path: Path, place: str) -> App:
    panel = {**config_tree()["panels"][0]}
    panel["meetings"] = {**panel["meetings"], "place": place}
    app = open_service(tmp_path, NOW, panels=[panel])
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    answer(app, reply(request_mail(app), "APPROVE"))
    app.close()
    app = open_service(tmp_path, NOTICE, panels=[panel])
    tick_only(app, slot_jobs)
    return app


def test_the_invitation_has_a_place_a_title_and_london_times(tmp_path: Path) -> None:
    app = approved_with_place(tmp_path, PLACE)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    reference = case_row(app).reference
    calendar, event = event_of(ics_of(mail))
    assert str(calendar["METHOD"]) == "REQUEST"
    # Minimal identifiers: the reference, the child's initials and age; never a name.
    assert str(event["SUMMARY"]) == f"Multi Agency Support Panel: {reference} (R.T., age 10)"
    assert str(event["LOCATION"]) == PLACE
    raw = ics_of(mail)
    assert "Robin" not in raw and "Testcase" not in raw
    # In UTC, which every calendar program places right: 10:00 in London in December.
    assert event.decoded("DTSTART") == datetime(2026, 12, 8, 10, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 12, 8, 10, 30, tzinfo=UTC)
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == f"mailto:{SCHOOL.referrer_email}"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION" and attendee.params["RSVP"] == "TRUE"
    assert str(event["ORGANIZER"]) == "mailto:panel@example.org"
    assert int(str(event["SEQUENCE"])) == 0
    # iMIP (RFC 6047): the part says it is an invitation, so mail programs offer Accept.
    [part] = [p for p in mail.message.walk() if (p.get_filename() or "").endswith(".ics")]
    assert part.get_content_type() == "text/calendar" and part.get_param("method") == "REQUEST"
    # The email says where, too.
    assert PLACE in mail.text()
    app.close()


def test_no_place_configured_means_no_location(tmp_path: Path) -> None:
    app = approved_default(tmp_path)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    _, event = event_of(ics_of(mail))
    assert "LOCATION" not in event
    assert "Where:" not in mail.text()
    assert to(app, "admin@example.org") == []
    app.close()


def invitation(starts_at: datetime, cancelled_sequence: int = 0) -> Invitation:
    return Invitation(
        uid="masp-slot.MASP-2027-0001.20270713T0900Z.0123456789abcdef@example.org",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        summary="Multi Agency Support Panel: MASP-2027-0001 (R.T., age 10)",
        description="Panel timeslot for MASP-2027-0001.",
        location=PLACE,
        organizer="panel@example.org",
        organizer_name="Multi Agency Support Panel",
        attendee="jo.example@school.example.org",
        stamp=datetime(2027, 7, 8, 10, tzinfo=UTC),
        sequence=cancelled_sequence,
    )


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        # 10:00 in London in summer (BST) is 09:00 UTC; in winter (GMT) it is 10:00 UTC.
        (date(2027, 7, 13), 9),
        (date(2027, 1, 12), 10),
        # The Tuesday after the clocks go back (25 October 2026) and after they go forward
        # (28 March 2027).
        (date(2026, 10, 27), 10),
        (date(2027, 3, 30), 9),
    ],
)
def test_times_are_right_across_bst_and_gmt(tmp_path: Path, day: date, utc_hour: int) -> None:
    app = open_service(tmp_path, NOW)
    meeting = meeting_at(app.config.panels[0], day, app.config.tz)
    app.close()
    calendar, event = event_of(to_ics(invitation(meeting.starts_at)))
    start = event.decoded("DTSTART")
    assert start == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
    assert start.astimezone(LONDON).strftime("%H:%M") == "10:00"
    assert event.decoded("DTEND") == start + timedelta(minutes=30)
    # UTC times need no VTIMEZONE, so no calendar program can misread one.
    assert calendar.walk("VTIMEZONE") == []


def test_a_cancellation_is_the_same_event_at_a_higher_sequence() -> None:
    starts_at = datetime(2027, 7, 13, 9, 0, tzinfo=UTC)
    request_calendar, request = event_of(to_ics(invitation(starts_at)))
    cancel_calendar, cancel = event_of(to_ics(invitation(starts_at, 1), cancelled=True))
    assert str(request_calendar["METHOD"]) == "REQUEST"
    assert str(cancel_calendar["METHOD"]) == "CANCEL" and str(cancel["STATUS"]) == "CANCELLED"
    assert str(cancel["UID"]) == str(request["UID"])
    assert int(str(cancel["SEQUENCE"])) > int(str(request["SEQUENCE"]))
    data = to_ics(invitation(starts_at))
    assert data.endswith(b"END:VCALENDAR\r\n") and b"\n" not in data.replace(b"\r\n", b"")


def shipped() -> dict[str, Any]:
    tree = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert isinstance(tree, dict)
    return tree


@pytest.mark.parametrize(
    "place", ["Room 2\nSecond line", "Room\x072", "x" * 201], ids=["newline", "bell", "long"]
)
def test_a_bad_meeting_place_is_refused_naming_the_key(place: str) -> None:
    tree = shipped()
    tree["panels"][0]["meetings"]["place"] = place
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == "panels[0].meetings.place"


def test_the_shipped_config_documents_the_place() -> None:
    text = (ROOT / "config.yaml").read_text()
    assert "place:" in text
    config = parse_config(shipped(), ROOT, env={})
    assert isinstance(config.panels[0].meetings.place, str)
