"""The administrator's word on a referrer's address (R17): it was wrong, here is the right one.

Future mail goes to the new address. Mail about the case not yet delivered to the old address
(waiting, held by the sending policy, or given up after the server refused it) is re-addressed
and tried again, through the sending policy once more; mail already delivered is not sent
again by itself: `masp outbox resend` sends a fresh copy, to the new address.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import PipelineError
from pipeline.intake.admin import Changed, changed
from pipeline.intake.overrides import find
from pipeline.mime.addresses import normalise
from pipeline.outbox.resend import ADDRESS_CORRECTED, readdress
from pipeline.states import CaseState
from pipeline.store.audit import audit, checked_actor
from pipeline.text import clean_text


def correct_address(
    app: App, session: Session, reference: str, new_email: str, actor: str
) -> Changed:
    """Write to the case's referrer at `new_email` from now on, and re-address unsent mail."""
    by = checked_actor(actor)
    case = find(session, reference)
    if case.state == CaseState.HELD:
        raise PipelineError(
            "a held case has no referrer yet: release or attach it first", reference=case.reference
        )
    address = normalise(clean_text(new_email))
    if address is None:
        raise PipelineError(
            f"{new_email!r} is not one email address (name@organisation.domain): check it",
            reference=case.reference,
        )
    if address == normalise(app.config.mailbox.address):
        raise PipelineError(
            "that is the panel's own address: give the referrer's", reference=case.reference
        )
    old = case.referrer_email
    if address == old:
        raise PipelineError(
            f"the referrer's address is already {address}", reference=case.reference
        )
    case.referrer_email = address
    if case.forwarded_by == address:
        # The forwarder is now the referrer: copying them too would send everything twice.
        case.forwarded_by = None
    now = app.clock.now()
    audit(session, now, case, ADDRESS_CORRECTED, old=old, new=address, by=by)
    items = readdress(app, session, case, old, by, now)
    changes = [f"{case.reference}: the referrer's address is now {address}."]
    if items:
        held = [item.id for item in items if item.hold_reason]
        changes.append(
            f"{len(items)} email(s) not yet delivered now go to it"
            + (f"; still held: {', '.join(map(str, held))} (`masp outbox list`)" if held else ".")
        )
    return changed(app, case, changes, items)
