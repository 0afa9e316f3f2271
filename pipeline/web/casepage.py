"""One case: its facts, emails and documents in order, what was read from each field (with its
confidence and where it came from), and its audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import Response

from pipeline.app import App
from pipeline.errors import NotFound
from pipeline.rules.meetings import meeting_at
from pipeline.store.facts import missing_for
from pipeline.store.models import AuditEvent, Case, Document, Message, ScreeningRequest
from pipeline.web.caseforms import case_forms
from pipeline.web.guard import Forbidden, Pages, Visit
from pipeline.web.previews import Source, conversions, draw, shown_pages, source_of
from pipeline.web.users import READERS, Role, User
from pipeline.web.views import email_headline, shown

pages = Pages()
# Parse results stored with each document that are not fields read from it.
_NOT_FIELDS = frozenset({"sniffed", "summary", "missing", "notes", "entries"})
CASE_ROLES = READERS | {Role.SERVICE_MANAGER}


@dataclass(frozen=True)
class FieldRead:
    name: str
    value: str
    # 0 to 1, as the reader scored it; None when it did not say.
    confidence: float | None
    # Where it was read: a content control, a table, the text …
    source: str


@dataclass(frozen=True)
class DocumentView:
    id: int
    kind: str
    filename: str
    status: str
    reason: str | None
    version: int
    superseded: bool
    note: str
    fields: tuple[FieldRead, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...]
    # The page numbers shown as pictures, or why none is (`no_preview`).
    previews: tuple[int, ...]
    no_preview: str


@dataclass(frozen=True)
class EmailView:
    id: int
    received_at: datetime
    sender: str
    subject: str
    status: str
    category: str | None
    documents: tuple[DocumentView, ...]


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    action: str
    by: str
    detail: str


@dataclass(frozen=True)
class CaseView:
    reference: str
    state: str
    panel_name: str
    meeting: datetime | None
    deadline: datetime | None
    referrer: str
    child_name: str
    section20: bool
    flags: tuple[str, ...]
    missing: tuple[str, ...]
    # What the referral form said, as (label, value) pairs.
    facts: tuple[tuple[str, str], ...]
    emails: tuple[EmailView, ...]
    # Documents whose email is not on this case (moved here from another).
    other_documents: tuple[DocumentView, ...]
    audit: tuple[AuditLine, ...]


def find_case(session: Session, reference: str) -> Case:
    case = session.scalar(
        select(Case)
        .options(selectinload(Case.documents), selectinload(Case.messages))
        .where(Case.reference == reference.strip().upper())
    )
    if case is None:
        raise NotFound(f"There is no case {reference}.")
    return case


def may_open(session: Session, user: User, case: Case) -> bool:
    """Readers open every case; a Service Manager only the cases they were asked to screen."""
    if user.role in READERS:
        return True
    if user.role != Role.SERVICE_MANAGER:
        return False
    asked = select(ScreeningRequest.id).where(
        ScreeningRequest.case_id == case.id, ScreeningRequest.manager_email == user.email
    )
    return session.scalar(asked.limit(1)) is not None


def document_view(d: Document, source: Source | str) -> DocumentView:
    stored = dict(d.fields or {})
    fields = tuple(
        FieldRead(
            name=key.replace("_", " "),
            value=shown(found.get("value")),
            confidence=found.get("confidence"),
            source=str(found.get("source") or "—").replace("-", " "),
        )
        for key, found in stored.items()
        if key not in _NOT_FIELDS and isinstance(found, dict)
    )
    return DocumentView(
        id=d.id,
        kind=d.kind.replace("_", " "),
        filename=d.filename,
        status=d.status,
        reason=d.reason,
        version=d.version,
        superseded=d.superseded,
        note=d.classification,
        fields=fields,
        missing=tuple(str(m) for m in stored.get("missing") or []),
        notes=tuple(str(n) for n in stored.get("notes") or []),
        previews=shown_pages(source),
        no_preview=source if isinstance(source, str) else "",
    )


def case_view(app: App, session: Session, case: Case) -> CaseView:
    config = app.config
    panel = config.panel(case.panel_id)
    deadline = None
    if case.meeting is not None:
        day = case.meeting.astimezone(config.tz).date()
        deadline = meeting_at(panel, day, config.tz).deadline
    docs_by_message: dict[int, list[DocumentView]] = {}
    converted = conversions(session, case.documents)
    for d in case.documents:
        view = document_view(d, source_of(d, converted.get(d.sha256)))
        docs_by_message.setdefault(d.message_row_id, []).append(view)
    emails = tuple(_email(app, m, docs_by_message.pop(m.id, [])) for m in _in_order(case.messages))
    fields: dict[str, Any] = dict(case.fields or {})
    name = fields.get("child_name")
    return CaseView(
        reference=case.reference,
        state=case.state.value,
        panel_name=panel.name,
        meeting=case.meeting,
        deadline=deadline,
        referrer=case.referrer_email,
        child_name=name if isinstance(name, str) and name else "—",
        section20=case.section20,
        flags=tuple(str(f) for f in case.flags),
        missing=tuple(k.value.replace("_", " ") for k in missing_for(case)),
        facts=tuple(
            (key.replace("_", " ").capitalize(), shown(value))
            for key, value in fields.items()
            if key not in ("child_name", "source")
        ),
        emails=emails,
        other_documents=tuple(d for docs in docs_by_message.values() for d in docs),
        audit=audit_lines(session, case),
    )


def _in_order(messages: list[Message]) -> list[Message]:
    return sorted(messages, key=lambda m: (m.received_at, m.id))


def _email(app: App, m: Message, documents: list[DocumentView]) -> EmailView:
    sender, subject = email_headline(app, m.raw_path)
    return EmailView(m.id, m.received_at, sender, subject, m.status, m.category, tuple(documents))


def audit_lines(session: Session, case: Case) -> tuple[AuditLine, ...]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return tuple(
        AuditLine(
            at=e.at,
            action=e.action.replace("-", " "),
            by=str(e.detail.get("by") or "the service"),
            detail=", ".join(f"{k}: {shown(v)}" for k, v in e.detail.items() if k != "by"),
        )
        for e in events
    )


@pages.get("/cases/{reference}", CASE_ROLES)
def case_page(visit: Visit) -> Response:
    return show_case(visit, visit.request.path_params["reference"])


def show_case(
    visit: Visit,
    reference: str,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> Response:
    """The case page; after a refused override, with what to fix (`errors`, by field id) and
    what was typed (`values`, by field id)."""
    with visit.app.store.reading() as session:
        case = find_case(session, reference)
        if not may_open(session, visit.user, case):
            raise Forbidden("You can open only the cases you were asked to screen.")
        view = case_view(visit.app, session, case)
        forms = (
            case_forms(visit.app, session, case) if visit.user.role == Role.ADMINISTRATOR else None
        )
    return visit.render(
        "case.html", status, case=view, forms=forms, errors=errors or {}, values=values or {}
    )


@pages.get("/cases/{reference}/documents/{document_id:int}/pages/{page:int}.png", CASE_ROLES)
def page_picture(visit: Visit) -> Response:
    """One page of a case's document as PNG, drawn by the isolated reader (SPEC §7). Never
    cached (the security headers say no-store and nosniff on every response)."""
    params = visit.request.path_params
    with visit.app.store.reading() as session:
        case = find_case(session, params["reference"])
        if not may_open(session, visit.user, case):
            raise Forbidden("You can open only the cases you were asked to screen.")
        document = session.get(Document, params["document_id"])
        if document is None or document.case_id != case.id:
            raise NotFound(f"Case {case.reference} has no document {params['document_id']}.")
        # The reader serves one request at a time, as for every other read of an attachment.
        with visit.exclusive():
            drawn = draw(visit.app, session, document, params["page"])
    return Response(drawn.png, media_type="image/png")
