"""The administrator's digests: after each meeting's cut-off, who is listed, deferred and
awaiting screening; shortly before the meeting, which referrers have not confirmed their slot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.jobs import Action, Job, bind
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.wording import when
from pipeline.panel.slots import slot_times
from pipeline.rules.attendance import attendance_check
from pipeline.rules.identifiers import age_on, initials
from pipeline.rules.meetings import Meeting, meeting_at, meeting_stamp, upcoming
from pipeline.states import AWAITING_SCREENING, CaseState
from pipeline.store.models import AuditEvent, Case, Slot

# How each state reads on the digest; a Section 20 case stays listed whatever is missing (R7).
STATUS: dict[str, str] = {
    CaseState.COMPLETE: "awaiting screening",
    CaseState.SCREENING: "awaiting screening",
    CaseState.APPROVED: "approved",
    CaseState.INCOMPLETE: "documents still missing",
    CaseState.MORE_INFO: "more information requested",
}


@dataclass(frozen=True)
class Line:
    """One case as the digest shows it: minimal identifiers only (R11), never a name."""

    reference: str
    initials: str
    age: str
    note: str


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
    return [c for c in cases if c.state != CaseState.DECLINED]


def _deferred(app: App, session: Session, panel_id: str, meeting: Meeting) -> list[Line]:
    stamp = meeting_stamp(app.config.tz, meeting.starts_at)
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "deferred", AuditEvent.at >= meeting.deadline)
        .order_by(AuditEvent.id)
    )
    mine = [e for e in events if e.case_id is not None and e.detail.get("from_meeting") == stamp]
    cases = [(session.get_one(Case, e.case_id), e.detail.get("missing", "")) for e in mine]
    return [line(c, meeting.day, f"missing {what}") for c, what in cases if c.panel_id == panel_id]


def digest_context(
    app: App, session: Session, panel: PanelConfig, meeting: Meeting
) -> dict[str, Any]:
    """Everything the digest lists for one meeting, read from the database as it is now."""
    listed = _listed(session, panel.id, meeting)
    agenda = [line(c, meeting.day, _note(c)) for c in listed]
    screening = [line(c, meeting.day, _note(c)) for c in listed if c.state in AWAITING_SCREENING]
    return {
        "panel_name": panel.name,
        "meeting": when(app.config.tz, meeting.starts_at),
        "deadline": when(app.config.tz, meeting.deadline),
        "on_agenda": [asdict(x) for x in agenda],
        "deferred_cases": [asdict(x) for x in _deferred(app, session, panel.id, meeting)],
        "awaiting_screening": [asdict(x) for x in screening],
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
            key = f"digest:{panel.id}:{meeting_stamp(app.config.tz, meeting.starts_at)}"
            yield Job(
                key, meeting.deadline, _send(panel.id, meeting, key), stale_after=meeting.starts_at
            )


def _send(panel_id: str, meeting: Meeting, key: str) -> Action:
    def action(app: App, session: Session) -> None:
        context = digest_context(app, session, app.config.panel(panel_id), meeting)
        enqueue(app, session, staff_draft(app, key, "cutoff_digest", context, None, panel=panel_id))

    return action


# --- Before the meeting: timeslot replies ----------------------------------------------------


def attendance_context(
    app: App, session: Session, panel: PanelConfig, meeting: Meeting
) -> dict[str, Any]:
    """Each slot at the meeting by its referrer's answer: none yet, no, maybe, or yes
    (counted)."""
    slots = session.scalars(
        select(Slot)
        .where(Slot.panel_id == panel.id, Slot.meeting == meeting.starts_at)
        .order_by(Slot.position)
    )
    answers: dict[str | None, list[Line]] = {None: [], "no": [], "maybe": [], "yes": []}
    for slot in slots:
        case = session.get_one(Case, slot.case_id)
        times = slot_times(app, slot)
        note = f"{times['slot_start']} to {times['slot_end']}, {case.referrer_email}"
        answers.setdefault(slot.attendance, []).append(line(case, meeting.day, note))
    return {
        "panel_name": panel.name,
        "meeting": when(app.config.tz, meeting.starts_at),
        "awaiting_attendance": [asdict(x) for x in answers[None]],
        "not_attending": [asdict(x) for x in answers["no"]],
        # A calendar's TENTATIVE answer: not a yes, so its referrer is worth chasing too.
        "maybe_attending": [asdict(x) for x in answers["maybe"]],
        "confirmed": len(answers["yes"]),
        "slotted": sum(len(rows) for rows in answers.values()),
        "panel_address": app.config.mailbox.address,
    }


def attendance_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one attendance check per panel for its next meeting."""
    for panel in app.config.panels:
        for meeting in upcoming(panel, app.config.tz, now, 1):
            key = f"attendance:{panel.id}:{meeting_stamp(app.config.tz, meeting.starts_at)}"
            due = attendance_check(meeting, app.config.tz)
            action = bind(send_attendance, panel.id, meeting.starts_at, key)
            yield Job(key, due, action, stale_after=meeting.starts_at)


def send_attendance(
    app: App, session: Session, panel_id: str, starts_at: datetime, key: str
) -> None:
    """Tell the administrator who has not confirmed; nothing when everyone has said yes."""
    panel = app.config.panel(panel_id)
    meeting = meeting_at(panel, starts_at.astimezone(app.config.tz).date(), app.config.tz)
    context = attendance_context(app, session, panel, meeting)
    if context["confirmed"] < context["slotted"]:
        enqueue(
            app, session, staff_draft(app, key, "attendance_digest", context, None, panel=panel_id)
        )
