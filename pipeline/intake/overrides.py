"""The administrator's word on what intake could not decide (R17): a held case released as a
referral of its own, attached to the case it belongs to, or dismissed; and whether a case
whose email said "Section 20" is one. Each is audited with who did it ("cli:jo",
"web:jo@example.org"), as the other overrides are."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import NotFound, PipelineError
from pipeline.intake import emergency
from pipeline.intake.cases import (
    ATTACHED_TO,
    SECTION20_CONFIRMED,
    add_document,
    adopt_named_referrer,
    apply_facts,
    facts_from_json,
    is_other_child,
    link_same_child,
)
from pipeline.intake.filing import acknowledge
from pipeline.intake.held import HELD_PREFIX
from pipeline.outbox import wording
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.rules.meetings import release_meeting
from pipeline.states import ATTACHABLE, CaseState
from pipeline.store.audit import audit, checked_actor
from pipeline.store.facts import refresh_state
from pipeline.store.lifecycle import move
from pipeline.store.models import Case


def find(session: Session, reference: str) -> Case:
    case = session.scalar(select(Case).where(Case.reference == reference.strip().upper()))
    if case is None:
        raise NotFound(f"no case with reference {reference!r}: run `masp status` to list them")
    return case


def _held(session: Session, reference: str) -> Case:
    case = find(session, reference)
    if case.state != CaseState.HELD:
        raise PipelineError(
            f"the case is not held (it is {case.state}): nothing to do", reference=case.reference
        )
    return case


def release(app: App, session: Session, reference: str, actor: str) -> Case:
    """A held email is a referral in its own right: list it and acknowledge it to its sender."""
    by = checked_actor(actor)
    case = _held(session, reference)
    first = min(case.messages, key=lambda m: m.id, default=None)
    who = wording.Correspondent(case.referrer_email, first.message_id if first else None, ())
    move(case, CaseState.INCOMPLETE)
    missing = refresh_state(case)
    panel = app.config.panel(case.panel_id)
    meeting = release_meeting(
        panel, app.config.tz, case.received_at, app.clock.now(), not missing, case.section20
    )
    case.meeting = meeting.starts_at
    # It was linked to the case it quoted; now it is its own referral, linked as any other.
    case.flags = [f for f in case.flags if not f.startswith(HELD_PREFIX)]
    case.linked_case_id = None
    link_same_child(session, case)
    if case.fields:
        adopt_named_referrer(app, case)
    audit(session, app.clock.now(), case, "released", by=by)
    acknowledge(app, session, case, who, f"ack:release:{case.id}", case.received_at)
    return case


def attach(
    app: App,
    session: Session,
    reference: str,
    into: str | None,
    actor: str,
    same_child: bool = False,
) -> Case:
    """Move a case's documents and emails onto the case they belong to, and close it."""
    by = checked_actor(actor)
    source = find(session, reference)
    if source.state not in ATTACHABLE:
        raise PipelineError(
            f"only a held case, or one not yet screened, can be attached (it is {source.state})",
            reference=source.reference,
        )
    target = _attach_target(session, source, into)
    facts = facts_from_json(source.fields) if source.fields else None
    if facts is not None and is_other_child(app, target, facts) and not same_child:
        raise PipelineError(
            f"its referral form is for a different child (name and date of birth) from "
            f"{target.reference}'s: release it as its own case, or add --same-child if it "
            "corrects that child's name or date of birth",
            reference=source.reference,
        )
    was_complete, was_s20 = target.state == CaseState.COMPLETE, target.section20
    # Appending to the target's list moves each document (the relationship's other side
    # follows), renumbering its version and superseding the older one of its kind (R5).
    for document in list(source.documents):
        add_document(session, target, document)
    for message in list(source.messages):
        message.case = target
    # The form went with the documents: the closed case no longer says anything about a child.
    source.fields, source.child_key, source.section20 = {}, None, False
    if facts is not None:
        apply_facts(app, session, target, facts)
    # Linked to where it went, so that mail on its thread follows there (`find_case`).
    move(source, CaseState.CLOSED)
    source.meeting, source.linked_case_id = None, target.id
    source.flags = [*source.flags, f"{ATTACHED_TO}{target.reference}"]
    audit(session, app.clock.now(), source, "attached", to=target.reference, by=by)
    _settle(app, session, target, was_s20)
    _tell_referrer(app, session, target, f"attach:{source.id}", was_complete)
    return target


def _attach_target(session: Session, source: Case, into: str | None) -> Case:
    if into is None and source.linked_case_id is None:
        raise PipelineError("say which case with --to REFERENCE", reference=source.reference)
    target = find(session, into) if into else session.get(Case, source.linked_case_id)
    if target is None or target.id == source.id or target.meeting is None:
        raise PipelineError(
            "attach it to another case that is listed for a meeting (not held or closed)",
            reference=source.reference,
        )
    return target


def _settle(app: App, session: Session, case: Case, was_s20: bool) -> None:
    """What a case that has just become a Section 20 emergency needs (R7)."""
    if case.section20 and not was_s20:
        emergency.bring_forward(app, session, case, app.clock.now())
        emergency.alert(app, session, case, app.clock.now())


def _tell_referrer(
    app: App, session: Session, case: Case, purpose: str, was_complete: bool
) -> None:
    missing = refresh_state(case)
    context = wording.case_context(app, case, missing)
    context["now_complete"] = not missing and not was_complete
    enqueue(app, session, referrer_draft(session, case, purpose, "update", context))


def dismiss(app: App, session: Session, reference: str, actor: str) -> Case:
    """A held email that should not be acted on: closed, nothing sent."""
    by = checked_actor(actor)
    case = _held(session, reference)
    move(case, CaseState.CLOSED)
    case.flags = [*case.flags, "dismissed by the administrator"]
    audit(session, app.clock.now(), case, "dismissed", by=by)
    return case


def section20(app: App, session: Session, reference: str, confirmed: bool, actor: str) -> Case:
    """The administrator's answer to "is this a Section 20 emergency?" (R7)."""
    by = checked_actor(actor)
    case = find(session, reference)
    if case.meeting is None:
        raise PipelineError(
            f"the case is {case.state} and listed for no meeting: release it first",
            reference=case.reference,
        )
    if not confirmed:
        emergency.clear_question(case)
        audit(session, app.clock.now(), case, "section20-not-confirmed", by=by)
        return case
    if case.section20:
        raise PipelineError("the case is already a Section 20 emergency", reference=case.reference)
    case.section20 = True
    case.flags = [*case.flags, SECTION20_CONFIRMED]
    audit(session, app.clock.now(), case, "section20-confirmed", by=by)
    _settle(app, session, case, was_s20=False)
    context = wording.case_context(app, case, refresh_state(case))
    draft = referrer_draft(
        session, case, f"s20-confirmed:{case.id}", "section20_confirmed", context
    )
    enqueue(app, session, draft)
    return case
