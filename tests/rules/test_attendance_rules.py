"""R10 rules: whose answer to a timeslot counts, which answer an email gives, and whether it is
for the slot as it now stands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.mime.message import Attachment
from pipeline.rules.attendance import (
    CHECK_TIME,
    attendance_check,
    calendar_answer,
    carries_documents,
    from_referrer,
    stale_refusal,
    typed_answer,
)
from pipeline.rules.itip import CalendarReply
from pipeline.rules.meetings import meeting_at
from tests.rules.panels import INSTANTS, LONDON, ZONES, panel, panels, some_meeting

REFERRER = "jo@school.example.org"
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def attachment(name: str, declared: str) -> Attachment:
    return Attachment(name, declared, b"", "attached")


@pytest.mark.parametrize(
    ("partstat", "answer"), [("ACCEPTED", "yes"), ("DECLINED", "no"), ("TENTATIVE", "maybe")]
)
def test_a_calendar_answer_records_yes_no_or_maybe(partstat: str, answer: str) -> None:
    reply = CalendarReply("uid", {REFERRER: partstat})
    assert calendar_answer(reply, "Jo@School.example.org") == answer


@pytest.mark.parametrize(
    ("attachments", "documents"),
    [
        ([], False),
        ([attachment("invite.ics", "application/octet-stream")], False),
        ([attachment("reply", "text/calendar; method=REPLY")], False),
        ([attachment("reply", "text/calendar"), attachment("plan.pdf", "application/pdf")], True),
    ],
)
def test_an_email_with_anything_but_calendars_is_left_to_intake(
    attachments: list[Attachment], documents: bool
) -> None:
    assert carries_documents(attachments) is documents


@given(st.emails())
def test_only_the_referrer_s_address_is_the_referrer_whatever_its_case(sender: str) -> None:
    assert from_referrer(sender.upper(), sender)
    assert from_referrer(sender, REFERRER) == (sender.lower() == REFERRER)


@pytest.mark.parametrize(
    ("sender", "subject", "body", "answer"),
    [
        (REFERRER, "Re: Timeslot", "Yes, I will attend.", "yes"),
        ("JO@school.example.org", "Re: Timeslot", "Sorry, I can't make it", None),
        (REFERRER, "Re: Timeslot", "I can't make it, sorry", "no"),
        (REFERRER, "Accepted: Panel meeting", "", "yes"),
        (REFERRER, "Re: Timeslot", "Who else is coming?", None),
        ("colleague@school.example.org", "Re: Timeslot", "Yes, I will attend.", None),
    ],
)
def test_a_typed_answer_is_the_referrer_s_clear_yes_or_no(
    sender: str, subject: str, body: str, answer: str | None
) -> None:
    assert typed_answer(sender, REFERRER, subject, body) == answer


@given(st.sampled_from(["Yes", "No", "Accepted: meeting"]), st.emails())
def test_nobody_else_answers_for_the_referrer(words: str, sender: str) -> None:
    if sender.lower() != REFERRER:
        assert typed_answer(sender, REFERRER, words, words) is None


@given(st.integers(0, 20), st.integers(0, 20))
def test_an_answer_to_the_newest_invitation_is_current(sequence: int, invited: int) -> None:
    reply = CalendarReply("uid", {REFERRER: "ACCEPTED"}, sequence, None)
    assert (stale_refusal(reply, invited, MEETING) is None) == (sequence >= invited)


def test_an_earlier_invitation_s_answer_counts_only_for_the_slot_s_time() -> None:
    same = CalendarReply("uid", {REFERRER: "ACCEPTED"}, 0, MEETING)
    other = CalendarReply("uid", {REFERRER: "ACCEPTED"}, 0, MEETING + timedelta(hours=1))
    assert stale_refusal(same, 2, MEETING) is None
    assert stale_refusal(other, 2, MEETING) == (
        "it answers an earlier invitation, for a time the timeslot no longer has"
    )


def test_the_attendance_check_goes_on_the_last_weekday_before_the_meeting() -> None:
    # Tuesday 8 December: Monday 09:00 (UTC in winter).
    tuesday = meeting_at(panel(), date(2026, 12, 8), LONDON)
    assert attendance_check(tuesday, LONDON) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    # Monday 7 December: the Friday before.
    monday = meeting_at(panel(rrule="FREQ=MONTHLY;BYDAY=+1MO"), date(2026, 12, 7), LONDON)
    assert attendance_check(monday, LONDON) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_a_late_slot_notice_puts_the_check_halfway_to_the_meeting() -> None:
    # Timeslots only the day before, at 10:00: halfway from then to the meeting.
    late = meeting_at(
        PanelConfig.model_validate(
            {
                "id": "masp",
                "name": "Panel",
                "meetings": {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00"},
                "slot_notice_days": 1,
            }
        ),
        date(2026, 12, 8),
        LONDON,
    )
    assert attendance_check(late, LONDON) == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


@given(panels(), ZONES, INSTANTS)
def test_the_check_comes_after_the_slot_notice_and_before_the_meeting(
    config: PanelConfig, tz: ZoneInfo, after: datetime
) -> None:
    meeting = some_meeting(config, tz, after)
    check = attendance_check(meeting, tz)
    assert meeting.slot_notice < check < meeting.starts_at
    # Either 09:00 on a weekday before the meeting day, or halfway from the notice to it.
    halfway = meeting.slot_notice + (meeting.starts_at - meeting.slot_notice) / 2
    local = check.astimezone(tz)
    weekday = local.time() == CHECK_TIME and local.weekday() < 5 and local.date() < meeting.day
    assert weekday or check == halfway
