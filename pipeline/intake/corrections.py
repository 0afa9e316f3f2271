"""The administrator's word on a document (R17): "this is the chronology", "this scan is fine",
"this is (or is not) the referral form" (the case's answers read again: `intake.reread`).

Each re-runs R4 (what is missing) and, when the case turns out to have been complete in time,
puts it back on the meeting R2–R6 give it — the one whose deadline was still ahead when its
documents were all in — if that meeting has not started. The referrer is told when what they
were told changes: the referral is complete after all, is missing something, or has moved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import LABELS, Kind, Status
from pipeline.errors import PipelineError
from pipeline.intake.admin import (
    Changed,
    changed,
    keep_at_meeting,
    next_purpose,
)
from pipeline.intake.overrides import find
from pipeline.intake.reread import drop_form, take_form
from pipeline.outbox import wording
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.rules.completeness import required_kinds
from pipeline.rules.meetings import Meeting, deadline_passed, target_meeting, upcoming
from pipeline.rules.same_case import supersedes
from pipeline.states import BY_DOCUMENTS, OVER, CaseState
from pipeline.store.audit import audit, checked_actor
from pipeline.store.facts import refresh_state
from pipeline.store.models import Case, Document, OutboxItem
from pipeline.store.models import Message as Ledgered

KINDS = ", ".join(k.value for k in Kind)
TEMPLATE = "documents_checked"
# The start of the flag the cut-off writes on a case it deferred (`rules.cutoff.deferral`).
DEFERRED_FROM = "deferred from "


def find_document(case: Case, document: str) -> Document:
    """One of the case's documents, by its id or its file name as `masp status` shows them."""
    wanted = document.strip()
    by_id = [d for d in case.documents if wanted.isdigit() and d.id == int(wanted)]
    found = by_id or [d for d in case.documents if d.filename == wanted]
    if len(found) == 1:
        return found[0]
    # The file name is not repeated: error messages may be logged, and names can name a child.
    problem = "several documents have that name: give its id" if found else "no such document"
    raise PipelineError(
        f"{problem}; `masp status {case.reference} --json` lists each document's id and file name",
        reference=case.reference,
    )


def _open_case(session: Session, reference: str) -> Case:
    case = find(session, reference)
    if case.state in OVER or case.state == CaseState.HELD:
        raise PipelineError(
            f"the case is {case.state}: its documents no longer decide anything"
            + (" (release or attach it first)" if case.state == CaseState.HELD else ""),
            reference=case.reference,
        )
    return case


def _kind(case: Case, kind: str) -> Kind:
    try:
        return Kind(kind.strip().lower())
    except ValueError:
        raise PipelineError(
            f"{kind!r} is not a kind of document: say one of {KINDS}", reference=case.reference
        ) from None


def reclassify(
    app: App, session: Session, reference: str, document: str, kind: str, actor: str
) -> Changed:
    """Say what kind of document one of the case's documents is, and re-run the rules."""
    by = checked_actor(actor)
    case = _open_case(session, reference)
    doc = find_document(case, document)
    new = _kind(case, kind)
    old = Kind(doc.kind)
    if new == old:
        raise PipelineError(f"document {doc.id} is already read as {new}", reference=case.reference)
    if doc.status == Status.REFUSED:
        raise PipelineError(
            f"document {doc.id} could not be used ({doc.reason}): ask the referrer for a copy "
            "that can be opened",
            reference=case.reference,
        )
    before = _Before.of(case)
    # The case's answers (child, request, consent) come from its newest form: read again now.
    if new == Kind.REFERRAL_FORM:
        form_changes = take_form(app, session, case, doc)
    elif old == Kind.REFERRAL_FORM:
        form_changes = drop_form(app, session, case, doc)
    else:
        form_changes = []
    doc.kind = new.value
    doc.classification = f"{LABELS[new]}, said the administrator (read as {LABELS[old]})"
    _renumber(case, (old, new))
    audit(
        session,
        app.clock.now(),
        case,
        "reclassified",
        document=doc.id,
        was=old.value,
        now=new.value,
        by=by,
    )
    said = f"{case.reference}: {doc.filename} (document {doc.id}) is now read as {new.value}."
    return _settle(app, session, case, before, by, " ".join([said, *form_changes]))


def accept(app: App, session: Session, reference: str, document: str, actor: str) -> Changed:
    """Accept a document that needed a person's look (a scan, an unknown layout) as it is."""
    by = checked_actor(actor)
    case = _open_case(session, reference)
    doc = find_document(case, document)
    if doc.status != Status.NEEDS_REVIEW:
        raise PipelineError(
            f"document {doc.id} does not need review (it is {doc.status})",
            reference=case.reference,
        )
    before = _Before.of(case)
    was = doc.reason
    doc.status, doc.reason = Status.OK.value, None
    doc.classification = f"{doc.classification}; accepted by the administrator".lstrip("; ")
    _renumber(case, (Kind(doc.kind),))
    audit(session, app.clock.now(), case, "accepted", document=doc.id, reason=was, by=by)
    said = f"{case.reference}: {doc.filename} (document {doc.id}) accepted as {doc.kind}."
    return _settle(app, session, case, before, by, said)


class _Before:
    """What the referrer was last told about the case: complete or not, and its meeting."""

    def __init__(self, complete: bool, meeting: datetime | None) -> None:
        self.complete = complete
        self.meeting = meeting

    @classmethod
    def of(cls, case: Case) -> _Before:
        return cls(not refresh_state(case), case.meeting)


def _renumber(case: Case, kinds: tuple[Kind, ...]) -> None:
    """R5 again for the kinds a correction touched: versions in order of arrival, and each
    document superseded when a later one of its kind supersedes (`add_document`'s rule)."""
    for kind in kinds:
        same = sorted((d for d in case.documents if d.kind == kind), key=lambda d: d.id)
        for number, doc in enumerate(same, start=1):
            doc.version = number
            doc.superseded = any(supersedes(kind, later.status) for later in same[number:])


def _settle(app: App, session: Session, case: Case, before: _Before, by: str, said: str) -> Changed:
    missing = refresh_state(case)
    changes = [said]
    moved_from = _relist(app, session, case, by) if not missing else None
    if moved_from is not None:
        changes.append(f"It is back on the agenda of the meeting on {_day(app, case)}.")
    if not missing and not before.complete:
        changes.append("The referral is now complete.")
    elif missing and before.complete:
        changes.append(f"The referral now lacks: {', '.join(k.value for k in missing)}.")
    queued: list[OutboxItem] = []
    if moved_from is not None or before.complete != (not missing):
        context = wording.case_context(app, case, missing) | {
            "now_complete": not missing,
            "moved_back": moved_from is not None,
            "old_meeting": wording.when(app.config.tz, moved_from) if moved_from else "",
        }
        purpose = next_purpose(session, case, TEMPLATE)
        queued.append(
            enqueue(app, session, referrer_draft(session, case, purpose, TEMPLATE, context))
        )
        changes.append("The referrer is told.")
    return changed(app, case, changes, queued)


def _day(app: App, case: Case) -> str:
    return case.meeting.astimezone(app.config.tz).date().isoformat() if case.meeting else "none"


def _relist(app: App, session: Session, case: Case, by: str) -> datetime | None:
    """A complete case put forward only because a document was misread goes back to the
    meeting it was in time for (R2, R3, R6), if that has not started: returns the meeting it
    left, or None if it stays."""
    if case.state not in BY_DOCUMENTS or case.section20 or case.meeting is None:
        return None
    due = _meeting_in_time_for(app, session, case)
    if due is None or due.starts_at >= case.meeting:
        return None
    old = case.meeting
    case.meeting = due.starts_at
    day = due.day.isoformat()
    # The deferral it no longer has: the flag would tell the administrator it missed the date.
    case.flags = [
        f
        for f in case.flags
        if not (f.startswith(DEFERRED_FROM) and f.removeprefix(DEFERRED_FROM)[:10] >= day)
    ] + [f"back on {day}: a document was misread, said the administrator"]
    if deadline_passed(due, app.clock.now()):
        keep_at_meeting(app, session, case, due.starts_at)
    tz = app.config.tz
    audit(
        session,
        app.clock.now(),
        case,
        "relisted",
        from_meeting=old.astimezone(tz).isoformat(),
        to_meeting=due.starts_at.astimezone(tz).isoformat(),
        by=by,
    )
    return old


def _meeting_in_time_for(app: App, session: Session, case: Case) -> Meeting | None:
    """R3 as of when the last document it needed arrived; if that meeting has started, the
    next one that has not."""
    panel = app.config.panel(case.panel_id)
    requests = case.fields.get("request_types", []) if case.fields else []
    arrived: list[datetime] = []
    for kind in required_kinds(case.genogram_required, requests):
        times = [
            session.get_one(Ledgered, d.message_row_id).received_at
            for d in case.documents
            # Complete from the first copy of each kind that could be used, even if a newer
            # copy has superseded it since.
            if d.kind == kind and d.status != Status.REFUSED
        ]
        if not times:
            return None
        arrived.append(min(times))
    due = target_meeting(panel, app.config.tz, max(arrived, default=case.received_at))
    if due.starts_at > app.clock.now():
        return due
    following = upcoming(panel, app.config.tz, app.clock.now(), 1)
    return following[0] if following else None
