"""Meetings (R11, R12, R17): each panel's coming and recent meetings; a meeting's agenda as it
stands (its cases in order with their slots: the same sections the Word agenda and the pack are
built from), its pack versions and who received which, its decisions, and — when packs wait for
the administrator (`pack.release: manual`) — "agenda final: release the pack"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.errors import ConfigError, NotFound
from pipeline.outputs.agenda import build_agenda, sections
from pipeline.panel.release import release_pack
from pipeline.rules.identifiers import initials
from pipeline.rules.meetings import Meeting, meeting_at, meets_on, upcoming
from pipeline.store.models import Case, Decision, Pack, PackRelease, PackSend
from pipeline.web.guard import Pages, Visit
from pipeline.web.mail import send_now
from pipeline.web.users import ADMINISTRATORS, READERS

pages = Pages()
# How many coming and past meetings each panel lists.
COMING = 4
RECENT = 4


@dataclass(frozen=True)
class MeetingLink:
    day: date
    starts_at: datetime
    cases: int
    packs: int


@dataclass(frozen=True)
class PanelMeetings:
    id: str
    name: str
    coming: tuple[MeetingLink, ...]
    recent: tuple[MeetingLink, ...]


@dataclass(frozen=True)
class PackVersion:
    id: int
    version: int
    pages: int
    created_at: datetime
    references: tuple[str, ...]
    # (recipient, sent at, the references in their copy)
    sends: tuple[tuple[str, datetime, str], ...]


@dataclass(frozen=True)
class CaseLine:
    reference: str
    initials: str
    state: str
    on_agenda: bool


@dataclass(frozen=True)
class DecisionLine:
    reference: str
    outcome: str
    lead: str
    review_date: date | None
    final: bool


@dataclass(frozen=True)
class Release:
    manual: bool
    released_at: datetime | None
    released_by: str | None
    # May the button still be pressed (manual, not yet released, the meeting not started).
    open: bool


def _count(session: Session, model: type[Case] | type[Pack], panel_id: str, at: datetime) -> int:
    column = model.meeting
    found = session.scalars(select(model.id).where(model.panel_id == panel_id, column == at))
    return len(found.all())


def _link(app: App, session: Session, panel_id: str, starts_at: datetime) -> MeetingLink:
    return MeetingLink(
        starts_at.astimezone(app.config.tz).date(),
        starts_at,
        _count(session, Case, panel_id, starts_at),
        _count(session, Pack, panel_id, starts_at),
    )


def panel_meetings(app: App, session: Session, panel: PanelConfig) -> PanelMeetings:
    now = app.clock.now()
    coming = upcoming(panel, app.config.tz, now, COMING)
    # Past meetings are the ones something happened at: a case listed, or a pack made.
    past: set[datetime] = set()
    for model in (Case, Pack):
        rows = session.scalars(
            select(model.meeting).where(model.panel_id == panel.id, model.meeting <= now)
        )
        past.update(m for m in rows if m is not None)
    recent = sorted(past, reverse=True)[:RECENT]
    return PanelMeetings(
        panel.id,
        panel.name,
        tuple(_link(app, session, panel.id, m.starts_at) for m in coming),
        tuple(_link(app, session, panel.id, at) for at in recent),
    )


def find_meeting(app: App, panel_id: str, day_text: str) -> Meeting:
    try:
        panel = app.config.panel(panel_id)
        day = date.fromisoformat(day_text)
    except (ConfigError, ValueError):
        raise NotFound(f"There is no meeting {panel_id} {day_text}.") from None
    if not meets_on(panel, day):
        raise NotFound(f"The {panel.name} does not meet on {day.isoformat()}.")
    return meeting_at(panel, day, app.config.tz)


def pack_versions(session: Session, meeting: Meeting) -> tuple[PackVersion, ...]:
    packs = session.scalars(
        select(Pack)
        .where(Pack.panel_id == meeting.panel_id, Pack.meeting == meeting.starts_at)
        .order_by(Pack.version.desc())
    )
    found = []
    for pack in packs:
        sends = session.scalars(
            select(PackSend).where(PackSend.pack_id == pack.id).order_by(PackSend.recipient)
        )
        found.append(
            PackVersion(
                pack.id,
                pack.version,
                pack.pages,
                pack.created_at,
                tuple(str(r) for r in pack.references),
                tuple(
                    (s.recipient, s.sent_at, ", ".join(str(r) for r in s.references)) for s in sends
                ),
            )
        )
    return tuple(found)


def cases_at(session: Session, meeting: Meeting, listed: set[str]) -> tuple[CaseLine, ...]:
    """Every case the meeting holds, whether or not the agenda lists it yet (screening)."""
    cases = session.scalars(
        select(Case)
        .where(Case.panel_id == meeting.panel_id, Case.meeting == meeting.starts_at)
        .order_by(Case.received_at, Case.id)
    )
    return tuple(
        CaseLine(
            c.reference,
            initials((c.fields or {}).get("child_name")),
            c.state.value,
            c.reference in listed,
        )
        for c in cases
    )


def decisions(session: Session, meeting: Meeting) -> tuple[DecisionLine, ...]:
    rows = session.execute(
        select(Decision, Case.reference)
        .join(Case, Case.id == Decision.case_id)
        .where(Decision.panel_id == meeting.panel_id, Decision.meeting == meeting.starts_at)
        .order_by(Case.reference)
    )
    return tuple(
        DecisionLine(
            reference,
            d.outcome,
            ", ".join(x for x in (d.lead_name, d.lead_agency) if x) or "—",
            d.review_date,
            d.final,
        )
        for d, reference in rows
    )


def release_state(app: App, session: Session, meeting: Meeting) -> Release:
    manual = app.config.pack.release == "manual"
    row = session.scalar(
        select(PackRelease).where(
            PackRelease.panel_id == meeting.panel_id, PackRelease.meeting == meeting.starts_at
        )
    )
    started = meeting.starts_at <= app.clock.now()
    return Release(
        manual,
        row.released_at if row else None,
        row.released_by if row else None,
        manual and row is None and not started,
    )


@pages.get("/meetings", READERS, nav="Meetings")
def meetings_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        panels = [panel_meetings(visit.app, session, p) for p in visit.app.config.panels]
    return visit.render("meetings.html", panels=panels)


@pages.get("/meetings/{panel_id}/{day}", READERS)
def meeting_page(visit: Visit) -> Response:
    params = visit.request.path_params
    meeting = find_meeting(visit.app, params["panel_id"], params["day"])
    with visit.app.store.reading() as session:
        agenda = build_agenda(visit.app, session, meeting.panel_id, meeting.starts_at)
        packs = pack_versions(session, meeting)
        held = cases_at(session, meeting, set(agenda.references))
        release = release_state(visit.app, session, meeting)
        decided = decisions(session, meeting)
    return visit.render(
        "meeting.html",
        meeting=meeting,
        day=meeting.starts_at.astimezone(visit.app.config.tz).date(),
        agenda=agenda,
        sections=sections(agenda),
        packs=packs,
        cases=held,
        release=release,
        decisions=decided,
        now=visit.now,
    )


@pages.post("/meetings/{panel_id}/{day}/release", ADMINISTRATORS)
def release(visit: Visit) -> Response:
    params = visit.request.path_params
    meeting = find_meeting(visit.app, params["panel_id"], params["day"])
    day = meeting.starts_at.astimezone(visit.app.config.tz).date()
    path = f"/meetings/{meeting.panel_id}/{day.isoformat()}"
    with visit.exclusive():
        with visit.app.store.session() as session:
            release_pack(visit.app, session, meeting.panel_id, day, visit.actor)
        sent = send_now(visit.app)
    return visit.redirect(
        path,
        "The agenda is final and the pack is released: it goes to the members when it is due "
        "(at once if that time has passed, on the service's next pass)." + sent,
    )
