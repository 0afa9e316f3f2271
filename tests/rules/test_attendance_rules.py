"""R10 rules: whose answer to a timeslot counts, which answer an email gives, and whether it is
for the slot as it now stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.mime.message import Attachment
from pipeline.rules.attendance import (
    calendar_answer,
    carries_documents,
    from_referrer,
    stale_refusal,
    typed_answer,
)
from pipeline.rules.itip import CalendarReply

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
