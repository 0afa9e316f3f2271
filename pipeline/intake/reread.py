"""A document made into, or out of, the case's referral form by the administrator (R17).

Into: the stored file is read again as a referral form, in the isolated reader as intake reads
every attachment, and the case takes its answers as from a form that has just arrived
(`apply_facts`: never wiping the child an earlier form named). Out: the case's answers fall back
to the newest form left, read again the same way; with none left they stay, flagged for the
administrator. A case's answers are always the newest form's, so a form older than the one the
case reads from changes nothing but itself.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.results import FormFacts
from pipeline.errors import PipelineError
from pipeline.intake import emergency
from pipeline.intake.cases import adopt_named_referrer, apply_facts, is_other_child
from pipeline.store.models import Case, Document

# The flag on a case whose only form the administrator said is not one: its answers stay.
NO_FORM_LEFT = (
    "its answers came from a document the administrator said is not a referral form, and no "
    "other form is left: check them, or ask the referrer for the form"
)


def read_as_form(app: App, case: Case, doc: Document) -> FormFacts:
    """What the stored file says when read as a referral form, or a refusal with the reader's
    reason (it cannot be opened, or nothing a referral form asks was found in it)."""
    today = app.clock.now().astimezone(app.config.tz).date()
    data = app.files.read(doc.stored_path)
    result = app.documents.read(doc.filename, data, today, as_kind=Kind.REFERRAL_FORM)
    facts, refused = result.facts, result.classification.status == Status.REFUSED
    reason = result.classification.reason if refused else None
    if reason is None and (facts is None or facts.source == "none"):
        said = "; ".join(result.notes) or "none of a referral form's questions was found in it"
        reason = f"it could not be read as a referral form: {said}"
    if reason is not None or facts is None:
        raise PipelineError(
            f"document {doc.id} was not made the referral form: {reason}",
            reference=case.reference,
        )
    doc.fields = {"sniffed": result.sniffed.type, **result.fields}
    return facts


def newest_form(case: Case, leaving_out: Document | None = None) -> Document | None:
    forms = [
        d
        for d in case.documents
        if d.kind == Kind.REFERRAL_FORM and d.status != Status.REFUSED and d is not leaving_out
    ]
    return max(forms, key=lambda d: d.id, default=None)


def take_form(app: App, session: Session, case: Case, doc: Document) -> list[str]:
    """`doc`, about to be read as a referral form: its answers become the case's if it is the
    newest form. Returns what changed, in sentences."""
    facts = read_as_form(app, case, doc)
    newest = newest_form(case, leaving_out=doc)
    if newest is not None and newest.id > doc.id:
        return [f"The case's answers stay with the newer form (document {newest.id})."]
    if case.fields and is_other_child(app, case, facts):
        raise PipelineError(
            f"document {doc.id} is a form for a different child (name and date of birth) from "
            "the case's: it cannot be this case's form; ask the referrer to send it as a "
            "referral of its own",
            reference=case.reference,
        )
    had_form, was_s20 = bool(case.fields), case.section20
    apply_facts(app, session, case, facts)
    case.flags = [f for f in case.flags if f != NO_FORM_LEFT]
    if not had_form and case.forwarded_by is None:
        adopt_named_referrer(app, case)
    _settle_section20(app, session, case, was_s20)
    return ["The case's answers (child, request, consent) are read from it."]


def drop_form(app: App, session: Session, case: Case, doc: Document) -> list[str]:
    """`doc` is no longer a referral form: if the case's answers came from it, they fall back
    to the newest form left, else stay, flagged. Returns what changed, in sentences."""
    if (newest_form(case) or doc).id > doc.id:
        return []
    left = newest_form(case, leaving_out=doc)
    if left is None:
        if NO_FORM_LEFT not in case.flags:
            case.flags = [*case.flags, NO_FORM_LEFT]
        return ["No other referral form is left: the case's answers stay as they were, flagged."]
    facts = read_as_form(app, case, left)
    was_s20 = case.section20
    # Nothing the misread document said is kept: the answers are the older form's alone.
    case.fields, case.child_key = {}, None
    apply_facts(app, session, case, facts)
    _settle_section20(app, session, case, was_s20)
    return [f"The case's answers are read again from the form left (document {left.id})."]


def _settle_section20(app: App, session: Session, case: Case, was_s20: bool) -> None:
    """A form saying Section 20 makes the case an emergency (R7), as when it arrives."""
    if case.section20 and not was_s20:
        emergency.bring_forward(app, session, case, app.clock.now())
        emergency.alert(app, session, case, app.clock.now())
