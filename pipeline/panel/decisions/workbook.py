"""Sends the meeting's decisions workbook to the administrator with each version of the pack.

Due when the pack is (a few minutes after the slot notices; once released, if packs wait for
the administrator), keyed by the pack's input digest: a reissued pack reissues the workbook, so
it always lists the cases the pack does. Its email carries a signed token: only a reply
carrying it, from the administrator, is read as decisions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.jobs import Job, bind
from pipeline.mime.tokens import DECISIONS
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.wording import when
from pipeline.panel.release import pack_due
from pipeline.rules.chase import sheets_due
from pipeline.rules.decisions import REVIEW
from pipeline.rules.meetings import Meeting, meeting_at, meeting_days, meeting_stamp, upcoming
from pipeline.store.audit import audit
from pipeline.store.models import MeetingWorkbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Outbox purposes of workbook emails: a reply in their thread claims to bring decisions.
PURPOSE = "workbook:"


def workbook_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: each panel's next meetings' workbooks, once their pack is due."""
    # Imported in the functions that use them: intake loads this module (for PURPOSE) for
    # every email, and the outputs bring the Word, Excel and PDF libraries.
    from pipeline.outputs.pack import gather

    for panel in app.config.panels:
        for meeting in [
            *_begun_unsent(app, session, panel, now),
            *upcoming(panel, app.config.tz, now, 2),
        ]:
            due = pack_due(app, session, meeting)
            if due is None or now < due:
                continue
            digest = gather(app, session, panel.id, meeting.starts_at).digest()
            stamp = meeting_stamp(app.config.tz, meeting.starts_at)
            key = f"workbook:{panel.id}:{stamp}:{digest[:16]}"
            action = bind(send_workbook, panel.id, meeting.starts_at)
            # Still worth sending after the meeting began (the service was down across it):
            # the decisions are wanted until the sheets' due day.
            stale = sheets_due(meeting.starts_at, app.config.tz, app.config.decisions.sheet_days)
            yield Job(key, due, action, stale_after=stale)


def _begun_unsent(app: App, session: Session, panel: PanelConfig, now: datetime) -> list[Meeting]:
    """Meetings that began, whose sheets are not yet due, that have cases to decide and that
    no workbook went for (the service was down across the window): theirs is sent late, once
    (a workbook sent before the meeting is never remade from the agenda as decisions change
    it)."""
    days = app.config.decisions.sheet_days
    found = []
    for day in meeting_days(
        panel, (now - timedelta(days=days + 1)).astimezone(app.config.tz).date()
    ):
        meeting = meeting_at(panel, day, app.config.tz)
        if meeting.starts_at > now:
            break
        if now >= sheets_due(meeting.starts_at, app.config.tz, days):
            continue
        sent = select(MeetingWorkbook.id).where(
            MeetingWorkbook.panel_id == panel.id, MeetingWorkbook.meeting == meeting.starts_at
        )
        if session.scalar(sent) is not None:
            continue
        from pipeline.outputs.agenda import build_agenda

        agenda = build_agenda(app, session, panel.id, meeting.starts_at)
        if agenda.references or agenda.follow_ups:
            found.append(meeting)
    return found


def send_workbook(
    app: App, session: Session, panel_id: str, starts_at: datetime
) -> MeetingWorkbook:
    """Make the meeting's workbook, store it, and email it to the administrator only."""
    from pipeline.outputs.workbook import gather_workbook, workbook_name, workbook_xlsx

    now = app.clock.now()
    earlier = session.scalar(
        select(func.count(MeetingWorkbook.id)).where(
            MeetingWorkbook.panel_id == panel_id, MeetingWorkbook.meeting == starts_at
        )
    )
    row = MeetingWorkbook(
        panel_id=panel_id,
        meeting=starts_at,
        nonce=secrets.token_hex(8),
        references=[],
        stored_path="",
        created_at=now,
    )
    session.add(row)
    session.flush()
    facts = gather_workbook(app, session, panel_id, starts_at, row.id)
    data = workbook_xlsx(facts)
    _, row.stored_path = app.files.put("workbooks", data, ".xlsx")
    row.references = facts.references
    day = starts_at.astimezone(app.config.tz).date()
    days = app.config.decisions.sheet_days
    context = {
        "panel_name": facts.panel_name,
        "meeting": when(app.config.tz, starts_at),
        "token": DECISIONS.token_for(app.signer.key, row.nonce),
        "workbook_references": facts.references,
        "review_count": sum(1 for r in facts.rows if r.heard_as == REVIEW),
        "workbook_reissued": bool(earlier),
        "sheet_days": days,
        "sheets_due": f"{day + timedelta(days=days):%A} {(day + timedelta(days=days)).day} "
        f"{day + timedelta(days=days):%B %Y}",
        "administrator": app.config.people_of(panel_id).administrator.name,
        "panel_address": app.config.mailbox.address,
    }
    draft = staff_draft(
        app, f"{PURPOSE}{row.id}", "decisions_workbook", context, None, panel=panel_id
    )
    attachment = FileAttachment(workbook_name(facts), XLSX, data)
    item = enqueue(app, session, replace(draft, attachments=(attachment,)))
    row.outbox_id = item.id
    audit(
        session,
        now,
        None,
        "workbook-sent",
        workbook=row.id,
        panel=panel_id,
        meeting=starts_at.isoformat(),
        references=facts.references,
        outbox=item.id,
    )
    return row
