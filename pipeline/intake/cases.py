"""Finding and opening cases, and adding documents to them (R3, R5)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.results import FormFacts
from pipeline.mime.message import ParsedEmail
from pipeline.mime.threading import references_in_subject, references_in_thread
from pipeline.outbox.queue import configured_addresses
from pipeline.rules.meetings import release_meeting, target_meeting
from pipeline.rules.recipients import is_allowed_recipient
from pipeline.rules.routing import How, panel_named, route
from pipeline.rules.same_case import Child, different_child, supersedes
from pipeline.rules.standing import (
    SHARED_MAIL_DOMAINS,
    ReferencePolicy,
    may_quote_reference,
    named_referrer,
)
from pipeline.states import CaseState
from pipeline.store.audit import audit
from pipeline.store.counters import next_number
from pipeline.store.lifecycle import move
from pipeline.store.models import PURGED, AuditEvent, Case, Decision, Document

# Kept through later forms that do not tick Section 20: the administrator's word stands.
SECTION20_CONFIRMED = "Section 20 confirmed by the administrator"
# The flag on a case one of whose forms named no child: the earlier form's child was kept.
NO_CHILD_NAMED = (
    "a referral form named no child: the child from the earlier form was kept; check the form"
)
FORWARDED = "forwarded: answered to the referrer named on the form, the sender in copy"
# The flag on a case the administrator attached into another (`masp case attach`); its
# `linked_case_id` names that case, and mail on its thread follows there.
ATTACHED_TO = "attached to "
# The flag on a new referral of a child whose earlier case the panel heard and closed (R14):
# the administrator and the screening summary see it, with the earlier case's reference.
RE_REFERRAL = "re-referral: previously "


@dataclass(frozen=True)
class Found:
    """The case an email belongs to, and a case whose reference it quoted without standing."""

    case: Case | None
    quoted: Case | None = None


def _live_case(session: Session, reference: str) -> Case | None:
    # A case whose working copies were purged (retention) is over: an email about it, maybe a
    # year on, is a new referral and opens a new case.
    # Locked until the email is filed: a purge of the same case (retention) waits and then
    # sees what came in, or this waits for the purge and then sees the case is over.
    query = select(Case).where(Case.reference == reference).with_for_update()
    case = session.scalar(query.execution_options(populate_existing=True))
    return case if case is not None and PURGED not in case.flags else None


def attached_into(session: Session, case: Case) -> Case | None:
    """The case `case` was attached into, followed to the end of any chain, else None."""
    # Read from the flag, which names the case by reference: cases attached before the link
    # was recorded carry it too.
    seen = {case.id}
    target: Case | None = None
    current: Case | None = case
    while current is not None:
        flag = next((f for f in current.flags if f.startswith(ATTACHED_TO)), None)
        current = _live_case(session, flag.removeprefix(ATTACHED_TO)) if flag else None
        if current is None or current.id in seen:
            break
        seen.add(current.id)
        target = current
    return target


def reference_policy(app: App) -> ReferencePolicy:
    intake = app.config.intake
    shared = SHARED_MAIL_DOMAINS | set(intake.shared_mail_domains)
    return ReferencePolicy(intake.reference_from_referrer_domain, frozenset(shared))


def find_case(app: App, session: Session, parsed: ParsedEmail) -> Found:
    """R5: a reply to one of our emails (its signed id proves it), else a subject reference
    from someone with standing on that case: its referrer or forwarder (or their domain)."""
    senders = (parsed.from_address, parsed.reply_to or "")
    thread = references_in_thread(app.signer, [*parsed.references, *parsed.in_reply_to])
    for reference in thread:
        case = _live_case(session, reference)
        if case is None:
            continue
        # A reply on the thread of a case attached into another belongs to that other case;
        # its proof was for the attached case, so it needs standing on the one it goes to.
        target = attached_into(session, case)
        if target is None or has_standing(app, senders, target):
            return Found(target or case)
        return Found(None, target)
    quoted: Case | None = None
    for reference in references_in_subject(parsed.subject):
        case = _live_case(session, reference)
        if case is None:
            continue
        case = attached_into(session, case) or case
        if has_standing(app, senders, case):
            return Found(case)
        quoted = quoted or case
    return Found(None, quoted)


def has_standing(app: App, senders: Sequence[str], case: Case) -> bool:
    """R5: whether every address an email came from may add to `case`."""
    others = (case.forwarded_by, case.sender_email)
    return may_quote_reference(senders, case.referrer_email, others, reference_policy(app))


def next_reference(session: Session, prefix: str, year: int) -> str:
    return f"{prefix}-{year}-{next_number(session, prefix, year):04d}"


def child_key(app: App, name: str | None, dob: date | None) -> str | None:
    """A keyed hash of the child's name and date of birth: links re-referrals, reveals neither."""
    if not name or dob is None:
        return None
    normal = " ".join(name.lower().split())
    return hmac.new(
        app.signer.key, f"{normal}|{dob.isoformat()}".encode(), hashlib.sha256
    ).hexdigest()


def facts_json(facts: FormFacts | None) -> dict[str, Any]:
    if facts is None:
        return {}
    data = asdict(facts)
    data["child_dob"] = facts.child_dob.isoformat() if facts.child_dob else None
    data["request_types"] = list(facts.request_types)
    return data


def facts_from_json(data: dict[str, Any]) -> FormFacts:
    """The FormFacts a case's stored fields were made from (`facts_json` the other way)."""
    known = {f.name for f in dataclass_fields(FormFacts)}
    values: dict[str, Any] = dict.fromkeys(known)
    values |= {key: value for key, value in data.items() if key in known}
    dob = values["child_dob"]
    values["child_dob"] = date.fromisoformat(dob) if isinstance(dob, str) else None
    values["request_types"] = tuple(values["request_types"] or ())
    values["section20"] = bool(values["section20"])
    return FormFacts(**values)


def open_case(
    app: App,
    session: Session,
    parsed: ParsedEmail,
    received_at: datetime,
    facts: FormFacts | None,
    state: CaseState = CaseState.INCOMPLETE,
) -> Case:
    """A new case for the email, born `state`: a referral is incomplete, a held email held."""
    routed = route(
        app.config.panels,
        app.config.mailbox.address,
        parsed.addressed,
        facts.panel if facts else None,
    )
    panel = routed.panel
    section20 = facts is not None and facts.section20
    # R7: a Section 20 case filed late (a backlog after an outage, a replay from quarantine)
    # goes to the next meeting not yet started now, never to one already held.
    meeting = (
        release_meeting(panel, app.config.tz, received_at, app.clock.now(), True, True)
        if section20
        else target_meeting(panel, app.config.tz, received_at, False)
    )
    year = received_at.astimezone(app.config.tz).year
    case = Case(
        reference=next_reference(session, panel.prefix, year),
        panel_id=panel.id,
        meeting=meeting.starts_at,
        referrer_email=(parsed.reply_to or parsed.from_address).lower(),
        sender_email=parsed.from_address.lower() if parsed.reply_to else None,
        referrer_name=parsed.from_name or None,
        received_at=received_at,
        flags=[routed.note] if routed.note else [],
        fields={},
        # A new case has no documents yet: said here, adding the first asks the database nothing.
        documents=[],
    )
    move(case, state)
    session.add(case)
    session.flush()
    audit(session, app.clock.now(), case, "routed", panel=panel.id, by=routed.how.value)
    return case


def route_by_first_form(app: App, session: Session, case: Case, facts: FormFacts) -> None:
    """R1: a referral that reached the plain inbox without a form went to the first panel; its
    first form names the panel it is for, and while it is still incomplete (nothing done for
    that panel yet) it moves there, to that panel's first meeting whose deadline was ahead
    when it arrived (R3). It keeps its reference. One the address routed stays where it is."""
    if case.state != CaseState.INCOMPLETE or case.section20:
        return
    how = session.scalar(
        select(AuditEvent.detail).where(
            AuditEvent.case_id == case.id, AuditEvent.action == "routed"
        )
    )
    panel = panel_named(app.config.panels, facts.panel)
    if not how or how.get("by") != How.FIRST or panel is None or panel.id == case.panel_id:
        return
    case.panel_id = panel.id
    case.meeting = target_meeting(panel, app.config.tz, case.received_at, False).starts_at
    audit(session, app.clock.now(), case, "routed", panel=panel.id, by=How.FORM.value)


def apply_facts(app: App, session: Session, case: Case, facts: FormFacts) -> None:
    """Take what the (newest) referral form says; link, never merge, a second referral.

    A form that leaves out the child's name or date of birth never wipes what an earlier form
    gave: the child stays identified (R5 compares later forms against it), and a form naming
    no child is flagged for the administrator.
    """
    before = case.fields or {}
    known = facts_from_json(before) if before else None
    if known is not None and known.child_name and not facts.child_name:
        facts = replace(facts, child_name=known.child_name)
        if NO_CHILD_NAMED not in case.flags:
            case.flags = [*case.flags, NO_CHILD_NAMED]
    if known is not None and known.child_dob is not None and facts.child_dob is None:
        facts = replace(facts, child_dob=known.child_dob)
    case.fields = facts_json(facts)
    case.section20 = facts.section20 or SECTION20_CONFIRMED in case.flags
    case.genogram_required = facts.genogram_required
    case.child_key = child_key(app, facts.child_name, facts.child_dob) or case.child_key
    if case.linked_case_id is None:
        link_same_child(session, case)


def link_same_child(session: Session, case: Case) -> None:
    """Link (never merge) a case to another case about the same child: the latest one the
    panel heard and closed (a re-referral, R14), else the first other case."""
    if not case.child_key:
        return
    # One light query (columns, not cases: most referrals are of a child the panel has not
    # met). A case changed in this transaction (one attached into another) is flushed first,
    # so it is seen as changed; this case's own changes (its new documents) wait for the next
    # flush, as they change nothing the query reads.
    with nullcontext() if _other_cases_changed(session, case) else session.no_autoflush:
        others = session.execute(
            select(Case.id, Case.reference, Case.state)
            .where(Case.child_key == case.child_key, Case.id != case.id)
            .order_by(Case.id)
        ).all()
    if not others:
        return
    closed = {row.id: row.reference for row in others if row.state == CaseState.CLOSED}
    # The latest one the panel heard and closed (it has a decision): a re-referral (R14).
    latest = select(func.max(Decision.case_id)).where(Decision.case_id.in_(list(closed)))
    heard = session.scalar(latest) if closed else None
    if heard is not None:
        case.linked_case_id = heard
        case.flags = [*case.flags, f"{RE_REFERRAL}{closed[heard]}"]
        return
    case.linked_case_id = others[0].id
    case.flags = [*case.flags, f"same child as {others[0].reference}"]


def _other_cases_changed(session: Session, case: Case) -> bool:
    """Whether a case other than `case` has changes in `session` not yet flushed."""
    changed = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(other, Case) and other is not case for other in changed)


def is_other_child(app: App, case: Case, facts: FormFacts) -> bool:
    """R5: whether a form is about a different child from the case's form (`same_case`)."""
    fields = case.fields or {}
    name, born = fields.get("child_name"), fields.get("child_dob")
    before = Child(
        case.child_key, name if isinstance(name, str) else None, str(born) if born else None
    )
    dob = facts.child_dob.isoformat() if facts.child_dob else None
    now = Child(child_key(app, facts.child_name, facts.child_dob), facts.child_name, dob)
    return different_child(before, now)


def adopt_named_referrer(app: App, case: Case) -> None:
    """R5: a referral sent in by someone other than the referrer its form names is answered to
    that referrer from now on, the sender (a duty desk) in copy, if we may write to them."""
    named = str((case.fields or {}).get("referrer_email") or "")
    allowed = is_allowed_recipient(
        named, configured_addresses(app), app.config.limits.allowed_recipient_domains
    )
    decision = named_referrer(named, case.referrer_email, allowed, app.config.mailbox.address)
    if decision.address is not None:
        case.forwarded_by, case.referrer_email = case.referrer_email, decision.address
        case.referrer_name = (case.fields or {}).get("referrer_name") or case.referrer_name
        case.flags = [*case.flags, FORWARDED]
    elif decision.note and decision.note not in case.flags:
        case.flags = [*case.flags, decision.note]


def add_document(session: Session, case: Case, document: Document) -> None:
    """R5: a newer usable document of a kind supersedes the older one; both are kept."""
    same_kind = [d for d in case.documents if d.kind == document.kind]
    document.version = 1 + max((d.version for d in same_kind), default=0)
    if supersedes(document.kind, document.status):
        for older in same_kind:
            older.superseded = True
    case.documents.append(document)
