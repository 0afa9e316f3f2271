"""What the demo's stories share: its configuration, its cast, delivering mail and stepping
the clock as the running service would, and what it shows at the end."""

from __future__ import annotations

import email
import mailbox
import os
from dataclasses import replace
from datetime import datetime
from email.header import decode_header, make_header
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.errors import PipelineError
from pipeline.intake.poll import poll
from pipeline.mailbox.registry import sending
from pipeline.service import tick
from pipeline.store.models import OutboxItem, OutboxRecipient

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
  larp: {name: L Resource Panel, email: larp@example.org}
limits:
  allowed_recipient_domains: [example.org]
"""


def drop(inbox: Path, mail: samples.Mail, received: datetime) -> None:
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
        agency="Health",
        reasons=("escalation",),
    )
    police = samples.Child(
        name="Ash Fictional",
        referrer_name="Pat Demo",
        referrer_email="pat.demo@police.example.org",
        agency="Police",
        reasons=("escalation",),
        section20=True,
        genogram_required=True,
        request_types=("section20",),
    )
    charity = samples.Child(
        name="Sky Imaginary",
        referrer_name="Max Made-Up",
        referrer_email="max.madeup@charity.example.org",
        agency="Voluntary sector",
    )
    late = samples.Child(
        name="Rue Invented",
        referrer_name="Val Pretend",
        referrer_email="val.pretend@example.org",
        agency="Children's Social Care",
        reasons=("high_cost",),
    )


def outbox(service: App, template: str, recipient: str) -> OutboxItem:
    with service.store.session() as session:
        query = select(OutboxItem).where(
            OutboxItem.template == template,
            OutboxItem.recipients.any(OutboxRecipient.address == recipient.lower()),
        )
        return session.scalars(query.order_by(OutboxItem.id.desc())).first() or missing(template)


def missing(template: str) -> OutboxItem:
    raise PipelineError(f"the demo expected a '{template}' email that was not sent")


def show_sent(console: Console, sent: Path) -> None:
    box = mailbox.Maildir(str(sent), create=False)
    console.print(f"\n[bold]{len(box)} emails were 'sent'[/bold] (written to {escape(str(sent))}):")
    for key in sorted(box.iterkeys(), key=lambda k: (sent / "new" / k).stat().st_mtime_ns):
        message = email.message_from_bytes(box.get_bytes(key))
        subject = " ".join(str(make_header(decode_header(str(message["Subject"])))).split())
        # Not Rich markup: screening subjects carry "[screen:…]" tokens.
        console.print(f"  to {message['X-Envelope-To']}: {subject}", markup=False, highlight=False)


def step(
    service: App, console: Console, at: datetime, story: str, mails: tuple[samples.Mail, ...] = ()
) -> None:
    """Set the clock, deliver `mails`, then poll and tick as the running service would."""
    # A copy on the step's clock: it shares the store and the document worker.
    service = replace(service, clock=Clock.frozen_at(at))
    inbox = service.config.path(service.config.mailbox.maildir.inbox)
    for mail in mails:
        drop(inbox, mail, at)
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
