"""R12, R17: with `pack.release: manual`, a meeting's pack waits for the administrator's word
that the agenda is final. The release is recorded once; the pack job (`panel.distribute`) then
sends the pack at the next tick, and reissues it by itself if the agenda changes after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import PipelineError
from pipeline.jobs import Job, bind
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.wording import when
from pipeline.rules.meetings import Meeting, meeting_at, meeting_stamp, meets_on, upcoming
from pipeline.store.audit import audit, checked_actor
from pipeline.store.models import PackRelease

# After the slot notices (which are due at `slot_notice`), so the agenda has its slots.
AFTER_NOTICES = timedelta(minutes=10)


def pack_due(app: App, session: Session, meeting: Meeting) -> datetime | None:
    """When the meeting's pack (and the decisions workbook made with it) is due: a few minutes
    after the slot notices, and with `pack.release: manual` not before the administrator
    released it — None while they have not."""
    due = meeting.slot_notice + AFTER_NOTICES
    if app.config.pack.release == "auto":
        return due
    released = released_at(session, meeting.panel_id, meeting.starts_at)
    return None if released is None else max(due, released)


def released_at(session: Session, panel_id: str, starts_at: datetime) -> datetime | None:
    """When the administrator released the meeting's pack, or None if they have not."""
    return session.scalar(
        select(PackRelease.released_at).where(
            PackRelease.panel_id == panel_id, PackRelease.meeting == starts_at
        )
    )


def _meeting(app: App, panel_id: str, day: date) -> Meeting:
    panel = app.config.panel(panel_id)
    if not meets_on(panel, day):
        raise PipelineError(
            f"the {panel.id} panel does not meet on {day.isoformat()}: `masp meetings` lists "
            "its meetings"
        )
    meeting = meeting_at(panel, day, app.config.tz)
    if meeting.starts_at <= app.clock.now():
        raise PipelineError(f"the {panel.id} meeting on {day.isoformat()} has started")
    return meeting


def release_pack(app: App, session: Session, panel_id: str, day: date, actor: str) -> PackRelease:
    """Say that the agenda of the panel's meeting on `day` is final: its pack may go."""
    by = checked_actor(actor)
    if app.config.pack.release != "manual":
        raise PipelineError(
            "packs go by themselves (config key pack.release is auto): set it to manual to "
            "release each pack yourself"
        )
    meeting = _meeting(app, panel_id, day)
    if released_at(session, panel_id, meeting.starts_at) is not None:
        raise PipelineError(
            f"the {panel_id} pack for {day.isoformat()} is already released; a change to the "
            "agenda reissues it by itself"
        )
    release = PackRelease(
        panel_id=panel_id,
        meeting=meeting.starts_at,
        released_at=app.clock.now(),
        released_by=by,
    )
    session.add(release)
    session.flush()
    audit(
        session,
        app.clock.now(),
        None,
        "pack-released",
        panel=panel_id,
        meeting=meeting.starts_at.astimezone(app.config.tz).isoformat(),
        by=by,
    )
    return release


def waiting_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: with manual packs, the administrator is told once, when a meeting's pack
    would have gone, that it waits for them (else nobody would receive one)."""
    if app.config.pack.release != "manual":
        return
    for panel in app.config.panels:
        for meeting in upcoming(panel, app.config.tz, now, 2):
            if released_at(session, panel.id, meeting.starts_at) is not None:
                continue
            key = f"pack-waiting:{panel.id}:{meeting_stamp(app.config.tz, meeting.starts_at)}"
            due = meeting.slot_notice + AFTER_NOTICES
            action = bind(tell_waiting, panel.id, meeting.starts_at, key)
            yield Job(key, due, action, stale_after=meeting.starts_at)


def tell_waiting(app: App, session: Session, panel_id: str, starts_at: datetime, key: str) -> None:
    if released_at(session, panel_id, starts_at) is not None:
        return
    context = {
        "panel_name": app.config.panel(panel_id).name,
        "panel_id": panel_id,
        "meeting": when(app.config.tz, starts_at),
        "meeting_day": starts_at.astimezone(app.config.tz).date().isoformat(),
        "panel_address": app.config.mailbox.address,
    }
    enqueue(app, session, staff_draft(app, key, "pack_waiting", context, None))
