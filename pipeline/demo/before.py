"""The month before the meeting, as the demo tells it: intake, reminders, screening, the
cut-off, timeslots and the pack."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.demo.common import Cast, missing, outbox, step
from pipeline.rules.meetings import Meeting
from pipeline.store.models import Case, OutboxItem


def _referral(child: samples.Child, subject: str, leave_out: str = "") -> samples.Mail:
    files = [
        f for f in samples.full_referral(child) if not leave_out or leave_out not in f.filename
    ]
    return samples.Mail(f"{child.referrer_name} <{child.referrer_email}>", subject, files=files)


def _reply(service: App, template: str, about: str, sender: str, body: str) -> samples.Mail:
    """A reply to the newest `template` email whose recipients include `about`."""
    original = outbox(service, template, about)
    return samples.Mail(
        sender, f"Re: {original.subject}", body=body, in_reply_to=f"<{original.message_id}>"
    )


def approval(service: App, cast_member: samples.Child) -> samples.Mail:
    # The screening email goes to the manager; find it through the case's referrer.
    with service.store.session() as session:
        case = session.scalars(
            select(Case).where(Case.referrer_email == cast_member.referrer_email)
        ).first()
        reference = case.reference if case else ""
        item = session.scalars(
            select(OutboxItem).where(
                OutboxItem.template == "screening_request", OutboxItem.subject.contains(reference)
            )
        ).first() or missing("screening_request")
    return samples.Mail(
        "S Manager <sm@example.org>",
        f"Re: {item.subject}",
        body="APPROVE\nGood referral, please list it.",
        in_reply_to=f"<{item.message_id}>",
    )


def story(service: App, console: Console, meeting: Meeting, cast: Cast) -> None:
    deadline = meeting.deadline
    step(
        service,
        console,
        deadline - timedelta(days=4),
        "Four referrals arrive: one complete, one missing its chronology, a Section 20 "
        "emergency forwarded by a duty desk, one missing its assessment.",
        (
            _referral(cast.school, "Referral for panel"),
            _referral(cast.health, "MASP referral", leave_out="Chronology"),
            samples.forwarded(
                _referral(cast.police, "Emergency admission"),
                by="Duty Desk <duty@police.example.org>",
            ),
            _referral(cast.charity, "Referral", leave_out="EHA"),
        ),
    )
    step(service, console, deadline - timedelta(hours=72), "72 hours before the deadline.")
    step(
        service,
        console,
        deadline - timedelta(days=1),
        "The manager approves the first case; its referrer's out-of-office answers; the "
        "missing chronology arrives as a reply.",
        (
            approval(service, cast.school),
            _reply(
                service,
                "acknowledgement",
                cast.school.referrer_email,
                cast.school.referrer_email,
                "I am out of the office.",
            ).with_headers({"Auto-Submitted": "auto-replied"}),
            _reply(
                service,
                "acknowledgement",
                cast.health.referrer_email,
                cast.health.referrer_email,
                "Chronology attached.",
            ).with_files([samples.File("chronology v2.docx", samples.DOCX, samples.chronology())]),
        ),
    )
    step(
        service,
        console,
        deadline - timedelta(hours=20),
        "The manager approves the second.",
        (approval(service, cast.health),),
    )
    step(
        service,
        console,
        deadline + timedelta(minutes=1),
        "The deadline passes: the incomplete referral is moved to the next meeting, "
        "and a late one arrives.",
        (_referral(cast.late, "Late referral"),),
    )
    step(service, console, meeting.slot_notice, "Timeslots go out with calendar invitations.")
    step(
        service,
        console,
        meeting.slot_notice + timedelta(minutes=15),
        "Documents are converted and the pack is built and sent.",
    )
