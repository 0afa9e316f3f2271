"""R10 attendance from calendar programs: the iTIP REPLY (PARTSTAT) of an answered invitation.

End to end through intake on the maildir back-end: the referrer's slot email goes out with its
invitation, a calendar program answers it as Outlook, Gmail or Apple Calendar would (in any
language), and `masp status --json` shows the answer. Only the referrer, answering as the
invitation's attendee, counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from pipeline.panel.slots import slot_jobs
from pipeline.rules.attendance import calendar_refusal
from pipeline.rules.itip import MAX_CALENDAR_BYTES, CalendarReply, answers_current, read_reply
from pipeline.store.models import Document, Message, Slot
from tests.calendar_replies import (
    Answer,
    apple,
    gmail,
    google_ics,
    ics_file_only,
    outlook,
    outlook_ics,
)
from tests.helpers import drop
from tests.panel.test_screening import (
    SCHOOL,
    answer,
    audits,
    case_row,
    referral,
    reply,
    request_mail,
    tick_only,
    to,
)
from tests.panel.test_slots import (
    MEETING,
    NOTICE,
    approved_case,
    at_time,
    ics_field,
    ics_of,
    timeslots,
)

ADMIN = "admin@example.org"


def invited(tmp_path: Path) -> tuple[App, Answer]:
    """An approved case whose referrer has had the timeslot email, and the answer to it."""
    app = approved_case(tmp_path)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    ics = ics_of(mail)
    summary = ics_field(ics, "SUMMARY").replace("\\,", ",").replace("\\;", ";")
    return app, Answer(
        uid=ics_field(ics, "UID"),
        summary=summary,
        starts_at=MEETING,
        ends_at=MEETING + timedelta(minutes=30),
        sender=SCHOOL.referrer_email,
        sender_name=SCHOOL.referrer_name,
    )


def deliver(app: App, raw: bytes) -> None:
    drop(app, raw, app.clock.now() - timedelta(minutes=5))
    poll(app)


def attendance(app: App) -> str | None:
    with app.store.session() as session:
        [slot] = session.scalars(select(Slot))
        return slot.attendance


def documents(app: App) -> int:
    with app.store.session() as session:
        return session.scalar(select(func.count(Document.id))) or 0


def status_json(tmp_path: Path, app: App, reference: str) -> dict[str, object]:
    app.close()
    base = ["--config", str(tmp_path / "config.yaml"), "--now", NOTICE.isoformat()]
    result = CliRunner().invoke(cli, [*base, "status", reference, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


Client = Callable[[Answer], bytes]
CLIENTS: list[tuple[str, Client, str, str, str]] = [
    ("outlook-english", outlook, "ACCEPTED", "Accepted:", "yes"),
    ("outlook-french", lambda a: outlook(a, "fr-FR"), "ACCEPTED", "Accepté :", "yes"),
    ("gmail-german-decline", gmail, "DECLINED", "Abgelehnt:", "no"),
    ("apple-tentative", apple, "TENTATIVE", "Vielleicht:", "maybe"),
    ("application-ics-only", ics_file_only, "ACCEPTED", "Accepté :", "yes"),
]


@pytest.mark.parametrize(
    ("client", "partstat", "word", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in CLIENTS],
)
def test_a_calendar_programs_answer_is_recorded_from_its_partstat(
    tmp_path: Path, client: Client, partstat: str, word: str, expected: str
) -> None:
    app, base = invited(tmp_path)
    case = case_row(app)
    sent_before, stored_before = len(to(app, SCHOOL.referrer_email)), documents(app)
    deliver(app, client(replace(base, partstat=partstat, subject_word=word)))
    assert attendance(app) == expected
    [recorded] = audits(app, "attendance")
    assert recorded["answer"] == expected
    with app.store.session() as session:
        [row] = session.scalars(select(Message).where(Message.category == "attendance"))
        assert row.case_id == case.id
    # Recorded, not answered, and the invitation is not filed as one of the case's documents.
    tick_only(app)
    assert len(to(app, SCHOOL.referrer_email)) == sent_before
    assert to(app, ADMIN) == []
    assert documents(app) == stored_before
    slot = status_json(tmp_path, app, case.reference)["slot"]
    assert isinstance(slot, dict) and slot["attendance"] == expected


def refused(app: App) -> list[str]:
    return [str(a["why"]) for a in audits(app, "attendance-refused")]


def test_an_attendee_who_is_not_the_referrer_does_not_count(tmp_path: Path) -> None:
    app, base = invited(tmp_path)
    reference = case_row(app).reference
    stored_before = documents(app)
    deliver(app, outlook(replace(base, attendee="deputy@school.example.org")))
    assert attendance(app) is None
    assert refused(app) == ["the answer is not the referrer's"]
    [alert] = to(app, ADMIN)
    assert reference in alert.subject and "not recorded" in alert.subject
    assert "deputy@school.example.org" not in alert.subject
    assert documents(app) == stored_before
    app.close()


def test_a_stranger_answering_a_forwarded_invitation_does_not_count(tmp_path: Path) -> None:
    app, base = invited(tmp_path)
    stranger = "someone@elsewhere.example.net"
    stored_before = documents(app)
    deliver(app, gmail(replace(base, sender=stranger, sender_name="Some One")))
    assert attendance(app) is None
    assert refused(app) == ["not from the referrer"]
    # The stranger learns nothing, and nothing they sent joins the case.
    assert to(app, stranger) == []
    assert documents(app) == stored_before
    assert len(to(app, ADMIN)) == 1
    app.close()


def test_a_forged_invitation_uid_does_not_count(tmp_path: Path) -> None:
    app, base = invited(tmp_path)
    # The reference and meeting are right; the signature is not the installation's.
    local, _, domain = base.uid.partition("@")
    forged = f"{local.rsplit('.', 1)[0]}.{'0' * 16}@{domain}"
    deliver(app, apple(replace(base, uid=forged)))
    assert attendance(app) is None
    assert refused(app) == ["not an invitation of ours"]
    app.close()


def test_the_answer_goes_to_the_slot_its_invitation_was_for(tmp_path: Path) -> None:
    # One referrer with two children at the same meeting: the invitation's UID says which.
    sibling = samples.Child(name="Sam Sibling", referrer_email=SCHOOL.referrer_email)
    app = approved_case(tmp_path)
    drop(app, referral(sibling), app.clock.now() - timedelta(minutes=30))
    poll(app)
    tick_only(app)
    answer(app, reply(request_mail(app, 1), "APPROVE"))
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    mails = timeslots(app, SCHOOL.referrer_email)
    assert len(mails) == 2
    second = ics_of(mails[1])
    base = Answer(
        uid=ics_field(second, "UID"),
        summary=ics_field(second, "SUMMARY").replace("\\,", ","),
        starts_at=MEETING + timedelta(minutes=30),
        ends_at=MEETING + timedelta(minutes=60),
        sender=SCHOOL.referrer_email,
    )
    deliver(app, outlook(replace(base, partstat="DECLINED", subject_word="Refusé :"), "fr-FR"))
    with app.store.session() as session:
        answers = {s.position: s.attendance for s in session.scalars(select(Slot))}
    assert answers == {0: None, 1: "no"}
    app.close()


def test_a_yes_from_someone_else_naming_the_referrer_in_reply_to_does_not_count(
    tmp_path: Path,
) -> None:
    app, _ = invited(tmp_path)
    [mail] = timeslots(app, SCHOOL.referrer_email)
    yes = samples.Mail(
        "Someone Else <someone.else@school.example.org>",
        f"RE: {mail.subject}",
        body="Yes, I will be there.",
        in_reply_to=mail.message_id,
        headers={"Reply-To": SCHOOL.referrer_email},
    )
    deliver(app, yes.as_bytes())
    assert attendance(app) is None
    app.close()


# --- Pure rules -------------------------------------------------------------------------------

UID = "masp-slot.MASP-2026-0001.20261208T1000Z.0123456789abcdef@example.org"
BASE = Answer(
    uid=UID,
    summary="Multi Agency Support Panel: MASP-2026-0001 (R.T., age 10)",
    starts_at=MEETING,
    ends_at=MEETING + timedelta(minutes=30),
    sender=SCHOOL.referrer_email,
)


@pytest.mark.parametrize("sequence", [0, 2])
def test_each_programs_reply_reads_as_the_same_answer(sequence: int) -> None:
    answered = replace(BASE, sequence=sequence)
    for ics in (outlook_ics(answered), google_ics(answered)):
        reply = read_reply(ics.encode())
        # The start time is the same instant, whichever zone the program wrote it in.
        expected = CalendarReply(UID, {SCHOOL.referrer_email: "ACCEPTED"}, sequence, MEETING)
        assert reply == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a calendar at all",
        b"\xff\xfe\x00garbage",
        google_ics(BASE).replace("METHOD:REPLY", "METHOD:REQUEST").encode(),
        google_ics(BASE).replace("UID:", "X-UID:").encode(),
        google_ics(BASE).replace("END:VEVENT", "END:VEVENT\r\nBEGIN:VEVENT\r\nEND:VEVENT").encode(),
        google_ics(BASE).encode() + b"X-PAD:" + b"x" * MAX_CALENDAR_BYTES,
    ],
    ids=["empty", "text", "binary", "request", "no-uid", "two-events", "too-big"],
)
def test_what_is_not_exactly_one_answered_event_is_no_reply(data: bytes) -> None:
    assert read_reply(data) is None


@pytest.mark.parametrize(
    ("sender", "partstats", "minutes", "why"),
    [
        ("jo@school.example.org", {"jo@school.example.org": "ACCEPTED"}, 60, None),
        ("JO@School.Example.org", {"jo@school.example.org": "DECLINED"}, 60, None),
        ("other@school.example.org", {"jo@school.example.org": "ACCEPTED"}, 60, "not from"),
        ("jo@school.example.org", {"other@school.example.org": "ACCEPTED"}, 60, "not the ref"),
        ("jo@school.example.org", {"jo@school.example.org": "NEEDS-ACTION"}, 60, "no answer"),
        ("jo@school.example.org", {"jo@school.example.org": "DELEGATED"}, 60, "no answer"),
        ("jo@school.example.org", {"jo@school.example.org": "ACCEPTED"}, 0, "has started"),
    ],
)
def test_calendar_refusal(
    sender: str, partstats: dict[str, str], minutes: int, why: str | None
) -> None:
    reply = CalendarReply(UID, partstats)
    now = MEETING - timedelta(minutes=minutes)
    found = calendar_refusal(sender, reply, "jo@school.example.org", MEETING, now)
    assert (found is None) if why is None else (found is not None and why in found)


ELEVEN = MEETING + timedelta(hours=1)


@pytest.mark.parametrize(
    ("sequence", "starts_at", "current"),
    [
        # An answer to the newest invitation (sequence 2) counts: its sequence says which
        # revision it answers, and a time a program wrote in a zone of its own is only a hint.
        (2, MEETING, True),
        (2, None, True),
        # An answer to an earlier one counts only for the time the slot has now.
        (0, ELEVEN, True),
        (0, MEETING, False),
        (0, None, False),
    ],
)
def test_which_answers_are_for_the_slot_as_it_now_stands(
    sequence: int, starts_at: datetime | None, current: bool
) -> None:
    reply = CalendarReply("uid", {SCHOOL.referrer_email: "ACCEPTED"}, sequence, starts_at)
    assert answers_current(reply, 2, ELEVEN) is current
