"""R13: the decision sheet per case, as .docx (docxtpl) and PDF (LibreOffice).

The sheet is the referral summary updated with the panel's decision: it goes on the child's
file, to the referrer who wrote the referral and the Lead Professional, so unlike the agenda it
names the child (their name and date of birth as the form gave them). Everything else about
the sending (subject, body, file names) carries the case reference only.

The template (`templates/decision_sheet.docx`, made by scripts/make_decision_sheet.py) is
filled with Jinja autoescape ON: docxtpl's default (off) silently loses a value holding `&` or
`<` and lets a value write Word XML of its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, astuple, dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from docxtpl import DocxTemplate

from pipeline.config import Config
from pipeline.documents.form import REQUEST_TYPES
from pipeline.documents.kinds import Kind
from pipeline.documents.parsing import stored_value
from pipeline.outbox.wording import when
from pipeline.outputs.agenda import APP_PROPERTIES, marking_line
from pipeline.outputs.convert import docx_batch_to_pdf
from pipeline.states import NEEDS_LEAD, Outcome
from pipeline.store.models import Case, Decision
from pipeline.text import clean_text

TEMPLATE = "outputs/templates/decision_sheet.docx"
NOT_GIVEN = "not given on the form"
NO_ACTIONS = "No actions were agreed."


@dataclass(frozen=True)
class ActionLine:
    text: str
    owner: str
    agency: str
    due: str


@dataclass(frozen=True)
class SheetFacts:
    """Everything the sheet says; its digest decides whether a new version is due."""

    reference: str
    panel_name: str
    marking: str
    child_name: str
    child_dob: str
    referrer: str
    referrer_agency: str
    request: str
    question: str
    meeting: str
    outcome: str
    actions: tuple[ActionLine, ...]
    lead_name: str
    lead_agency: str
    lead_email: str
    review: str
    # "recommended to the resource panel (LARP): …", or "" when there is no recommendation.
    larp: str
    notes: str

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def _form_value(case: Case, name: str) -> str | None:
    """A field of the current referral form as it was read, if it said anything."""
    for document in case.documents:
        if document.kind == Kind.REFERRAL_FORM and not document.superseded:
            value = stored_value(document.fields or {}, name)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _dob(fields: dict[str, Any]) -> str:
    given = fields.get("child_dob")
    if not isinstance(given, str) or not given:
        return NOT_GIVEN
    try:
        return _day(date.fromisoformat(given))
    except ValueError:
        return given


def _request(fields: dict[str, Any]) -> str:
    keys = [k for k in fields.get("request_types") or () if isinstance(k, str)]
    return "; ".join(REQUEST_TYPES.get(k, k) for k in keys) or NOT_GIVEN


def review_text(decision: Decision, follow_up_weeks: int) -> str:
    """When the case comes back: a review date, or the 12-week question to the Lead (R14)."""
    if decision.final:
        return "This was the final review: the case is closed."
    if decision.no_further_review:
        return (
            "No further panel review: the Lead Professional will be asked for outcomes in "
            f"{follow_up_weeks} weeks."
        )
    if decision.review_date is not None:
        day = _day(decision.review_date)
        return f"The panel will review this case at its first meeting on or after {day}."
    return "No review date was set."


def larp_text(decision: Decision, contact: bool) -> str:
    """What the sheet says of a LARP recommendation; `contact`: a LARP contact is configured,
    so the papers go with the sheet (else the administrator is asked to send them)."""
    if not decision.larp:
        return ""
    note = (decision.larp_note or "").strip() or "no note given"
    sent = (
        "the papers have been sent to it"
        if contact
        else "the administrator is sending it the papers"
    )
    return f"Recommended to the resource panel (LARP): {note}; {sent}."


def _outcome(value: str) -> str:
    try:
        return Outcome(value).value
    except ValueError:
        return value


def sheet_facts(
    config: Config, case: Case, decision: Decision, tz: ZoneInfo | None = None
) -> SheetFacts:
    """What the sheet says, read from the case, its referral form and its decision."""
    fields = case.fields or {}
    panel = config.panel(decision.panel_id)
    actions = tuple(
        ActionLine(a.text, a.owner, a.agency or "", _day(a.due)) for a in decision.actions
    )
    needs_lead = decision.outcome in {o.value for o in NEEDS_LEAD}
    facts = SheetFacts(
        reference=case.reference,
        panel_name=panel.name,
        marking=config.pack.protective_marking,
        child_name=str(fields.get("child_name") or NOT_GIVEN),
        child_dob=_dob(fields),
        referrer=case.referrer_name or str(fields.get("referrer_name") or case.referrer_email),
        referrer_agency=_form_value(case, "referrer_agency") or NOT_GIVEN,
        request=_request(fields),
        question=_form_value(case, "panel_question") or NOT_GIVEN,
        meeting=when(tz or config.tz, decision.meeting),
        outcome=_outcome(decision.outcome),
        actions=actions or (ActionLine(NO_ACTIONS, "", "", ""),),
        lead_name=decision.lead_name or ("not named" if needs_lead else "none"),
        lead_agency=decision.lead_agency or "",
        lead_email=decision.lead_email or "",
        review=review_text(decision, config.decisions.follow_up_weeks),
        larp=larp_text(decision, config.people_of(decision.panel_id).larp is not None),
        notes=(decision.notes or "").strip() or "None.",
    )
    return _cleaned(facts)


def _cleaned(facts: SheetFacts) -> SheetFacts:
    """Every value without the characters XML refuses (and docxtpl turns into page breaks)."""
    values = {k: clean_text(v) for k, v in asdict(facts).items() if isinstance(v, str)}
    actions = tuple(ActionLine(*(clean_text(v) for v in astuple(a))) for a in facts.actions)
    return SheetFacts(**values, actions=actions)


def template_bytes() -> bytes:
    """The shipped template (package data)."""
    return (resources.files("pipeline") / TEMPLATE).read_bytes()


def _environment() -> jinja2.Environment:
    # Autoescape on: `&`, `<`, `>` and quotes in a value become entities, so a value is text
    # and never Word XML. Strict: a tag the context lacks is an error, not a blank.
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def context(facts: SheetFacts, version: int) -> dict[str, Any]:
    return asdict(facts) | {
        "version": version,
        "marking_line": marking_line(facts.marking),
        "closing": "Please place this sheet on the child's file.",
    }


def sheet_docx(facts: SheetFacts, version: int, made_at: datetime, template: bytes) -> bytes:
    """The sheet as a Word document (`template` is `template_bytes()`, read once by callers
    that make many)."""
    document = DocxTemplate(io.BytesIO(template))
    document.render(context(facts, version), jinja_env=_environment(), autoescape=True)
    properties = document.core_properties
    properties.title = f"{facts.reference} decision sheet, version {version}"
    properties.subject = f"{facts.panel_name} decision sheet"
    properties.author = properties.last_modified_by = facts.panel_name
    properties.category = facts.marking
    properties.created = properties.modified = made_at.astimezone(UTC)
    for part in document.docx.part.package.iter_parts():
        if part.partname == "/docProps/app.xml":
            part._blob = APP_PROPERTIES
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def sheets_to_pdf(
    config: Config, documents: Sequence[bytes], stop: threading.Event | None = None
) -> list[bytes | None]:
    """Decision sheets as PDF, in one LibreOffice call: each PDF, or None where none was made.
    Raises ConversionError when LibreOffice could not be run or overran, Stopped (LibreOffice
    killed) when `stop` is set."""
    return docx_batch_to_pdf(config, documents, "decision-sheet", stop)


def file_name(reference: str, suffix: str) -> str:
    """What the attachment is called: the reference only, never the child's name."""
    return f"{reference}-decision-sheet.{suffix}"
