"""R7: a case not heard at its meeting moves to the next one, and its referrer and the
administrator are told.

A case is heard when it had a timeslot and its meeting began, whatever the configuration says
of that meeting since. Any other case still in play on a meeting that began (still unscreened,
approved too late for a slot) was not heard, and a meeting cancelled (or given another time)
before it begins hears nobody, so its cases move as soon as that is in the configuration, not
once the date has passed. A meeting given a later (or earlier) time on the same day, still
ahead, keeps its cases: they follow it, and their referrers read the new time, not "not heard".
Their timeslots at the old time are withdrawn (the calendar entry's UID names the meeting, so
it cannot be moved in place) and offered again at the new time by the slot jobs at once, as the
slot notice for that day has gone. The rule (`rules.unheard.not_heard`) is a function of a
case's facts, the clock and the panel's configuration; the job (`unheard_jobs`) moves what it
finds, one meeting's cases at a time: each referrer gets their own email, and the administrator
one email per meeting listing them all, which reads better than a message per case when a whole
meeting is cancelled. Cases still waiting for documents at a meeting that is held are the cut-off's
(R6): it moves them at the deadline, before the meeting begins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import ConfigError
from pipeline.jobs import Job, bind
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outbox.wording import when
from pipeline.panel.awaiting import referrer_context
from pipeline.panel.digest import Line, line
from pipeline.panel.slots import withdraw
from pipeline.rules.meetings import clock_time, meeting_stamp
from pipeline.rules.unheard import (
    BECAUSE,
    Standing,
    Unheard,
    followed_to,
    moved_flag,
    next_step,
    not_heard,
)
from pipeline.states import IN_PLAY
from pipeline.store.audit import audit
from pipeline.store.facts import refresh_state
from pipeline.store.models import AuditEvent, Case, Slot

# --- Job source ---------------------------------------------------------------------------


def _in_play(session: Session) -> Iterator[tuple[Case, bool]]:
    """Every case still to be heard that is on a meeting, with whether it has a time there."""
    query = (
        select(Case, Slot.id)
        .outerjoin(Slot, and_(Slot.case_id == Case.id, Slot.meeting == Case.meeting))
        .where(Case.state.in_(IN_PLAY), Case.meeting.is_not(None))
        .order_by(Case.panel_id, Case.meeting, Case.id)
    )
    for case, slot_id in session.execute(query):
        yield case, slot_id is not None


def placement(session: Session, case_id: int) -> int:
    """The case's latest audit row: a new one comes with every move, so it tells one placement
    of the case on a meeting from an earlier placement on the same meeting."""
    query = select(func.max(AuditEvent.id)).where(AuditEvent.case_id == case_id)
    return session.scalar(query) or 0


def standing_of(case: Case, slotted: bool) -> Standing:
    assert case.meeting is not None
    return Standing(case.state, case.section20, case.meeting, slotted)


def unheard_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one job per meeting that has cases not heard, moving them all."""
    found = []
    for case, slotted in _in_play(session):
        panel = app.config.panel(case.panel_id)
        unheard = not_heard(standing_of(case, slotted), panel, app.config.tz, now)
        if unheard is not None:
            found.append((case, unheard))
    for (panel_id, meeting), group in groupby(found, key=lambda f: (f[0].panel_id, f[0].meeting)):
        items = list(group)
        assert meeting is not None
        ids = [case.id for case, _ in items]
        # The cases, each with its placement, are part of the key: one stranded there later is
        # moved by a job of its own, and so is a case put back on a meeting it once left (a
        # time changed and changed back), while a second tick finds the same job done.
        placed = [f"{case.id}@{placement(session, case.id)}" for case, _ in items]
        digest = hashlib.sha256(",".join(placed).encode()).hexdigest()[:12]
        key = f"unheard:{panel_id}:{meeting_stamp(app.config.tz, meeting)}:{digest}"
        due = min(unheard.due for _, unheard in items)
        yield Job(key, due, bind(carry_forward, panel_id, meeting, ids, key))


# --- The step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved(Line):
    """One moved case as the administrator's email lists it."""

    to: str


def carry_forward(
    app: App, session: Session, panel_id: str, meeting: datetime, case_ids: list[int], key: str
) -> None:
    """Move each case still not heard at `meeting` to its next meeting, telling its referrer;
    then tell the administrator, once, which cases moved where.

    Each case is checked again first: a cut-off or a decision since the job was listed wins.
    """
    panel = app.config.panel(panel_id)
    moved: list[Moved] = []
    found: list[Unheard] = []
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is None or case.meeting != meeting:
            continue
        standing = standing_of(case, has_slot(session, case))
        unheard = not_heard(standing, panel, app.config.tz, app.clock.now())
        if unheard is not None:
            moved.append(move_to_next_meeting(app, session, case, standing, unheard))
            found.append(unheard)
    if moved:
        same_day = followed_to(found)
        context = {
            "panel_name": panel.name,
            "old_meeting": when(app.config.tz, meeting),
            "retimed_to": clock_time(app.config.tz, same_day.starts_at) if same_day else "",
            "moved": [asdict(m) for m in moved],
            "panel_address": app.config.mailbox.address,
        }
        enqueue(
            app,
            session,
            staff_draft(app, key, "carried_forward_alert", context, None, panel=panel_id),
        )


def has_slot(session: Session, case: Case) -> bool:
    """Whether the case has a timeslot at the meeting it is on."""
    query = select(Slot.id).where(Slot.case_id == case.id, Slot.meeting == case.meeting)
    return session.scalar(query) is not None


def move_to_next_meeting(
    app: App, session: Session, case: Case, standing: Standing, unheard: Unheard
) -> Moved:
    """Put the case on its next meeting, flag and audit it, and tell the referrer."""
    if unheard.to is None:
        raise ConfigError(
            f"panels.{case.panel_id}.meetings",
            f"no meeting ahead to move {case.reference} to: check rrule, add and cancel",
        )
    # A time given at a meeting that will not hear the case is taken back, calendar and all.
    withdrawn, cancellation = withdraw(app, session, case)
    case.meeting = unheard.to.starts_at
    flag = moved_flag(standing, unheard, app.config.tz)
    if flag is not None:
        case.flags = [*case.flags, flag]
    stamps = {
        "from_meeting": meeting_stamp(app.config.tz, standing.meeting),
        "to_meeting": meeting_stamp(app.config.tz, unheard.to.starts_at),
    }
    audit(session, app.clock.now(), case, "carried-forward", **stamps, why=unheard.why.value)
    context = referrer_context(app, session, case, refresh_state(case)) | {
        "old_meeting": when(app.config.tz, standing.meeting),
        "meeting_day": when(app.config.tz, standing.meeting).rpartition(",")[0],
        "old_time": clock_time(app.config.tz, standing.meeting),
        "new_time": clock_time(app.config.tz, unheard.to.starts_at),
        "withdrawn_slot": withdrawn,
        "moved_because": unheard.why.name.lower(),
        "because": BECAUSE.get(unheard.why, unheard.why.value),
        "next_step": next_step(standing),
    }
    # The placement keeps a second move from the same meeting (the case put back on it since)
    # from finding the first email already queued.
    purpose = f"unheard:case:{case.id}:{stamps['from_meeting']}:{placement(session, case.id)}"
    draft = referrer_draft(session, case, purpose, "carried_forward", context, cancellation)
    enqueue(app, session, draft)
    found = line(case, unheard.to.day, unheard.why.value)
    return Moved(**asdict(found), to=when(app.config.tz, unheard.to.starts_at))
