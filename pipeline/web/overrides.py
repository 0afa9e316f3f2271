"""The administrator's overrides on a case page (R17): reclassify or accept a document, move the
case to another meeting (of its panel or another), withdraw or close it (the referrer told in
words the administrator may edit), correct the referrer's address, re-send an email.

Each is a POST from the case page. A refusal shows the case page again with the reason by its
field (the GOV.UK error summary) and what was typed kept; success redirects back to the case page
with what changed. The emails an override queues are sent at once, as `masp` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.errors import NotFound, PipelineError
from pipeline.intake.address import correct_address
from pipeline.intake.admin import Changed
from pipeline.intake.corrections import accept, reclassify
from pipeline.intake.moves import close_case, move_case, withdraw_case
from pipeline.intake.overrides import find
from pipeline.outbox.resend import resend
from pipeline.store.models import OutboxItem
from pipeline.web.casepage import show_case
from pipeline.web.guard import Pages, Visit
from pipeline.web.mail import send_now
from pipeline.web.users import ADMINISTRATORS

log = logging.getLogger(__name__)
pages = Pages()
# A step of an override: runs in one transaction, returns the sentences to show.
Step = Callable[[Session], list[str]]


class FormProblem(PipelineError):
    """A field left empty or not one of the offered choices: said by that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _reference(visit: Visit) -> str:
    return str(visit.request.path_params["reference"])


def _required(visit: Visit, field: str, what: str) -> str:
    value = visit.form.get(field, "").strip()
    if not value:
        raise FormProblem(field, what)
    return value


def _run(visit: Visit, field: str, step: Step) -> Response:
    """Run an override; on refusal show the case page with the reason by `field` (its id)."""
    reference = _reference(visit)
    try:
        with visit.exclusive():
            with visit.app.store.session() as session:
                said = step(session)
            sent = send_now(visit.app)
    except PipelineError as exc:
        log.info("an override was refused: %s", type(exc).__name__)
        typed = {key: value for key, value in visit.form.items() if key != "csrf_token"}
        where = exc.field if isinstance(exc, FormProblem) else field
        return show_case(visit, reference, 400, errors={where: str(exc)}, values=typed)
    return visit.redirect(f"/cases/{quote(reference)}", " ".join(said) + sent)


def _changes(changed: Changed) -> list[str]:
    return list(changed.changes)


@pages.post("/cases/{reference}/reclassify", ADMINISTRATORS)
def reclassify_document(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        document = _required(visit, "reclassify-document", "Choose the document to reclassify")
        kind = _required(visit, "reclassify-kind", "Choose what kind of document it is")
        return _changes(
            reclassify(visit.app, session, _reference(visit), document, kind, visit.actor)
        )

    return _run(visit, "reclassify-kind", step)


@pages.post("/cases/{reference}/accept", ADMINISTRATORS)
def accept_document(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        document = _required(visit, "accept-document", "Choose the document to accept")
        return _changes(accept(visit.app, session, _reference(visit), document, visit.actor))

    return _run(visit, "accept-document", step)


@pages.post("/cases/{reference}/move", ADMINISTRATORS)
def move(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        chosen = _required(visit, "move-day", "Choose the meeting to move the case to")
        # "<panel id>/<YYYY-MM-DD>", as the page offers it.
        panel, _, day_text = chosen.rpartition("/")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise FormProblem("move-day", "Choose one of the meetings listed") from None
        reference = _reference(visit)
        return _changes(move_case(visit.app, session, reference, day, visit.actor, panel or None))

    return _run(visit, "move-day", step)


@pages.post("/cases/{reference}/withdraw", ADMINISTRATORS)
def withdraw(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        message = _required(visit, "withdraw-message", "Write what the referrer is told")
        return _changes(withdraw_case(visit.app, session, _reference(visit), visit.actor, message))

    return _run(visit, "withdraw-message", step)


@pages.post("/cases/{reference}/close", ADMINISTRATORS)
def close(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        message = _required(visit, "close-message", "Write what the referrer is told")
        return _changes(close_case(visit.app, session, _reference(visit), visit.actor, message))

    return _run(visit, "close-message", step)


@pages.post("/cases/{reference}/address", ADMINISTRATORS)
def address(visit: Visit) -> Response:
    def step(session: Session) -> list[str]:
        email = _required(visit, "address-email", "Enter the referrer's correct email address")
        return _changes(correct_address(visit.app, session, _reference(visit), email, visit.actor))

    return _run(visit, "address-email", step)


@pages.post("/cases/{reference}/emails/{outbox_id:int}/resend", ADMINISTRATORS)
def resend_email(visit: Visit) -> Response:
    outbox_id: int = visit.request.path_params["outbox_id"]

    def step(session: Session) -> list[str]:
        item = session.get(OutboxItem, outbox_id)
        case = find(session, _reference(visit))
        if item is None or item.case_id != case.id:
            raise NotFound(f"{case.reference} has no sent email {outbox_id}.")
        copy = resend(visit.app, session, outbox_id, visit.actor)
        held = f" It is held: {copy.hold_reason}." if copy.hold_reason else ""
        return [f"Email {outbox_id} queued again as email {copy.id}.{held}"]

    return _run(visit, f"resend-{outbox_id}", step)
