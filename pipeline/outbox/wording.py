"""The wording of every email we send: dates as people read them, what each template is shown
about a case, and answers threaded under the email they answer, as outbox drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from pipeline.app import App
from pipeline.documents.kinds import KIND_ORDER, LABELS, Kind, Status
from pipeline.errors import PipelineError
from pipeline.mime.message import ParsedEmail
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft
from pipeline.rules.completeness import missing_fields
from pipeline.rules.meetings import deadline_passed, meeting_at, missed_meeting
from pipeline.store.facts import missing_for, section20_questioned
from pipeline.store.models import Case

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BLANK_FORM_NAME = "MASP-referral-form.docx"


def when(tz: tzinfo, instant: datetime) -> str:
    """A date-time as people in the panel's time zone read it: 'Tuesday 8 December 2026, 10:00'."""
    local = instant.astimezone(tz)
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


def staff_context(app: App, case: Case) -> dict[str, Any]:
    """What an alert to staff shows about a case, which may have no meeting (a held case)."""
    return {
        "reference": case.reference,
        "panel_name": app.config.panel(case.panel_id).name,
        "documents": [d for d in _document_lines(case) if not d["superseded"]],
        "missing": [LABELS[k] for k in missing_for(case)],
        "section20": case.section20,
        "section20_question": section20_questioned(case),
        "flags": list(case.flags),
        "panel_address": app.config.mailbox.address,
    }


def case_context(app: App, case: Case, missing: list[Kind]) -> dict[str, Any]:
    """Everything the referrer-facing templates show about a case."""
    panel = app.config.panel(case.panel_id)
    if case.meeting is None:
        raise PipelineError("the case has no meeting yet", reference=case.reference)
    meeting = meeting_at(panel, case.meeting.astimezone(app.config.tz).date(), app.config.tz)
    missed = missed_meeting(panel, app.config.tz, case.received_at, meeting, case.section20)
    return staff_context(app, case) | {
        "meeting": when(app.config.tz, meeting.starts_at),
        "deadline": when(app.config.tz, meeting.deadline),
        "deadline_passed": deadline_passed(meeting, app.clock.now()),
        "late": missed is not None,
        "missed_meeting": when(app.config.tz, missed.starts_at) if missed else "",
        "refused": [d for d in _document_lines(case) if d["status"] == Status.REFUSED],
        "missing": [LABELS[k] for k in missing],
        "missing_fields": missing_fields(case.fields or {}),
        "no_consent": bool(case.fields) and case.fields.get("consent") is False,
        "complete": not missing,
        "administrator": app.config.people_of(case.panel_id).administrator.name,
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


def addressees(who: Correspondent, case: Case | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(To, Cc) of an answer to `who`: about a case, its referrer, with the sender (when it is
    someone else) and whoever forwarded the referral in copy (R5); else the sender alone."""
    if case is None:
        return (who.address,), ()
    referrer = case.referrer_email.lower()
    copied = (who.address.lower(), (case.forwarded_by or "").lower())
    return (referrer,), tuple(dict.fromkeys(a for a in copied if a and a != referrer))


def reply_draft(
    who: Correspondent,
    purpose: str,
    template: str,
    context: dict[str, Any],
    case: Case | None,
    attachments: tuple[FileAttachment, ...] = (),
) -> Draft:
    """An answer to `who`'s email, threaded under it (addressed as `addressees` says)."""
    chain = (*who.references, who.message_id) if who.message_id else who.references
    to, cc = addressees(who, case)
    return Draft(
        purpose=purpose,
        template=template,
        to=to,
        cc=cc,
        context=context,
        case=case,
        in_reply_to=who.message_id,
        references=tuple(chain),
        auto_submitted="auto-replied",
        attachments=attachments,
        # The person we answer, and the case's own referrer and forwarder (SPEC §7).
        trusted=(*to, *cc),
    )


def blank_form() -> FileAttachment:
    # Imported when a form is attached: the form's layout and Word writing are not loaded by a
    # poll whose referrals all sent one.
    from pipeline.documents.form import blank_form_bytes

    return FileAttachment(BLANK_FORM_NAME, DOCX, blank_form_bytes())


def refused_reply(
    app: App, ledger_id: int, parsed: ParsedEmail, case: Case | None, why: str
) -> dict[str, Any]:
    """What the administrator is shown about a reply that was not acted on (a screening or
    attendance answer from the wrong person, with a bad token, for an unknown case)."""
    return {
        "reference": case.reference if case else "an unknown case",
        "why": why,
        "sender": parsed.from_address,
        "subject": parsed.subject,
        "ledger_id": ledger_id,
        "panel_address": app.config.mailbox.address,
    }
