"""The month after the meeting, as the demo tells it: the decisions workbook filled in at the
meeting and sent back, decision sheets, a recommendation to the resource panel (LARP), a review
on the next agenda, the 12-week follow-up of a case with no further panel review."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

from rich.console import Console
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.demo.before import approval
from pipeline.demo.common import Cast, missing, outbox, step
from pipeline.errors import PipelineError
from pipeline.outputs.agenda import build_agenda, sections
from pipeline.panel.quarterly import make_quarterly
from pipeline.rules.meetings import Meeting, upcoming
from pipeline.rules.quarterly import headline, last_complete
from pipeline.states import Outcome
from pipeline.store.models import Case

ADMINISTRATOR = "A Admin <admin@example.org>"


def _references(service: App, cast: Cast) -> tuple[str, str, str]:
    """The school's and the health visitor's cases, and the Section 20 emergency's."""
    with service.store.session() as session:
        cases = list(session.scalars(select(Case)))
    by_referrer = {case.referrer_email: case.reference for case in cases}
    emergency = next((case.reference for case in cases if case.section20), None)
    school = by_referrer.get(cast.school.referrer_email)
    health = by_referrer.get(cast.health.referrer_email)
    if school is None or health is None or emergency is None:
        raise PipelineError("the demo's cases were not all opened")
    return school, health, emergency


def _workbook(service: App) -> tuple[EmailMessage, bytes]:
    """The workbook email the administrator received with the pack, and the workbook."""
    item = outbox(service, "decisions_workbook", service.config.people.administrator.email)
    message = email.message_from_bytes(service.files.read(item.raw_path), policy=policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.iter_attachments():
        if (part.get_filename() or "").endswith(".xlsx"):
            data = part.get_content()
            if isinstance(data, bytes):
                return message, data
    missing("decisions_workbook")
    raise AssertionError("unreachable")


def _filled(service: App, cast: Cast, day: date) -> samples.Mail:
    """The workbook as the administrator fills it in during the meeting, sent back in reply."""
    school, health, emergency = _references(service, cast)
    review = day + timedelta(days=21)
    message, data = _workbook(service)
    decisions: dict[str, dict[str, Any]] = {
        school: {
            "Outcome": Outcome.ACCEPTED.value,
            "Lead Professional name": "Sam Lead",
            "Lead Professional agency": "Education",
            "Lead Professional email": "sam.lead@school.example.org",
            "Review date": review,
            "No further panel review (MASG)": "No",
            "LARP recommendation": "No",
        },
        health: {
            "Outcome": Outcome.ACCEPTED.value,
            "Lead Professional name": "Lee Sample",
            "Lead Professional agency": "Health",
            "Lead Professional email": cast.health.referrer_email,
            "Review date": review,
            "LARP recommendation": "Yes",
            "LARP note": "A short-breaks package for the family, to be costed.",
        },
        emergency: {
            "Outcome": Outcome.ADVICE.value,
            "Lead Professional name": "Pat Demo",
            "Lead Professional agency": "Police",
            "Lead Professional email": cast.police.referrer_email,
            "No further panel review (MASG)": "Yes",
        },
    }
    actions = [
        (
            school,
            "Hold a Team Around the Family meeting",
            "Sam Lead",
            "Education",
            day + timedelta(days=14),
        ),
        (
            school,
            "Offer a parenting programme place",
            "Early Help worker",
            "Early Help",
            day + timedelta(days=28),
        ),
        (
            health,
            "Ask the resource panel about short breaks",
            "Lee Sample",
            "Health",
            day + timedelta(days=10),
        ),
    ]
    return _reply(message, samples.fill_workbook(data, decisions, actions))


def _reply(message: EmailMessage, filled: bytes) -> samples.Mail:
    """The administrator's reply to the workbook email, with the filled workbook attached."""
    return samples.Mail(
        ADMINISTRATOR,
        f"Re: {' '.join(str(message['Subject']).split())}",
        body="The decisions from today's meeting are in the workbook attached.",
        in_reply_to=str(message["Message-ID"]),
        files=[samples.File("decisions.xlsx", samples.XLSX, filled)],
    )


def _next_filled(service: App, cast: Cast, day: date) -> samples.Mail:
    """The next meeting's workbook: the school's review closes its case, the health visitor's
    goes on to another review, and the late referral is signposted elsewhere."""
    school, health, _ = _references(service, cast)
    with service.store.session() as session:
        late = session.scalars(
            select(Case.reference).where(Case.referrer_email == cast.late.referrer_email)
        ).one()
    message, data = _workbook(service)
    decisions: dict[str, dict[str, Any]] = {
        school: {
            "Outcome": Outcome.CLOSED.value,
            "Final review (closes the case)": "Yes",
            "Notes": "The plan worked; the family agreed to close.",
        },
        health: {
            "Outcome": Outcome.ACCEPTED.value,
            "Lead Professional name": "Lee Sample",
            "Lead Professional agency": "Health",
            "Lead Professional email": cast.health.referrer_email,
            "Review date": day + timedelta(days=28),
        },
        late: {"Outcome": Outcome.SIGNPOSTED.value},
    }
    # The open actions stay open (the health visitor's is still to do).
    return _reply(message, samples.fill_workbook(data, decisions, done="No"))


def _show_follow_ups(service: App, console: Console, meeting: Meeting) -> None:
    """Section 1 of the next meeting's agenda, as the pack carries it."""
    with service.store.session() as session:
        agenda = build_agenda(service, session, meeting.panel_id, meeting.starts_at)
    title, entries = sections(agenda)[0]
    console.print(f"    {title}:", markup=False, highlight=False)
    for text, _reference in entries:
        console.print(f"      {text}", markup=False, highlight=False)


def _quarterly(service: App, console: Console, at: datetime) -> None:
    """`masp report quarterly` for the quarter just ended, as the administrator would run it."""
    service = replace(service, clock=Clock.frozen_at(at))
    quarter = last_complete(at.astimezone(service.config.tz).date())
    with service.store.session() as session:
        made = make_quarterly(service, session, quarter, None)
    console.print(f"    The quarterly picture, {quarter.label}: {made.path}", markup=False)
    for line in headline(made.report.figures):
        console.print(f"      {line}", markup=False, highlight=False)


def story(service: App, console: Console, meeting: Meeting, cast: Cast) -> datetime:
    """From the meeting to the 12-week follow-up; returns the moment of its last step."""
    tz = service.config.tz
    day = meeting.starts_at.astimezone(tz).date()
    step(
        service,
        console,
        meeting.starts_at + timedelta(hours=3),
        "The meeting is held; the manager approves the late referral for the next one.",
        (approval(service, cast.late),),
    )
    step(
        service,
        console,
        meeting.starts_at + timedelta(hours=5),
        "The administrator replies with the workbook filled in at the meeting: the decisions "
        "are recorded, each referrer gets the decision sheet (the Lead Professional copied), "
        "and the LARP recommendation goes to the resource panel with the case's papers.",
        (_filled(service, cast, day),),
    )
    after = upcoming(service.config.panel(meeting.panel_id), tz, meeting.starts_at, 1)[0]
    step(
        service,
        console,
        after.slot_notice + timedelta(minutes=15),
        "A month on, the next pack lists the review with its outstanding actions:",
    )
    _show_follow_ups(service, console, after)
    step(
        service,
        console,
        after.starts_at + timedelta(hours=5),
        "That meeting's workbook comes back: the school's review closes its case, the health "
        "visitor's goes on to another review, the late referral is signposted elsewhere.",
        (_next_filled(service, cast, after.starts_at.astimezone(tz).date()),),
    )
    step(
        service,
        console,
        meeting.starts_at + timedelta(weeks=service.config.decisions.follow_up_weeks, days=1),
        "Twelve weeks on, the Lead Professional of the case with no further panel review is "
        "asked for the outcomes.",
    )
    at = meeting.starts_at + timedelta(weeks=service.config.decisions.follow_up_weeks, days=2)
    _quarterly(service, console, at)
    end = at + timedelta(minutes=1)
    step(service, console, end, "The quarterly picture goes to the chair.")
    return end
