"""`masp demo`: a newcomer's tour of intake on synthetic referrals, with no mail server."""

from __future__ import annotations

import email
import mailbox
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import load_config
from pipeline.intake.poll import poll
from pipeline.outputs.status import all_cases, print_table
from pipeline.panel.meetings import upcoming
from pipeline.store.models import OutboxItem

CONFIG = """\
# A throw-away configuration written by `masp demo`.
timezone: Europe/London
data_dir: data
mailbox:
  backend: maildir
  address: panel@example.org
  maildir: {inbox: mail/inbox, processed: mail/processed, sent: mail/sent}
panels:
  - id: masp
    name: Multi Agency Support Panel
    meetings: {rrule: "FREQ=MONTHLY;BYDAY=+2TU", time: "10:00"}
    deadline: {days_before: 7, time: "12:00"}
people:
  administrator: {name: A Admin, email: admin@example.org}
  chair: {name: C Chair, email: chair@example.org}
  service_managers: [{name: S Manager, email: sm@example.org}]
limits:
  allowed_recipient_domains: [example.org]
"""


def _drop(inbox: Path, mail: samples.Mail, received: datetime) -> None:
    """Deliver into the Maildir as a mail server would, received at `received`."""
    inbox.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(inbox), create=True)
    key = box.add(mail.as_bytes())
    path = inbox / "new" / key
    os.utime(path, (received.timestamp(), received.timestamp()))


def _first_mails(deadline: datetime) -> list[tuple[samples.Mail, datetime]]:
    school = samples.Child()
    health = samples.Child(
        name="Kit Placeholder",
        referrer_name="Lee Sample",
        referrer_email="lee.sample@health.example.org",
    )
    police = samples.Child(
        name="Ash Fictional",
        referrer_name="Pat Demo",
        referrer_email="pat.demo@police.example.org",
        section20=True,
        genogram_required=True,
        request_types=("section20",),
    )
    late = samples.Child(
        name="Sky Imaginary",
        referrer_name="Max Made-Up",
        referrer_email="max.madeup@charity.example.org",
    )
    before = deadline - timedelta(days=2)
    no_chronology = [f for f in samples.full_referral(health) if f.filename != "Chronology.docx"]
    inner = samples.Mail(
        f"{police.referrer_name} <{police.referrer_email}>",
        "Emergency admission - referral",
        files=samples.full_referral(police),
    )
    return [
        (
            samples.Mail(
                f"{school.referrer_name} <{school.referrer_email}>",
                "Referral for panel",
                files=samples.full_referral(school),
            ),
            before,
        ),
        (
            samples.Mail(
                f"{health.referrer_name} <{health.referrer_email}>",
                "MASP referral",
                files=no_chronology,
            ),
            before + timedelta(hours=1),
        ),
        (
            samples.forwarded(inner, by="Duty Desk <duty@police.example.org>"),
            before + timedelta(hours=2),
        ),
        (
            samples.Mail(
                f"{late.referrer_name} <{late.referrer_email}>",
                "Late referral",
                files=samples.full_referral(late),
            ),
            deadline + timedelta(hours=1),
        ),
    ]


def _ack_ids(service: App) -> list[tuple[str, str, str]]:
    with service.store.session() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.template == "acknowledgement"))
        return [(r.message_id, r.recipients, r.subject) for r in rows]


def _second_mails(service: App, received: datetime) -> list[tuple[samples.Mail, datetime]]:
    acks = _ack_ids(service)
    ooo_id, ooo_to, ooo_subject = acks[0]
    missing_id, missing_to, _ = acks[1]
    return [
        (samples.out_of_office(f"<{ooo_id}>", ooo_to, ooo_subject), received),
        (
            samples.Mail(
                missing_to,
                "Re: chronology",
                files=[samples.File("chronology v2.docx", samples.DOCX, samples.chronology())],
                in_reply_to=f"<{missing_id}>",
            ),
            received,
        ),
    ]


def _show_sent(console: Console, sent: Path) -> None:
    box = mailbox.Maildir(str(sent), create=False)
    console.print(f"\n[bold]{len(box)} emails were 'sent'[/bold] (written to {sent}):")
    for key in sorted(box.iterkeys(), key=lambda k: (sent / "new" / k).stat().st_mtime_ns):
        message = email.message_from_bytes(box.get_bytes(key))
        subject = " ".join(str(make_header(decode_header(str(message["Subject"])))).split())
        console.print(f"  to {message['X-Envelope-To']}: {subject}", highlight=False)


def _step(
    console: Console,
    service: App,
    inbox: Path,
    mails: list[tuple[samples.Mail, datetime]],
    story: str,
) -> None:
    """Deliver `mails` and run one poll, telling the newcomer what happened."""
    for mail, received in mails:
        _drop(inbox, mail, received)
    console.print(story)
    report = poll(service)
    console.print(
        f"  filed {report.filing.filed}, stored without an answer {report.filing.ignored},"
        f" sent {report.delivery.sent}"
    )


def run_demo(console: Console, keep: Path | None) -> None:
    folder = keep or Path(tempfile.mkdtemp(prefix="masp-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "config.yaml")
    meeting = upcoming(config.panels[0], config.tz, datetime.now(UTC), 1)[0]
    clock = Clock.frozen_at(meeting.deadline + timedelta(hours=2))
    service = App.open(config, clock)
    inbox = config.path(config.mailbox.maildir.inbox)
    console.print(
        f"[bold]MASP demo[/bold] in {folder}; the clock reads {clock.now():%d %b %Y %H:%M} UTC,"
        f" two hours after the deadline for the {meeting.day:%d %B} meeting.\n"
    )
    try:
        _step(
            console,
            service,
            inbox,
            _first_mails(meeting.deadline),
            "Four referrals arrive: complete; missing a chronology; a forwarded Section 20;"
            " one after the deadline.",
        )
        _step(
            console,
            service,
            inbox,
            _second_mails(service, clock.now()),
            "Then an out-of-office reply arrives (never answered), and the missing"
            " chronology as a reply.",
        )
        console.print()
        with service.store.session() as session:
            print_table(console, all_cases(service, session))
        _show_sent(console, config.path(config.mailbox.maildir.sent))
        if keep is not None:
            console.print(f"\nTry: masp --config {folder / 'config.yaml'} status --json")
    finally:
        service.close()
        if keep is None:
            console.print("(Run with --keep DIR to keep the demo's files.)")
            shutil.rmtree(folder, ignore_errors=True)
