"""Queues an email: renders it now (bytes and Message-ID fixed before any send) and applies
the sending policy — allowed recipients (SPEC §7) and rate fuses (R16)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.addresses import normalise
from pipeline.outbox.compose import Envelope, FileAttachment, compose
from pipeline.rules.recipients import is_allowed_recipient
from pipeline.states import OutboxState
from pipeline.store.audit import audit
from pipeline.store.models import Case, OutboxItem, OutboxRecipient

log = logging.getLogger(__name__)

# Alerts to the administrator that anyone on the internet can cause, by sending email that is
# quarantined, kept unanswered, quotes a case reference or is a calendar answer that does not
# count. They are bounded together per hour (`limits.max_unsolicited_alerts_per_hour`): past
# the bound they wait, held, so a flood of strangers' email can use only a small part of the
# administrator's rate fuse, and each email is still listed by `masp quarantine list` and
# `masp status`.
UNSOLICITED_ALERTS = frozenset(
    {"unanswered_alert", "held_alert", "quarantine_alert", "attendance_alert"}
)

# Alerts that must reach the administrator and chair whatever else has been sent to them this
# hour (R7: a Section 20 referral; an email the server refused). The per-recipient fuse exists
# to stop us flooding someone; it must never be what stops these. Each goes once per case or
# outbox item (its purpose is unique), and the per-case fuse still applies.
URGENT_ALERTS = frozenset({"section20_alert", "undeliverable_alert"})


@dataclass(frozen=True)
class Draft:
    """An email a step wants sent. `purpose` is unique: queueing it twice queues it once."""

    purpose: str
    template: str
    to: tuple[str, ...]
    context: dict[str, Any]
    case: Case | None = None
    # Copied in (Cc): a forwarder beside the referrer they sent the referral in for (R5).
    cc: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str = "auto-generated"
    attachments: tuple[FileAttachment, ...] = field(default_factory=tuple)
    # Addresses that may receive this email although they are not configured people:
    # the person whose email we are answering is always one.
    trusted: tuple[str, ...] = ()
    # The panel the email is for (its templates), when it has no case: a meeting's pack.
    panel: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the email goes to: To, then Cc."""
        return (*self.to, *self.cc)

    @property
    def panel_id(self) -> str | None:
        """The panel whose templates and people the email is written with, if any."""
        return self.panel or (self.case.panel_id if self.case is not None else None)


def staff_draft(
    app: App,
    purpose: str,
    template: str,
    context: dict[str, Any],
    case: Case | None,
    chair_too: bool = False,
    panel: str | None = None,
) -> Draft:
    """An email to the administrator (and the chair too, with `chair_too`) of `panel` or the
    case's panel; about no panel, the installation's."""
    panel = panel or (case.panel_id if case is not None else None)
    people = app.config.people_of(panel)
    to = (
        (people.administrator.email, people.chair.email)
        if chair_too
        else (people.administrator.email,)
    )
    return Draft(purpose=purpose, template=template, to=to, context=context, case=case, panel=panel)


def configured_addresses(app: App) -> set[str]:
    """Everyone configured, the installation's people and every panel's."""
    everyone = [
        person
        for people in app.config.everyone()
        for person in (
            people.administrator,
            people.chair,
            *people.screeners,
            *people.members,
        )
    ]
    return {normalise(p.email) or p.email.lower() for p in everyone}


def recipients_of(draft: Draft) -> tuple[list[str], list[str]]:
    """The draft's recipients as stored (NFC, lower case, each once), and any that are not
    one valid address: those are never sent to, whoever wrote them (a form, a config)."""
    valid: dict[str, None] = {}
    invalid = []
    for address in draft.recipients:
        found = normalise(address)
        if found is None:
            invalid.append(address)
        else:
            valid[found] = None
    return list(valid), invalid


def _as_stored(addresses: tuple[str, ...]) -> tuple[str, ...]:
    # An address that is not valid is kept as written: its email is held, never sent.
    return tuple(normalise(a) or a for a in addresses)


def hold_reason(app: App, session: Session, draft: Draft) -> str | None:
    """Why this email must wait for the administrator, or None if it may go."""
    addresses, invalid = recipients_of(draft)
    if invalid or not addresses:
        return "a recipient is not one valid email address"
    allowed = configured_addresses(app) | {normalise(t) or t.lower() for t in draft.trusted}
    domains = app.config.limits.allowed_recipient_domains
    if not all(is_allowed_recipient(a, allowed, domains) for a in addresses):
        return "recipient is not the referrer, a configured person or an allowed domain"
    return _alert_bound(app, session, draft) or _rate_fuse(app, session, draft, addresses)


def _alert_bound(app: App, session: Session, draft: Draft) -> str | None:
    """Why an alert caused by a stranger's email waits: too many of them this hour."""
    if draft.template not in UNSOLICITED_ALERTS:
        return None
    sent = session.scalar(
        select(func.count(OutboxItem.id)).where(
            OutboxItem.template.in_(UNSOLICITED_ALERTS),
            OutboxItem.created_at > app.clock.now() - timedelta(hours=1),
            OutboxItem.status != OutboxState.HELD,
        )
    )
    if (sent or 0) < app.config.limits.max_unsolicited_alerts_per_hour:
        return None
    return (
        "too many alerts about unsolicited email this hour; the emails are listed by "
        "masp quarantine list and masp status, this alert by masp outbox list"
    )


# The fuse's two counts, built once (each poll asks them for every email it answers): emails
# not held, created since `since`, to one exact address; and about one case.
_SENT_TO = (
    select(func.count(OutboxItem.id))
    .join(OutboxRecipient)
    .where(
        OutboxRecipient.address == bindparam("address"),
        OutboxItem.created_at > bindparam("since"),
        OutboxItem.status != OutboxState.HELD,
    )
)
_SENT_ABOUT = select(func.count(OutboxItem.id)).where(
    OutboxItem.case_id == bindparam("case_id"),
    OutboxItem.created_at > bindparam("since"),
    OutboxItem.status != OutboxState.HELD,
)
_PURPOSE = select(OutboxItem.id).where(OutboxItem.purpose == bindparam("purpose"))


def _rate_fuse(app: App, session: Session, draft: Draft, addresses: list[str]) -> str | None:
    # A runaway (a loop we failed to detect, a bug) stops at the fuse instead of flooding someone.
    limits = app.config.limits
    now = app.clock.now()
    staff = configured_addresses(app) if draft.template in URGENT_ALERTS else set()
    for address in addresses:
        if address in staff:
            continue
        # Counted per exact address: a look-alike ('sm@example.org.attacker.example') is
        # somebody else, and must not use up the real address's allowance.
        sent = session.scalar(_SENT_TO, {"address": address, "since": now - timedelta(hours=1)})
        if (sent or 0) >= limits.max_sends_per_recipient_per_hour:
            return "rate fuse: too many emails to this recipient in the last hour"
    if draft.case is not None and draft.case.id is not None:
        about = {"case_id": draft.case.id, "since": now - timedelta(days=1)}
        if (session.scalar(_SENT_ABOUT, about) or 0) >= limits.max_sends_per_case_per_day:
            return "rate fuse: too many emails about this case today"
    return None


def enqueue(app: App, session: Session, draft: Draft) -> OutboxItem:
    """Render and store the email, then add an outbox row (pending, or held with a reason)."""
    # Nothing pending in the session changes what these look at (outbox rows, each flushed as
    # it is added): the case and its documents are flushed once, with the new row, below.
    with session.no_autoflush:
        existing = session.scalar(_PURPOSE, {"purpose": draft.purpose})
        if existing is not None:
            found = session.get(OutboxItem, existing)
            assert found is not None
            return found
        reason = hold_reason(app, session, draft)
    reference = draft.case.reference if draft.case is not None else None
    message_id = app.signer.new_message_id(reference)
    rendered = app.templates.render(draft.template, draft.context, draft.panel_id)
    addresses, _ = recipients_of(draft)
    envelope = Envelope(
        sender=app.config.mailbox.address,
        sender_name=app.config.mailbox.display_name,
        to=_as_stored(draft.to),
        cc=_as_stored(draft.cc),
        message_id=message_id,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
        auto_submitted=draft.auto_submitted,
        attachments=draft.attachments,
    )
    now = app.clock.now()
    raw = compose(envelope, rendered, now)
    _, path = app.files.put("outbox", raw, ".eml")
    item = OutboxItem(
        purpose=draft.purpose,
        message_id=message_id,
        case_id=draft.case.id if draft.case is not None else None,
        template=draft.template,
        recipients=[OutboxRecipient(address=a) for a in addresses],
        subject=rendered.subject,
        raw_path=path,
        status=OutboxState.HELD if reason else OutboxState.PENDING,
        hold_reason=reason,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(item)
    session.flush()
    audit(
        session,
        app.clock.now(),
        draft.case,
        "held" if reason else "queued",
        template=draft.template,
        outbox=item.id,
        reason=reason,
    )
    return item
