"""The administrator's word on where a case goes (R17): to another meeting (of its panel or of
another), withdrawn, or closed, the referrer told each time.

Nothing else needs telling: every job keys on the case's meeting as it stands. Reminders and the
cut-off follow the new meeting (`panel.reminders`, `panel.cutoff`); the slot at the old meeting
is taken back here, with a cancellation, and the new meeting's slot jobs give a new one
(`panel.slots`); and each meeting's pack is reissued because its contents changed
(`panel.distribute` keys the pack on its inputs' digest).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.errors import PipelineError
from pipeline.intake.admin import (
    Changed,
    changed,
    keep_at_meeting,
    next_purpose,
)
from pipeline.intake.overrides import find
from pipeline.outbox import wording
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.panel import slots
from pipeline.panel.awaiting import referrer_context
from pipeline.panel.screening.queries import open_requests
from pipeline.panel.screening.requests import ask_screeners
from pipeline.rules.meetings import deadline_passed, meeting_at, meets_on
from pipeline.rules.routing import is_routing_note
from pipeline.states import CLOSABLE, IN_PLAY, WITHDRAWABLE, CaseState
from pipeline.store.audit import audit, checked_actor
from pipeline.store.facts import refresh_state
from pipeline.store.lifecycle import move
from pipeline.store.models import Case
from pipeline.text import clean_text

Ending = Literal["withdrawn", "closed"]
# The longest message the administrator may write to the referrer (characters).
MAX_MESSAGE = 5000
ENDINGS: dict[Ending, tuple[CaseState, tuple[CaseState, ...]]] = {
    "withdrawn": (CaseState.WITHDRAWN, WITHDRAWABLE),
    "closed": (CaseState.CLOSED, CLOSABLE),
}


def move_case(
    app: App,
    session: Session,
    reference: str,
    day: date,
    actor: str,
    panel_id: str | None = None,
) -> Changed:
    """List a case for another meeting that has not started, of its own panel or (`panel_id`)
    of another of the installation's panels; tell its referrer.

    A case moved to another panel keeps its reference (its prefix names the panel it came to
    first), takes the new panel's people (`people_of` reads `case.panel_id`), loses the flag
    asking which panel was meant, and an unanswered screening request to the old panel's
    Service Managers is withdrawn and asked again of the new panel's."""
    by = checked_actor(actor)
    case = find(session, reference)
    if case.state not in IN_PLAY or case.meeting is None:
        raise PipelineError(
            f"the case is {case.state}: only a case still to be heard can be moved",
            reference=case.reference,
        )
    old_panel = app.config.panel(case.panel_id)
    panel = _panel(app, case, panel_id)
    tz = app.config.tz
    if not meets_on(panel, day):
        raise PipelineError(
            f"the {panel.id} panel does not meet on {day.isoformat()}: `masp meetings` lists "
            "its meetings",
            reference=case.reference,
        )
    meeting = meeting_at(panel, day, tz)
    if meeting.starts_at <= app.clock.now():
        raise PipelineError(
            f"the meeting on {day.isoformat()} has started: choose one still to come",
            reference=case.reference,
        )
    if meeting.starts_at == case.meeting and panel.id == old_panel.id:
        raise PipelineError(
            f"the case is already listed for {day.isoformat()}", reference=case.reference
        )
    old = case.meeting
    # Taken back at the old meeting before the case leaves it (`withdraw` looks there).
    withdrawn, cancellation = _take_back_slot(app, session, case)
    case.meeting = meeting.starts_at
    if deadline_passed(meeting, app.clock.now()):
        keep_at_meeting(app, session, case, meeting.starts_at)
    said = [f"{case.reference} moved from {old.astimezone(tz).date()} to {day.isoformat()}"]
    if panel.id != old_panel.id:
        said.append(_change_panel(app, session, case, panel, by))
    audit(
        session,
        app.clock.now(),
        case,
        "moved",
        from_meeting=old.astimezone(tz).isoformat(),
        to_meeting=meeting.starts_at.astimezone(tz).isoformat(),
        from_panel=old_panel.id if panel.id != old_panel.id else None,
        to_panel=panel.id if panel.id != old_panel.id else None,
        by=by,
    )
    missing = refresh_state(case)
    context = referrer_context(app, session, case, missing) | {
        "old_meeting": wording.when(tz, old),
        "old_panel_name": old_panel.name if panel.id != old_panel.id else "",
        "withdrawn_slot": withdrawn,
    }
    purpose = next_purpose(session, case, "case_moved")
    draft = referrer_draft(session, case, purpose, "case_moved", context, cancellation)
    item = enqueue(app, session, draft)
    return changed(app, case, ["; ".join(said) + "; the referrer is told."], [item])


def _panel(app: App, case: Case, panel_id: str | None) -> PanelConfig:
    if panel_id is None:
        return app.config.panel(case.panel_id)
    wanted = panel_id.strip().lower()
    found = next((p for p in app.config.panels if p.id == wanted), None)
    if found is None:
        known = ", ".join(p.id for p in app.config.panels)
        raise PipelineError(
            f"there is no panel {panel_id!r}: choose one of {known}", reference=case.reference
        )
    return found


def _change_panel(app: App, session: Session, case: Case, panel: PanelConfig, by: str) -> str:
    """The case is now the other panel's: its routing question answered, and a screening still
    waiting on the old panel's managers asked of the new panel's instead (they alone may
    answer it: `screening.replies` refuses anyone else)."""
    case.panel_id = panel.id
    case.flags = [f for f in case.flags if not is_routing_note(str(f))]
    if case.state != CaseState.SCREENING:
        # A decision already made stands; a case not yet screened is asked of the new
        # panel's managers when it is ready, as any other.
        return f"it is now a case of the {panel.name}"
    withdrawn = open_requests(session, case)
    for request in withdrawn:
        request.used_at = app.clock.now()
    audit(
        session,
        app.clock.now(),
        case,
        "screening-withdrawn",
        requests=[r.id for r in withdrawn],
        by=by,
    )
    ask_screeners(app, session, case)
    return f"it is now a case of the {panel.name}, whose managers are asked to screen it"


def _take_back_slot(
    app: App, session: Session, case: Case
) -> tuple[str, tuple[FileAttachment, ...]]:
    """The case's slot at a meeting still to come, taken back with a cancellation (R10); a
    meeting already held keeps its slot, as the record of when the case was heard."""
    if case.meeting is None or case.meeting <= app.clock.now():
        return "", ()
    return slots.withdraw(app, session, case)


def default_message(app: App, session: Session, reference: str, ending: Ending) -> str:
    """The paragraph the referrer is sent when the case is withdrawn or closed, before the
    administrator edits it (`mail_templates/_withdrawn_message.txt`, `_closed_message.txt`)."""
    case = find(session, reference)
    return _default(app, case, ending)


def _default(app: App, case: Case, ending: Ending) -> str:
    template = app.templates.env.get_template(f"_{ending}_message.txt")
    context = {"reference": case.reference, "panel_name": app.config.panel(case.panel_id).name}
    return template.render(context).strip()


def withdraw_case(
    app: App, session: Session, reference: str, actor: str, message: str | None = None
) -> Changed:
    """Withdraw a case not yet heard; the referrer is sent `message` (default wording if None)."""
    return _end(app, session, reference, "withdrawn", actor, message)


def close_case(
    app: App, session: Session, reference: str, actor: str, message: str | None = None
) -> Changed:
    """Close a case; the referrer is sent `message` (default wording if None)."""
    return _end(app, session, reference, "closed", actor, message)


def _message(case: Case, message: str) -> str:
    # Typed by the administrator and sent on to the referrer: cleaned like any text that enters.
    text = clean_text(message).strip()
    if not text or len(text) > MAX_MESSAGE:
        raise PipelineError(
            f"the message to the referrer must have some words and at most {MAX_MESSAGE} "
            "characters",
            reference=case.reference,
        )
    return text


def _end(
    app: App, session: Session, reference: str, ending: Ending, actor: str, message: str | None
) -> Changed:
    by = checked_actor(actor)
    case = find(session, reference)
    state, allowed = ENDINGS[ending]
    if case.state not in allowed or case.meeting is None:
        raise PipelineError(
            f"the case is {case.state}: it cannot be {ending}"
            + (
                " (a held email is dismissed with `masp case dismiss`)"
                if case.state == CaseState.HELD
                else ""
            ),
            reference=case.reference,
        )
    default = _default(app, case, ending)
    text = default if message is None else _message(case, message)
    withdrawn, cancellation = _take_back_slot(app, session, case)
    context = wording.case_context(app, case, refresh_state(case)) | {
        "message": text,
        "withdrawn_slot": withdrawn,
    }
    heard = case.state == CaseState.DECIDED
    move(case, state)
    if not heard:
        # Off every agenda, reminder and cut-off: the case no longer waits for a meeting.
        case.meeting = None
    audit(session, app.clock.now(), case, ending, edited=text != default, by=by)
    template = f"case_{ending}"
    purpose = next_purpose(session, case, template)
    draft = referrer_draft(session, case, purpose, template, context, cancellation)
    item = enqueue(app, session, draft)
    return changed(app, case, [f"{case.reference} {ending}; the referrer is told."], [item])
