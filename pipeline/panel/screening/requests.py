"""Asking the Service Managers: one request per manager, with the case summary, the documents
and the manager's own token; a reminder in the thread of a request not yet answered."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Person
from pipeline.errors import ConfigError
from pipeline.mime.tokens import token_for
from pipeline.outbox import wording
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft, enqueue
from pipeline.outputs.summary import render_summary, summary_facts
from pipeline.panel.screening.queries import manager, ready_for_screening
from pipeline.rules.completeness import usable
from pipeline.states import CaseState
from pipeline.store.audit import audit
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, OutboxItem, ScreeningRequest

PDF = "application/pdf"


def _attachments(app: App, case: Case) -> tuple[FileAttachment, ...]:
    """The summary PDF first, then every current document a person can read."""
    panel = app.config.panel(case.panel_id)
    meeting = wording.when(app.config.tz, case.meeting) if case.meeting else "not yet set"
    facts = summary_facts(
        case,
        panel.name,
        meeting,
        wording.when(app.config.tz, case.received_at),
        (case.meeting or app.clock.now()).astimezone(app.config.tz).date(),
    )
    marking = app.config.pack.protective_marking
    summary = FileAttachment(
        f"{case.reference}-summary.pdf", PDF, render_summary(facts, app.clock.now(), marking)
    )
    # A refused file may be hostile (SPEC §7): it is never passed on.
    documents = tuple(
        FileAttachment(d.filename, d.content_type, app.files.read(d.stored_path))
        for d in case.documents
        if usable(d)
    )
    return (summary, *documents)


def _request_context(
    app: App, case: Case, person: Person, request: ScreeningRequest
) -> dict[str, Any]:
    context = wording.case_context(app, case, [])
    context["manager_name"] = person.name
    context["token"] = token_for(app.signer.key, request.nonce)
    context["hours"] = app.config.screening.reminder_hours
    return context


def send_requests(app: App, session: Session, case_id: int) -> None:
    """One request, with its own token, to each configured manager; the case is 'screening'."""
    case = session.get(Case, case_id)
    if case is None or not ready_for_screening(session, case):
        return
    ask_screeners(app, session, case)


def ask_screeners(app: App, session: Session, case: Case) -> None:
    """Send the requests of `send_requests` now, however the case stands (a case moved to
    another panel while in screening is asked again of that panel's managers)."""
    managers = app.config.people_of(case.panel_id).screeners
    if not managers:
        raise ConfigError(
            "people.service_managers",
            f"nobody to screen {case.reference} for panel {case.panel_id}: give the panel "
            "(or the installation) service_managers or a caf_coordinator",
        )
    attachments = _attachments(app, case)
    now = app.clock.now()
    sent = []
    for person in managers:
        request = ScreeningRequest(
            case_id=case.id,
            manager_email=person.email.lower(),
            nonce=secrets.token_hex(8),
            sent_at=now,
            coopt=[],
        )
        session.add(request)
        session.flush()
        draft = Draft(
            purpose=f"screen-request:{request.id}",
            template="screening_request",
            to=(person.email,),
            context=_request_context(app, case, person, request),
            case=case,
            attachments=attachments,
        )
        enqueue(app, session, draft)
        sent.append(request.id)
    move(case, CaseState.SCREENING)
    audit(session, app.clock.now(), case, "screening-requested", requests=sent)


def _request_email_id(session: Session, request: ScreeningRequest) -> str | None:
    return session.scalar(
        select(OutboxItem.message_id).where(OutboxItem.purpose == f"screen-request:{request.id}")
    )


def send_reminder(app: App, session: Session, request_id: int, occasion: str = "") -> None:
    """One reminder to a manager who has not answered, in the thread of the request.

    `occasion` makes a second, distinct reminder possible (the agenda being built, R9).
    """
    request = session.get(ScreeningRequest, request_id)
    if request is None or request.used_at is not None:
        return
    case = session.get(Case, request.case_id)
    person = manager(app, case.panel_id, request.manager_email) if case else None
    if case is None or case.state != CaseState.SCREENING or person is None:
        return
    parent = _request_email_id(session, request)
    draft = Draft(
        purpose=f"screen-reminder:{request.id}{occasion}",
        template="screening_reminder",
        to=(person.email,),
        context=_request_context(app, case, person, request),
        case=case,
        in_reply_to=parent,
        references=(parent,) if parent else (),
    )
    enqueue(app, session, draft)
    audit(session, app.clock.now(), case, "screening-reminded", request=request.id)
