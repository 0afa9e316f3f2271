"""`masp demo`: a newcomer's tour of a whole pre-meeting cycle on synthetic referrals, on the
Maildir back-end (no mail server): intake, reminders, screening, cut-off, timeslots, pack."""

from __future__ import annotations

import email
import mailbox
import os
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import load_config
from pipeline.errors import PipelineError
from pipeline.intake.poll import poll
from pipeline.mailbox.registry import sending
from pipeline.outputs.status import all_cases, print_table
from pipeline.rules.meetings import Meeting, upcoming
from pipeline.service import tick
from pipeline.store.models import Case, OutboxItem, OutboxRecipient, Pack

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
  members:
    - {name: H Visitor, email: health@example.org, agency: Health, role: core}
    - {name: H Officer, email: housing@example.org, agency: Housing, role: co-opted}
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


class Cast:
    """The invented referrers of the demo (frozen children: safe to share)."""

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
    charity = samples.Child(
        name="Sky Imaginary",
        referrer_name="Max Made-Up",
        referrer_email="max.madeup@charity.example.org",
    )
    late = samples.Child(
        name="Rue Invented", referrer_name="Val Pretend", referrer_email="val.pretend@example.org"
    )


def _referral(child: samples.Child, subject: str, leave_out: str = "") -> samples.Mail:
    files = [
        f for f in samples.full_referral(child) if not leave_out or leave_out not in f.filename
    ]
    return samples.Mail(f"{child.referrer_name} <{child.referrer_email}>", subject, files=files)


def _outbox(service: App, template: str, recipient: str) -> OutboxItem:
    with service.store.session() as session:
        query = select(OutboxItem).where(
            OutboxItem.template == template,
            OutboxItem.recipients.any(OutboxRecipient.address == recipient.lower()),
        )
        return session.scalars(query.order_by(OutboxItem.id.desc())).first() or _missing(template)


def _missing(template: str) -> OutboxItem:
    raise PipelineError(f"the demo expected a '{template}' email that was not sent")


def _reply(service: App, template: str, about: str, sender: str, body: str) -> samples.Mail:
    """A reply to the newest `template` email whose recipients include `about`."""
    original = _outbox(service, template, about)
    return samples.Mail(
        sender, f"Re: {original.subject}", body=body, in_reply_to=f"<{original.message_id}>"
    )


def _approve(service: App, cast_member: samples.Child) -> samples.Mail:
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
        ).first() or _missing("screening_request")
    return samples.Mail(
        "S Manager <sm@example.org>",
        f"Re: {item.subject}",
        body="APPROVE\nGood referral, please list it.",
        in_reply_to=f"<{item.message_id}>",
    )


def _show_sent(console: Console, sent: Path) -> None:
    box = mailbox.Maildir(str(sent), create=False)
    console.print(f"\n[bold]{len(box)} emails were 'sent'[/bold] (written to {escape(str(sent))}):")
    for key in sorted(box.iterkeys(), key=lambda k: (sent / "new" / k).stat().st_mtime_ns):
        message = email.message_from_bytes(box.get_bytes(key))
        subject = " ".join(str(make_header(decode_header(str(message["Subject"])))).split())
        # Not Rich markup: screening subjects carry "[screen:…]" tokens.
        console.print(f"  to {message['X-Envelope-To']}: {subject}", markup=False, highlight=False)


def _step(
    service: App, console: Console, at: datetime, story: str, mails: tuple[samples.Mail, ...] = ()
) -> None:
    """Set the clock, deliver `mails`, then poll and tick as the running service would."""
    # A copy on the step's clock: it shares the store and the document worker.
    service = replace(service, clock=Clock.frozen_at(at))
    inbox = service.config.path(service.config.mailbox.maildir.inbox)
    for mail in mails:
        _drop(inbox, mail, at)
    polled = poll(service)
    with sending(service.config) as sender:
        ticked = tick(service, sender)
    local = at.astimezone(service.config.tz)
    console.print(f"[bold]{local:%a %d %b %H:%M}[/bold] {story}", highlight=False)
    console.print(
        f"    filed {polled.filing.filed}, automatic {polled.filing.ignored}, jobs "
        f"{', '.join(sorted({k.split(':')[0] for k in ticked.done})) or 'none'}, "
        f"emails sent {polled.delivery.sent + ticked.sent}",
        highlight=False,
    )


def _story(service: App, console: Console, meeting: Meeting, cast: Cast) -> None:
    deadline = meeting.deadline
    _step(
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
    _step(service, console, deadline - timedelta(hours=72), "72 hours before the deadline.")
    _step(
        service,
        console,
        deadline - timedelta(days=1),
        "The manager approves the first case; its referrer's out-of-office answers; the "
        "missing chronology arrives as a reply.",
        (
            _approve(service, cast.school),
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
    _step(
        service,
        console,
        deadline - timedelta(hours=20),
        "The manager approves the second.",
        (_approve(service, cast.health),),
    )
    _step(
        service,
        console,
        deadline + timedelta(minutes=1),
        "The deadline passes: the incomplete referral is moved to the next meeting, "
        "and a late one arrives.",
        (_referral(cast.late, "Late referral"),),
    )
    _step(service, console, meeting.slot_notice, "Timeslots go out with calendar invitations.")
    _step(
        service,
        console,
        meeting.slot_notice + timedelta(minutes=15),
        "Documents are converted and the pack is built and sent.",
    )


def _show_pack(console: Console, service: App) -> None:
    with service.store.session() as session:
        pack = session.scalars(select(Pack).order_by(Pack.id.desc())).first()
    if pack is None:
        console.print("No pack was built.")
        return
    console.print(
        f"\nThe pack: version {pack.version}, {pack.pages} pages, cases "
        f"{', '.join(pack.references)} — {service.files.absolute(pack.stored_path)}",
        markup=False,
    )
    if shutil.which(service.config.pack.soffice) is None:
        console.print(
            "(LibreOffice is not installed, so Word documents appear as placeholder "
            "pages: `apt-get install libreoffice-writer-nogui` converts them.)"
        )


def run_demo(console: Console, keep: Path | None, clock: Clock) -> None:
    """A whole pre-meeting cycle on synthetic referrals, in a temporary folder.

    `clock` only chooses the meeting; the story then runs on its own frozen clocks.
    """
    folder = keep or Path(tempfile.mkdtemp(prefix="masp-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "config.yaml")
    # The meeting after next, so the whole month before it is in the future.
    meeting = upcoming(config.panels[0], config.tz, clock.now(), 2)[1]
    service = App.open(config, Clock.frozen_at(meeting.deadline - timedelta(days=4)))
    console.print(
        f"[bold]MASP demo[/bold] in {escape(str(folder))}: the month before the meeting on "
        f"{meeting.starts_at.astimezone(config.tz):%A %d %B %Y}.\n"
    )
    try:
        _story(service, console, meeting, Cast())
        console.print()
        with service.store.session() as session:
            print_table(console, all_cases(service.config, session))
        _show_sent(console, config.path(config.mailbox.maildir.sent))
        _show_pack(console, service)
        if keep is not None:
            console.print(
                f"\nTry: masp --config {folder / 'config.yaml'} status --json", markup=False
            )
    finally:
        service.close()
        if keep is None:
            console.print("(Run with --keep DIR to keep the demo's files, the pack included.)")
            shutil.rmtree(folder, ignore_errors=True)
