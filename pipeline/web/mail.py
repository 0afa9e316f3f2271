"""Mail the administrator looks after: quarantined emails (replay them), held cases, emails
that quoted a case without standing to (release as a referral of its own, or dismiss), and
emails the outbox held (release them, as `masp outbox release` does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import Response

from pipeline.app import App
from pipeline.errors import NotFound, PipelineError
from pipeline.states import CaseState, MessageState, OutboxState
from pipeline.store.models import Case, Message, OutboxItem
from pipeline.web.guard import Pages, Visit
from pipeline.web.users import ADMINISTRATORS
from pipeline.web.views import email_headline

log = logging.getLogger(__name__)
pages = Pages()
# The actions import intake (and through it the document readers) when first used: a console
# that only shows pages stays small (issue 15: RSS ≤ 200 MB).


@dataclass(frozen=True)
class QuarantinedEmail:
    id: int
    received_at: datetime
    sender: str
    subject: str
    category: str | None
    attempts: int
    size: int
    # The last line of the failure (its traceback stays in the database).
    error: str


@dataclass(frozen=True)
class HeldCase:
    reference: str
    received_at: datetime
    sender: str
    subject: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class HeldEmail:
    """An email the outbox held for the administrator (a recipient outside the allowed
    domains, a rate fuse)."""

    id: int
    created_at: datetime
    # The case it is about, if any.
    reference: str | None
    subject: str
    recipients: tuple[str, ...]
    reason: str


def held_emails(session: Session) -> list[HeldEmail]:
    rows = session.execute(
        select(OutboxItem, Case.reference)
        .outerjoin(Case, OutboxItem.case_id == Case.id)
        .where(OutboxItem.status == OutboxState.HELD)
        .order_by(OutboxItem.id)
    )
    return [
        HeldEmail(
            item.id,
            item.created_at,
            reference,
            item.subject,
            tuple(item.addresses),
            item.hold_reason or "",
        )
        for item, reference in rows
    ]


def quarantined(app: App, session: Session) -> list[QuarantinedEmail]:
    rows = session.scalars(
        select(Message).where(Message.status == MessageState.QUARANTINED).order_by(Message.id)
    )
    found = []
    for r in rows:
        sender, subject = email_headline(app, r.raw_path)
        lines = (r.error or "").strip().splitlines()
        found.append(
            QuarantinedEmail(
                r.id,
                r.received_at,
                sender,
                subject,
                r.category,
                r.attempts,
                r.size,
                lines[-1] if lines else "",
            )
        )
    return found


def held_cases(app: App, session: Session) -> list[HeldCase]:
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.messages))
        .where(Case.state == CaseState.HELD)
        .order_by(Case.id)
    )
    found = []
    for case in cases:
        first = min(case.messages, key=lambda m: m.id, default=None)
        sender, subject = email_headline(app, first.raw_path) if first else ("", "")
        found.append(
            HeldCase(
                case.reference,
                case.received_at,
                sender,
                subject,
                tuple(str(f) for f in case.flags),
            )
        )
    return found


@pages.get("/mail", ADMINISTRATORS, nav="Quarantine and held mail")
def mail_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        emails = quarantined(visit.app, session)
        held = held_cases(visit.app, session)
        outbox = held_emails(session)
    return visit.render("mail.html", emails=emails, held=held, outbox=outbox)


@pages.post("/mail/quarantine/{ledger_id:int}/replay", ADMINISTRATORS)
def replay_email(visit: Visit) -> Response:
    from pipeline.intake.filing import replay

    ledger_id: int = visit.request.path_params["ledger_id"]
    with visit.exclusive():
        with visit.app.store.session() as session:
            row = session.get(Message, ledger_id)
            if row is None or row.status != MessageState.QUARANTINED:
                raise NotFound(f"Email {ledger_id} is not in quarantine (any more).")
            visit.audit(session, None, "replay-asked", message=ledger_id)
        report = replay(visit.app, ledger_id)
        sent = send_now(visit.app)
    if report.quarantined:
        return visit.redirect("/mail", f"Email {ledger_id} failed again and stays in quarantine.")
    cases = ", ".join(report.cases) or "no case"
    return visit.redirect("/mail", f"Email {ledger_id} processed: {cases}.{sent}")


@pages.post("/mail/held/{reference}/release", ADMINISTRATORS)
def release_held(visit: Visit) -> Response:
    from pipeline.intake import overrides

    reference = visit.request.path_params["reference"]
    with visit.exclusive():
        with visit.app.store.session() as session:
            case = overrides.release(visit.app, session, reference, visit.actor)
        sent = send_now(visit.app)
    return visit.redirect("/mail", f"{case.reference} released as a referral of its own.{sent}")


@pages.post("/mail/held/{reference}/dismiss", ADMINISTRATORS)
def dismiss_held(visit: Visit) -> Response:
    from pipeline.intake import overrides

    reference = visit.request.path_params["reference"]
    with visit.exclusive(), visit.app.store.session() as session:
        case = overrides.dismiss(visit.app, session, reference, visit.actor)
    return visit.redirect("/mail", f"{case.reference} dismissed: nothing was sent.")


@pages.post("/mail/outbox/{outbox_id:int}/release", ADMINISTRATORS)
def release_email(visit: Visit) -> Response:
    """Let a held email go, as `masp outbox release` does, and send it at once."""
    from pipeline.outbox.resend import release

    outbox_id: int = visit.request.path_params["outbox_id"]
    with visit.exclusive():
        with visit.app.store.session() as session:
            release(visit.app, session, outbox_id, visit.actor)
        sent = send_now(visit.app)
        with visit.app.store.reading() as session:
            item = session.get(OutboxItem, outbox_id)
            went = item is not None and item.status == OutboxState.SENT
    if went:
        return visit.redirect("/mail", f"Email {outbox_id} released and sent.")
    return visit.redirect(
        "/mail",
        f"Email {outbox_id} released: it was not sent yet, and the service's next pass "
        f"tries again.{sent}",
    )


def send_now(app: App) -> str:
    """Send what the action queued now, as `masp` does; if the mail server is away, the
    service's next pass sends it."""
    from pipeline.intake.poll import deliver_configured

    try:
        deliver_configured(app)
    except PipelineError as exc:
        log.warning("the console could not send at once: %s", type(exc).__name__)
        return " Its emails wait in the outbox: the mail server could not be reached."
    return ""
