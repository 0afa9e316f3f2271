"""R9 Screening: every complete referral goes to the Service Managers, whose reply decides it.

Each configured manager gets their own request: one email with the one-page case summary,
the case's documents and a token — the request's random nonce signed with the installation
key — in the subject and body. A reply counts only when it carries a valid token, comes from
the manager that token was sent to, belongs to the case the thread is about, and was not used
before; anything else is refused, audited and shown to the administrator, never applied.
The first valid answer decides the case and closes the other managers' requests, so one
manager on leave never holds a referral up. `masp screen` is the administrator's fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Person
from pipeline.documents.kinds import Status
from pipeline.errors import ConfigError, NotFound, PipelineError
from pipeline.jobs import Job, bind
from pipeline.mime.message import ParsedEmail
from pipeline.outbox import wording
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft, enqueue, staff_draft
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outputs.summary import render_summary, summary_facts
from pipeline.panel import slots
from pipeline.rules.completeness import missing_kinds
from pipeline.rules.reply_text import Decision, parse_decision
from pipeline.states import ADMINISTRATOR_MAY_SCREEN, MAY_BE_READY, CaseState
from pipeline.store.audit import audit
from pipeline.store.facts import views
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, Message, OutboxItem, ScreeningRequest

log = logging.getLogger(__name__)

TOKEN = re.compile(r"\[screen:([0-9a-f]{16})\.([0-9a-f]{20})\]", re.IGNORECASE)
# Something that looks like a token, valid or not: a mangled one is refused, not ignored.
TOKEN_LIKE = re.compile(r"\[screen:[^\]\s]{0,80}\]", re.IGNORECASE)
OUTCOME = {
    "approve": CaseState.APPROVED,
    "decline": CaseState.DECLINED,
    "more_info": CaseState.MORE_INFO,
}
# Outbox purposes of the emails a manager may be answering (the thread proves the request).
REQUEST_PURPOSES = ("screen-request:", "screen-reminder:")
PDF = "application/pdf"


class ScreeningError(PipelineError):
    """A screening decision cannot be applied to this case as it stands."""


# --- Tokens -------------------------------------------------------------------------------


def _signature(key: bytes, nonce: str) -> str:
    return hmac.new(key, f"screen:{nonce}".encode(), hashlib.sha256).hexdigest()[:20]


def token_for(key: bytes, nonce: str) -> str:
    """The text a manager's reply must carry: the nonce and its HMAC, in brackets."""
    return f"[screen:{nonce}.{_signature(key, nonce)}]"


def token_is_valid(key: bytes, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(signature.lower(), _signature(key, nonce.lower()))


# --- Who screens what ---------------------------------------------------------------------


def _decided_at(session: Session, case: Case) -> datetime | None:
    return session.scalar(
        select(func.max(ScreeningRequest.used_at)).where(
            ScreeningRequest.case_id == case.id, ScreeningRequest.decision.is_not(None)
        )
    )


def ready_for_screening(session: Session, case: Case) -> bool:
    """Complete, or asked for more information and since sent documents that complete it."""
    if case.state == CaseState.COMPLETE:
        return True
    if case.state != CaseState.MORE_INFO:
        return False
    requests = case.fields.get("request_types", []) if case.fields else []
    if missing_kinds(views(case.documents), case.genogram_required, requests):
        return False
    asked = _decided_at(session, case)
    return asked is None or any(d.created_at > asked for d in case.documents)


def _request_count(session: Session, case: Case) -> int:
    query = select(func.count(ScreeningRequest.id)).where(ScreeningRequest.case_id == case.id)
    return session.scalar(query) or 0


def open_requests(session: Session, case: Case) -> list[ScreeningRequest]:
    return list(
        session.scalars(
            select(ScreeningRequest)
            .where(ScreeningRequest.case_id == case.id, ScreeningRequest.used_at.is_(None))
            .order_by(ScreeningRequest.id)
        )
    )


def _manager(app: App, email: str) -> Person | None:
    return next(
        (m for m in app.config.people.service_managers if m.email.lower() == email.lower()), None
    )


# --- Sending requests and reminders -------------------------------------------------------


def _attachments(app: App, case: Case) -> tuple[FileAttachment, ...]:
    """The summary PDF first, then every current document a person can read."""
    panel = app.config.panel(case.panel_id)
    meeting = wording.when(app, case.meeting) if case.meeting else "not yet set"
    facts = summary_facts(
        case,
        panel.name,
        meeting,
        wording.when(app, case.received_at),
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
        if not d.superseded and d.status != Status.REFUSED
    )
    return (summary, *documents)


def _request_context(
    app: App, case: Case, manager: Person, request: ScreeningRequest
) -> dict[str, Any]:
    context = wording.case_context(app, case, [])
    context["manager_name"] = manager.name
    context["token"] = token_for(app.signer.key, request.nonce)
    context["hours"] = app.config.screening.reminder_hours
    return context


def send_requests(app: App, session: Session, case_id: int) -> None:
    """One request, with its own token, to each configured manager; the case is 'screening'."""
    case = session.get(Case, case_id)
    if case is None or not ready_for_screening(session, case):
        return
    managers = app.config.people.service_managers
    if not managers:
        raise ConfigError("people.service_managers", f"nobody to screen {case.reference}")
    attachments = _attachments(app, case)
    now = app.clock.now()
    sent = []
    for manager in managers:
        request = ScreeningRequest(
            case_id=case.id,
            manager_email=manager.email.lower(),
            nonce=secrets.token_hex(8),
            sent_at=now,
            coopt=[],
        )
        session.add(request)
        session.flush()
        draft = Draft(
            purpose=f"screen-request:{request.id}",
            template="screening_request",
            to=(manager.email,),
            context=_request_context(app, case, manager, request),
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
    manager = _manager(app, request.manager_email)
    if case is None or case.state != CaseState.SCREENING or manager is None:
        return
    parent = _request_email_id(session, request)
    draft = Draft(
        purpose=f"screen-reminder:{request.id}{occasion}",
        template="screening_reminder",
        to=(manager.email,),
        context=_request_context(app, case, manager, request),
        case=case,
        in_reply_to=parent,
        references=(parent,) if parent else (),
    )
    enqueue(app, session, draft)
    audit(session, app.clock.now(), case, "screening-reminded", request=request.id)


# --- Job source ---------------------------------------------------------------------------


def screening_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """Requests for cases ready to screen; one reminder per unanswered request."""
    for case in session.scalars(select(Case).where(Case.state.in_(MAY_BE_READY))):
        if ready_for_screening(session, case):
            # The counts make a new key for each round: re-screening after more information.
            rounds = f"{_request_count(session, case)}.{len(case.documents)}"
            yield Job(f"screen:case:{case.id}:{rounds}", now, bind(send_requests, case.id), case.id)
    wait = timedelta(hours=app.config.screening.reminder_hours)
    waiting = session.execute(
        select(ScreeningRequest, Case)
        .join(Case, Case.id == ScreeningRequest.case_id)
        .where(ScreeningRequest.used_at.is_(None), Case.state == CaseState.SCREENING)
    )
    for request, case in waiting:
        yield Job(
            f"screen-reminder:{request.id}",
            request.sent_at + wait,
            bind(send_reminder, request.id),
            case.id,
            # After the meeting has started a reminder is pointless.
            stale_after=case.meeting,
        )


def remind_unscreened(app: App, session: Session, panel_id: str, starts_at: datetime) -> None:
    """R9: a case still unscreened when the agenda is built brings its managers a reminder."""
    query = select(Case).where(
        Case.panel_id == panel_id, Case.meeting == starts_at, Case.state == CaseState.SCREENING
    )
    for case in session.scalars(query):
        for request in open_requests(session, case):
            send_reminder(app, session, request.id, occasion=":agenda")


# --- Applying a decision ------------------------------------------------------------------


def _tell_referrer(
    app: App,
    session: Session,
    case: Case,
    request: ScreeningRequest,
    withdrawn: tuple[str, tuple[FileAttachment, ...]],
) -> None:
    """Tell the referrer the decision, with the slot withdrawn (its times and the calendar
    cancellation), if they had one."""
    template = "declined" if request.decision == "decline" else "more_information"
    context = wording.case_context(app, case, [])
    context["reason"] = request.reason or ""
    context["withdrawn_slot"], cancel = withdrawn
    purpose = f"{template}:request:{request.id}"
    enqueue(app, session, referrer_draft(session, case, purpose, template, context, cancel))


def apply_decision(
    app: App, session: Session, case: Case, request: ScreeningRequest, decision: Decision, by: str
) -> None:
    """Record the decision on its request, close the round, move the case on, tell the referrer."""
    now = app.clock.now()
    request.used_at, request.decision = now, decision.verb
    request.reason = decision.reason or None
    request.coopt = list(decision.coopt)
    for other in open_requests(session, case):
        if other.id != request.id:
            # Answered by someone else: a later reply with this token is refused as stale.
            other.used_at = now
    move(case, OUTCOME[decision.verb])
    added = [f"co-opt:{agency}" for agency in decision.coopt]
    case.flags = [*case.flags, *(flag for flag in added if flag not in case.flags)]
    audit(
        session,
        app.clock.now(),
        case,
        "screening-decision",
        decision=decision.verb,
        by=by,
        request=request.id,
        coopt=list(decision.coopt) or None,
    )
    if decision.verb in ("decline", "more_info"):
        # No longer to be heard (for now): a slot it was given is taken back.
        _tell_referrer(app, session, case, request, slots.withdraw(app, session, case))


def decide_by_administrator(app: App, session: Session, reference: str, decision: Decision) -> Case:
    """`masp screen`: the administrator's decision, with the same effects as a manager's."""
    case = session.scalar(select(Case).where(Case.reference == reference.strip().upper()))
    if case is None:
        raise NotFound(f"no case {reference}: see `masp status`")
    if case.state not in ADMINISTRATOR_MAY_SCREEN:
        raise ScreeningError(
            f"the case is {case.state}; only a complete referral can be screened",
            reference=case.reference,
        )
    request = ScreeningRequest(
        case_id=case.id,
        manager_email=app.config.people.administrator.email.lower(),
        nonce=secrets.token_hex(8),
        sent_at=app.clock.now(),
        coopt=[],
    )
    session.add(request)
    session.flush()
    apply_decision(app, session, case, request, decision, by="administrator")
    return case


# --- Replies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What in an email claims to answer a screening request: tokens, and the thread."""

    tokens: tuple[tuple[str, str], ...]
    malformed: bool
    threaded: tuple[int, ...]


def _threaded_requests(app: App, session: Session, parsed: ParsedEmail) -> tuple[int, ...]:
    """Requests whose email (or reminder) this one answers, proven by our signed Message-IDs."""
    ids = [i for i in (*parsed.in_reply_to, *parsed.references) if app.signer.is_ours(i)]
    if not ids:
        return ()
    purposes = session.scalars(select(OutboxItem.purpose).where(OutboxItem.message_id.in_(ids)))
    found = (p.partition(":")[2] for p in purposes if p.startswith(REQUEST_PURPOSES))
    return tuple(dict.fromkeys(int(i) for i in found if i.isdigit()))


def find_claim(app: App, session: Session, parsed: ParsedEmail) -> Claim | None:
    """None when the email does not claim to answer a screening request at all."""
    text = f"{parsed.subject}\n{parsed.body_text}"
    tokens = tuple(dict.fromkeys((n.lower(), s.lower()) for n, s in TOKEN.findall(text)))
    malformed = len(TOKEN_LIKE.findall(text)) > len(TOKEN.findall(text))
    threaded = _threaded_requests(app, session, parsed)
    if not tokens and not malformed and not threaded:
        return None
    return Claim(tokens, malformed, threaded)


def _claimed_requests(app: App, session: Session, claim: Claim) -> list[ScreeningRequest] | None:
    """The requests the claim names; None when any token is forged or unknown."""
    key = app.signer.key
    if claim.malformed or not all(token_is_valid(key, n, s) for n, s in claim.tokens):
        return None
    nonces = [n for n, _ in claim.tokens]
    by_token = list(
        session.scalars(select(ScreeningRequest).where(ScreeningRequest.nonce.in_(nonces)))
    )
    if len(by_token) != len(nonces):
        return None
    by_thread = [session.get(ScreeningRequest, i) for i in claim.threaded]
    found = {r.id: r for r in [*by_token, *by_thread] if r is not None}
    return list(found.values()) or None


def refusal(
    app: App, sender: str, case: Case | None, requests: list[ScreeningRequest] | None
) -> str | None:
    """Why this reply must not count (a rule: it decides, the handler acts), or None."""
    if requests is None:
        return "bad token"
    if len({r.case_id for r in requests}) > 1 or (case and case.id != requests[0].case_id):
        return "other case"
    if len(requests) > 1:
        return "bad token"
    request = requests[0]
    if sender != request.manager_email or _manager(app, sender) is None:
        return "forged sender"
    if request.decision is not None:
        return "replayed"
    if request.used_at is not None:
        return "already decided"
    return None


def _alert(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None, why: str
) -> None:
    context = wording.refused_reply(app, row.id, parsed, case, why)
    purpose = f"screen-alert:message:{row.id}"
    enqueue(app, session, staff_draft(app, purpose, "screening_alert", context, case))


def _refuse(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None, why: str
) -> None:
    row.category = "screening_refused"
    audit(session, app.clock.now(), case, "screening-refused", why=why, ledger=row.id)
    log.warning("screening reply refused (%s): ledger id %d", why, row.id)
    _alert(app, session, row, parsed, case, why)


def take_reply(
    app: App, session: Session, row: Message, parsed: ParsedEmail, case: Case | None
) -> bool:
    """Reply handler: takes every email that claims to answer a screening request."""
    claim = find_claim(app, session, parsed)
    if claim is None:
        return False
    requests = _claimed_requests(app, session, claim)
    target = session.get(Case, requests[0].case_id) if requests else case
    row.case_id = target.id if target else None
    why = refusal(app, parsed.from_address.lower(), case, requests)
    if why is not None or requests is None or target is None:
        _refuse(app, session, row, parsed, target, why or "bad token")
        return True
    decision = parse_decision(parsed.body_text)
    if decision is None:
        # The manager meant to answer but wrote something else: a person reads it; the
        # request stays open so their next reply still counts.
        row.category = "screening_unclear"
        audit(session, app.clock.now(), target, "screening-unclear", ledger=row.id)
        _alert(app, session, row, parsed, target, "unclear: no decision on the first line")
        return True
    row.category = "screening"
    apply_decision(app, session, target, requests[0], decision, by="manager")
    return True
