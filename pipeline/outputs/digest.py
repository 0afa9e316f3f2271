"""The administrator's one email after each meeting's cut-off: who is listed, deferred, awaited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.intake.answers import when
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.panel.awaiting import meeting_stamp
from pipeline.panel.jobs import Action, Job
from pipeline.panel.meetings import Meeting, upcoming
from pipeline.store.models import AuditEvent, Case, Slot

# How each state reads on the digest; a Section 20 case stays listed whatever is missing (R7).
STATUS = {
    "complete": "awaiting screening",
    "screening": "awaiting screening",
    "approved": "approved",
    "incomplete": "documents still missing",
    "more_info": "more information requested",
}
AWAITING_SCREENING = ("complete", "screening")


@dataclass(frozen=True)
class Line:
    """One case as the digest shows it: minimal identifiers only (R11), never a name."""

    reference: str
    initials: str
    age: str
    note: str


def initials(name: str | None) -> str:
    """'Robin Testcase' -> 'R.T.'; a name the form did not give reads as a dash."""
    letters = [word[0].upper() for word in (name or "").split() if word[:1].isalpha()]
    return "".join(f"{letter}." for letter in letters) or "—"


def age_on(dob_iso: str | None, day: date) -> str:
    """The child's age on the meeting day, as the agenda would print it."""
    if not dob_iso:
        return "age unknown"
    dob = date.fromisoformat(dob_iso)
    if dob > day:
        return "unborn"
    months = (day.year - dob.year) * 12 + day.month - dob.month - (day.day < dob.day)
    return f"age {months // 12}" if months >= 12 else f"age {months} months"


def line(case: Case, day: date, note: str) -> Line:
    fields = case.fields or {}
    return Line(
        case.reference,
        initials(fields.get("child_name")),
        age_on(fields.get("child_dob"), day),
        note,
    )


def _listed(session: Session, panel_id: str, meeting: Meeting) -> list[Case]:
    query = select(Case).where(Case.panel_id == panel_id, Case.meeting == meeting.starts_at)
    cases = session.scalars(query.order_by(Case.id))
    return [c for c in cases if c.state != "declined"]


def _deferred(app: App, session: Session, panel_id: str, meeting: Meeting) -> list[Line]:
    stamp = meeting_stamp(app, meeting.starts_at)
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "deferred", AuditEvent.at >= meeting.deadline)
        .order_by(AuditEvent.id)
    )
    mine = [e for e in events if e.case_id is not None and e.detail.get("from_meeting") == stamp]
    cases = [(session.get_one(Case, e.case_id), e.detail.get("missing", "")) for e in mine]
    return [line(c, meeting.day, f"missing {what}") for c, what in cases if c.panel_id == panel_id]


def _awaiting_attendance(session: Session, panel_id: str, meeting: Meeting) -> list[Line]:
    slots = session.scalars(
        select(Slot)
        .where(
            Slot.panel_id == panel_id, Slot.meeting == meeting.starts_at, Slot.attendance.is_(None)
        )
        .order_by(Slot.position)
    )
    return [line(session.get_one(Case, s.case_id), meeting.day, "no reply yet") for s in slots]


def digest_context(
    app: App, session: Session, panel: PanelConfig, meeting: Meeting
) -> dict[str, Any]:
    """Everything the digest lists for one meeting, read from the database as it is now."""
    listed = _listed(session, panel.id, meeting)
    agenda = [line(c, meeting.day, _note(c)) for c in listed]
    screening = [line(c, meeting.day, _note(c)) for c in listed if c.state in AWAITING_SCREENING]
    return {
        "panel_name": panel.name,
        "meeting": when(app, meeting.starts_at),
        "deadline": when(app, meeting.deadline),
        "on_agenda": [asdict(x) for x in agenda],
        "deferred_cases": [asdict(x) for x in _deferred(app, session, panel.id, meeting)],
        "awaiting_screening": [asdict(x) for x in screening],
        "awaiting_attendance": [
            asdict(x) for x in _awaiting_attendance(session, panel.id, meeting)
        ],
        "panel_address": app.config.mailbox.address,
    }


def _note(case: Case) -> str:
    status = STATUS.get(case.state, case.state.replace("_", " "))
    return f"Section 20 emergency; {status}" if case.section20 else status


def digest_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one digest per panel for the next meeting, at its deadline.

    Cut-offs are due at the same instant and run first: jobs due together run in key order,
    and "cutoff:" sorts before "digest:", so the digest sees every deferral.
    """
    for panel in app.config.panels:
        for meeting in upcoming(panel, app.config.tz, now, 1):
            key = f"digest:{panel.id}:{meeting_stamp(app, meeting.starts_at)}"
            yield Job(
                key, meeting.deadline, _send(panel.id, meeting, key), stale_after=meeting.starts_at
            )


def _send(panel_id: str, meeting: Meeting, key: str) -> Action:
    def action(app: App, session: Session) -> None:
        context = digest_context(app, session, app.config.panel(panel_id), meeting)
        enqueue(app, session, staff_draft(app, key, "cutoff_digest", context, None))

    return action
