"""What intake says back: acknowledgements, updates, refusals and alerts, as outbox drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.app import App
from pipeline.documents.form import blank_form_bytes
from pipeline.documents.kinds import KIND_ORDER, LABELS, Kind, Status
from pipeline.errors import PipelineError
from pipeline.intake.mime import ParsedEmail
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft
from pipeline.panel.meetings import meeting_at, upcoming
from pipeline.store.models import Case

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BLANK_FORM_NAME = "MASP-referral-form.docx"


def when(app: App, instant: datetime) -> str:
    """A date-time as people in the panel's time zone read it: 'Tuesday 8 December 2026, 10:00'."""
    local = instant.astimezone(app.config.tz)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"


def _document_lines(case: Case) -> list[dict[str, Any]]:
    order = {kind.value: i for i, kind in enumerate(KIND_ORDER)}
    # Python's sort is stable: within a kind, documents stay in the order they arrived.
    current = sorted(case.documents, key=lambda d: order.get(d.kind, 9))
    return [
        {
            "label": LABELS[Kind(d.kind)],
            "filename": d.filename,
            "status": d.status,
            "reason": d.reason or "",
            "version": d.version,
            "superseded": d.superseded,
        }
        for d in current
    ]


# Fields a referral form must answer (issue: Documents), with how the referrer reads them.
REQUIRED_FIELDS = {
    "child_name": "the child's name",
    "child_dob": "the child's date of birth (or due date)",
    "referrer_name": "your name",
    "referrer_email": "your email address",
    "request_types": "what you are asking the panel for (request type)",
    "consent": "whether the family agreed to the panel discussion (consent)",
}


def missing_fields(case: Case) -> list[str]:
    """What the current referral form leaves unanswered; empty when there is no form yet."""
    if not case.fields:
        return []
    return [
        label for key, label in REQUIRED_FIELDS.items() if case.fields.get(key) in (None, "", [])
    ]


def case_context(app: App, case: Case, missing: list[Kind]) -> dict[str, Any]:
    """Everything the referrer-facing templates show about a case."""
    panel = app.config.panel(case.panel_id)
    if case.meeting is None:
        raise PipelineError("the case has no meeting yet", reference=case.reference)
    meeting = meeting_at(panel, case.meeting.astimezone(app.config.tz).date(), app.config.tz)
    first = upcoming(panel, app.config.tz, case.received_at, 1)
    late = bool(first) and first[0].day != meeting.day and case.received_at >= first[0].deadline
    return {
        "reference": case.reference,
        "panel_name": panel.name,
        "meeting": when(app, meeting.starts_at),
        "deadline": when(app, meeting.deadline),
        "late": late,
        "missed_meeting": when(app, first[0].starts_at) if late else "",
        "documents": [d for d in _document_lines(case) if not d["superseded"]],
        "refused": [d for d in _document_lines(case) if d["status"] == Status.REFUSED],
        "missing": [LABELS[k] for k in missing],
        "missing_fields": missing_fields(case),
        "no_consent": bool(case.fields) and case.fields.get("consent") is False,
        "complete": not missing,
        "section20": case.section20,
        "flags": list(case.flags),
        "administrator": app.config.people.administrator.name,
        "panel_address": app.config.mailbox.address,
    }


@dataclass(frozen=True)
class Correspondent:
    """Whom a reply goes to and which email it answers."""

    address: str
    message_id: str | None
    references: tuple[str, ...]

    @classmethod
    def of(cls, parsed: ParsedEmail) -> Correspondent:
        return cls(
            (parsed.reply_to or parsed.from_address).lower(),
            parsed.message_id,
            parsed.references,
        )


def reply_draft(
    who: Correspondent,
    purpose: str,
    template: str,
    context: dict[str, Any],
    case: Case | None,
    attachments: tuple[FileAttachment, ...] = (),
) -> Draft:
    """A reply to `who`, threaded under their email."""
    chain = (*who.references, who.message_id) if who.message_id else who.references
    return Draft(
        purpose=purpose,
        template=template,
        to=(who.address,),
        context=context,
        case=case,
        in_reply_to=who.message_id,
        references=tuple(chain),
        auto_submitted="auto-replied",
        attachments=attachments,
        trusted=(who.address,),
    )


def blank_form() -> FileAttachment:
    return FileAttachment(BLANK_FORM_NAME, DOCX, blank_form_bytes())
