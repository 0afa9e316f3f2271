"""R10 Timeslots: giving the cases listed for a meeting their times, and telling them.

Who is listed, in what order and at what time is decided in `rules.slots`, a function of the
cases' facts and the panel's timetable, unit-tested without a database. The jobs act on it: at
the meeting's slot-notice moment (at least `slot_notice_days` before) every listed case gets a
slot and its referrer an email with an .ics invitation; a case approved later gets the next
free slot and its own email, until the meeting starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Action, Job
from pipeline.outbox import wording
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.panel.revisions import SENT, WITHDRAWN, next_sequence
from pipeline.rules.identifiers import age_on, initials
from pipeline.rules.meetings import Meeting, upcoming
from pipeline.rules.slots import (
    FOLLOW_UP_FLAG,
    Candidate,
    is_listed,
    local_times,
    next_slots,
    running_order,
)
from pipeline.store.audit import audit
from pipeline.store.models import Case, JobRun, OutboxItem, Slot

# iMIP (RFC 6047): the part's method must be the calendar's, so mail programs offer
# Accept / Decline for an invitation and remove the entry for a cancellation.
CALENDAR = "text/calendar; charset=utf-8; method={method}"


# --- Acting -------------------------------------------------------------------------------


def candidate(case: Case) -> Candidate:
    """The case's facts as the running order reads them."""
    return Candidate(case.id, case.received_at, case.section20, FOLLOW_UP_FLAG in case.flags)


def unslotted_cases(app: App, session: Session, panel_id: str, meeting: datetime) -> list[Case]:
    """Listed cases for this meeting that have no slot yet, in running order."""
    slotted = select(Slot.case_id).where(Slot.meeting == meeting)
    query = select(Case).where(
        Case.panel_id == panel_id, Case.meeting == meeting, Case.id.not_in(slotted)
    )
    unscreened = app.config.screening.unscreened
    listed = {
        c.id: c for c in session.scalars(query) if is_listed(c.state, c.section20, unscreened)
    }
    return [listed[c.case_id] for c in running_order(candidate(c) for c in listed.values())]


def _summary(app: App, case: Case, slot: Slot) -> str:
    """The calendar entry's title: the panel and minimal identifiers, never a name (SPEC §7)."""
    fields = case.fields or {}
    day = slot.meeting.astimezone(app.config.tz).date()
    child = f"{initials(fields.get('child_name'))}, {age_on(fields.get('child_dob'), day)}"
    return f"{app.config.panel(case.panel_id).name}: {case.reference} ({child})"


def calendar_uid(app: App, case: Case, meeting: datetime) -> str:
    """The UID of the case's calendar entry for a meeting: every revision of it shares it."""
    # Imported here: intake loads this module for every email; the outputs (and the Word,
    # Excel and PDF libraries they bring) are needed only when a timeslot is offered.
    from pipeline.outputs.invitation import slot_uid

    domain = app.config.mailbox.address.rpartition("@")[2]
    return slot_uid(app.signer.key, domain, case.reference, meeting)


def _invitation(
    app: App, session: Session, case: Case, slot: Slot, cancelled: bool = False
) -> tuple[FileAttachment, dict[str, object]]:
    """The calendar file for a revision of the slot's entry, and what the audit records of it
    (its UID and SEQUENCE: the next revision is numbered from them)."""
    from pipeline.outputs.invitation import Invitation, to_ics

    mailbox = app.config.mailbox
    # Stable per case and meeting, and signed: a resent invitation or a cancellation
    # updates the same calendar entry, and a calendar program's answer proves its slot.
    uid = calendar_uid(app, case, slot.meeting)
    # A calendar applies a revision only if its sequence is higher than the one it holds.
    sequence = next_sequence(session, case.id, uid)
    invite = Invitation(
        uid=uid,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        summary=_summary(app, case, slot),
        description=(
            f"Panel timeslot for {case.reference}. Accept or decline this invitation, "
            "or reply YES or NO to the email it came with."
        ),
        location=app.config.panel(case.panel_id).meetings.place,
        organizer=mailbox.address,
        organizer_name=mailbox.display_name,
        attendee=case.referrer_email,
        stamp=app.clock.now(),
        sequence=sequence,
    )
    method = "CANCEL" if cancelled else "REQUEST"
    attachment = FileAttachment(
        f"{case.reference}-timeslot.ics", CALENDAR.format(method=method), to_ics(invite, cancelled)
    )
    return attachment, {
        "slot": slot.id,
        "position": slot.position,
        "uid": uid,
        "sequence": sequence,
    }


def slot_times(app: App, slot: Slot) -> dict[str, str]:
    """The slot's start and end in local time, for templates."""
    return local_times(app.config.tz, slot.starts_at, slot.ends_at)


def withdraw(app: App, session: Session, case: Case) -> tuple[str, tuple[FileAttachment, ...]]:
    """Take back the case's slot at its meeting, if it has one (it is no longer to be heard).

    Returns the withdrawn times for the referrer's email ("" if there was no slot) and the
    cancellation that removes the invitation they were sent from their calendar. The slot's time
    is left free rather than closing up the others, whose times the referrers already have.
    """
    slot = session.scalar(select(Slot).where(Slot.case_id == case.id, Slot.meeting == case.meeting))
    if slot is None:
        return "", ()
    times = slot_times(app, slot)
    cancel, revision = _invitation(app, session, case, slot, cancelled=True)
    audit(session, app.clock.now(), case, WITHDRAWN, **revision)
    session.delete(slot)
    session.flush()
    return f"{times['slot_start']} to {times['slot_end']}", (cancel,)


def notify(app: App, session: Session, case: Case, slot: Slot) -> None:
    """Email the referrer their slot, with the invitation, asking them to confirm."""
    place = app.config.panel(case.panel_id).meetings.place
    context = wording.case_context(app, case, []) | slot_times(app, slot) | {"place": place}
    attachment, revision = _invitation(app, session, case, slot)
    # Numbered per case, not by slot id: SQLite gives a withdrawn slot's id to the next slot,
    # and an email queued under a purpose already used would silently never be sent.
    offers = session.scalar(
        select(func.count(OutboxItem.id)).where(
            OutboxItem.case_id == case.id, OutboxItem.template == "timeslot"
        )
    )
    purpose = f"timeslot:case:{case.id}:{(offers or 0) + 1}"
    draft = referrer_draft(session, case, purpose, "timeslot", context, (attachment,))
    enqueue(app, session, draft)
    slot.notified_at = app.clock.now()
    audit(session, app.clock.now(), case, SENT, **revision)


def assign(app: App, session: Session, panel_id: str, meeting: Meeting, cases: list[Case]) -> None:
    """Give each case the next free slot at this meeting, in the order given, and tell them."""
    panel = app.config.panel(panel_id)
    taken = session.scalar(
        select(func.max(Slot.position)).where(
            Slot.panel_id == panel_id, Slot.meeting == meeting.starts_at
        )
    )
    first = 0 if taken is None else taken + 1
    times = next_slots(panel, meeting, app.config.tz, first, len(cases))
    for position, (case, (starts_at, ends_at)) in enumerate(zip(cases, times, strict=True), first):
        slot = Slot(
            case_id=case.id,
            panel_id=panel_id,
            meeting=meeting.starts_at,
            position=position,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        session.add(slot)
        session.flush()
        notify(app, session, case, slot)


# --- Job source ---------------------------------------------------------------------------


def meeting_key(panel_id: str, meeting: Meeting) -> str:
    return f"slots:{panel_id}:{meeting.starts_at.isoformat()}"


def _assign_all(panel_id: str, meeting: Meeting) -> Action:
    def action(app: App, session: Session) -> None:
        assign(
            app,
            session,
            panel_id,
            meeting,
            unslotted_cases(app, session, panel_id, meeting.starts_at),
        )

    return action


def _assign_one(panel_id: str, meeting: Meeting, case_id: int) -> Action:
    def action(app: App, session: Session) -> None:
        waiting = unslotted_cases(app, session, panel_id, meeting.starts_at)
        assign(app, session, panel_id, meeting, [c for c in waiting if c.id == case_id])

    return action


def _late_jobs(
    app: App, session: Session, panel_id: str, meeting: Meeting, now: datetime
) -> Iterator[Job]:
    for case in unslotted_cases(app, session, panel_id, meeting.starts_at):
        # A slot taken back and given again is a new job: the key names the revision it sends.
        sequence = next_sequence(session, case.id, calendar_uid(app, case, meeting.starts_at))
        yield Job(
            f"slot:case:{case.id}:{meeting.starts_at.isoformat()}:{sequence}",
            now,
            _assign_one(panel_id, meeting, case.id),
            case.id,
            stale_after=meeting.starts_at,
        )


def slot_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """Each meeting's slot notice; after it has gone, one job per case listed since."""
    for panel in app.config.panels:
        for meeting in upcoming(panel, app.config.tz, now, 2):
            key = meeting_key(panel.id, meeting)
            yield Job(
                key,
                meeting.slot_notice,
                _assign_all(panel.id, meeting),
                stale_after=meeting.starts_at,
            )
            # Only once the notice has gone out: before that, everyone is in the one mailing.
            if session.scalar(select(JobRun.id).where(JobRun.key == key)) is not None:
                yield from _late_jobs(app, session, panel.id, meeting, now)
