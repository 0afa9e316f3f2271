"""The administrator's word on emails already written (R17): send a fresh copy of one that went,
and re-address what has not yet gone when a referrer's address was wrong.

Both go through the sending policy again (allowed recipients, rate fuses): a copy is a new
email, and may be held as any other would be.
"""

from __future__ import annotations

from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import NotFound
from pipeline.mime.addresses import normalise
from pipeline.outbox.compose import address_header, with_headers
from pipeline.outbox.queue import Draft, hold_reason
from pipeline.states import OutboxState
from pipeline.store.audit import audit, checked_actor
from pipeline.store.models import AuditEvent, Case, OutboxItem, OutboxRecipient

# The audit action of a corrected referrer address; its detail holds `old` and `new`.
ADDRESS_CORRECTED = "address-corrected"
# Emails not yet delivered, which a corrected address re-addresses.
UNSENT = (OutboxState.PENDING, OutboxState.HELD, OutboxState.FAILED)


def _policy_draft(item: OutboxItem, case: Case | None, to: tuple[str, ...]) -> Draft:
    """What the sending policy needs to know of an email: its template, recipients and case,
    and the addresses its case lets us write to (the referrer, the forwarder: SPEC §7)."""
    trusted = (case.referrer_email, case.forwarded_by or "") if case is not None else ()
    return Draft(
        purpose=item.purpose,
        template=item.template,
        to=to,
        context={},
        case=case,
        trusted=tuple(t for t in trusted if t),
    )


def _former_addresses(session: Session, case: Case) -> dict[str, str]:
    """Each address the case's referrer had before a correction, mapped to the current one."""
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.action == ADDRESS_CORRECTED
        )
    )
    return {str(e.detail.get("old")): case.referrer_email for e in events}


def _headers(to: tuple[str, ...], cc: tuple[str, ...]) -> dict[str, str | None]:
    return {"To": address_header(to), "Cc": address_header(cc) if cc else None}


def _split(raw: bytes, addresses: list[str]) -> tuple[list[str], list[str]]:
    """The item's recipients as To and Cc, read back from its stored Cc header."""
    header = BytesHeaderParser(policy=compat32).parsebytes(raw)
    copied = {normalise(a) for _, a in getaddresses(header.get_all("Cc") or [])}
    return [a for a in addresses if a not in copied], [a for a in addresses if a in copied]


def resend(app: App, session: Session, outbox_id: int, actor: str) -> OutboxItem:
    """Queue a fresh copy of a sent email: same content, a new Message-ID and date, to the
    same people (a referrer whose address was corrected since, at their new address)."""
    by = checked_actor(actor)
    item = session.get(OutboxItem, outbox_id)
    if item is None or item.status != OutboxState.SENT:
        raise NotFound(
            f"no sent email with id {outbox_id}: `masp outbox list --state sent` lists them "
            "(a held one is let go with `masp outbox release`)"
        )
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    moved = _former_addresses(session, case) if case is not None else {}
    raw = app.files.read(item.raw_path)
    to, cc = _split(raw, item.addresses)
    to = list(dict.fromkeys(moved.get(a, a) for a in to))
    cc = [a for a in dict.fromkeys(moved.get(a, a) for a in cc) if a not in to]
    now = app.clock.now()
    message_id = app.signer.new_message_id(case.reference if case else None)
    values = _headers(tuple(to), tuple(cc)) | {
        "Date": format_datetime(now),
        "Message-ID": f"<{message_id}>",
    }
    copies = session.scalar(
        select(func.count(OutboxItem.id)).where(OutboxItem.purpose.like(f"resend:{item.id}:%"))
    )
    copy = OutboxItem(
        purpose=f"resend:{item.id}:{(copies or 0) + 1}",
        message_id=message_id,
        case_id=item.case_id,
        template=item.template,
        recipients=[OutboxRecipient(address=a) for a in dict.fromkeys([*to, *cc])],
        subject=item.subject,
        raw_path=app.files.put("outbox", with_headers(raw, values), ".eml")[1],
        next_attempt_at=now,
        created_at=now,
    )
    reason = hold_reason(app, session, _policy_draft(item, case, (*to, *cc)))
    copy.status = OutboxState.HELD if reason else OutboxState.PENDING
    copy.hold_reason = reason
    session.add(copy)
    session.flush()
    audit(session, now, case, "resent", outbox=copy.id, of=item.id, reason=reason, by=by)
    return copy


def release(app: App, session: Session, outbox_id: int, actor: str) -> OutboxItem:
    """Let a held email go (the administrator has checked its recipients): it is pending again
    and due now, so the next delivery sends it; audited with who let it go."""
    by = checked_actor(actor)
    item = session.get(OutboxItem, outbox_id)
    if item is None or item.status != OutboxState.HELD:
        raise NotFound(f"no held email with id {outbox_id}: see `masp outbox list`")
    now = app.clock.now()
    item.status = OutboxState.PENDING
    item.next_attempt_at = now
    audit(session, now, None, "released", outbox=item.id, by=by)
    return item


def readdress(
    app: App, session: Session, case: Case, old: str, by: str, at: datetime
) -> list[OutboxItem]:
    """Point the case's emails not yet delivered to `old` at its referrer's current address.

    Pending ones stay pending; held and failed ones are tried again, unless the sending policy
    holds them for the new address too (the correction is the administrator's word that the
    old address was wrong, which is why they were held or failed)."""
    items = session.scalars(
        select(OutboxItem).where(
            OutboxItem.case_id == case.id,
            OutboxItem.status.in_(UNSENT),
            # A failed email whose bytes the retention purge deleted can never go.
            OutboxItem.raw_path != "",
        )
    )
    changed = []
    for item in items:
        if old not in item.addresses:
            continue
        raw = app.files.read(item.raw_path)
        to, cc = _split(raw, item.addresses)
        to = list(dict.fromkeys(case.referrer_email if a == old else a for a in to))
        cc = [a for a in cc if a != old and a not in to]
        reason = hold_reason(app, session, _policy_draft(item, case, (*to, *cc)))
        readdressed = with_headers(raw, _headers(tuple(to), tuple(cc)))
        item.raw_path = app.files.put("outbox", readdressed, ".eml")[1]
        item.recipients = [OutboxRecipient(address=a) for a in dict.fromkeys([*to, *cc])]
        item.status = OutboxState.HELD if reason else OutboxState.PENDING
        item.hold_reason = reason
        item.attempts, item.next_attempt_at = 0, at
        changed.append(item)
        audit(session, at, case, "readdressed", outbox=item.id, reason=reason, by=by)
    return changed
