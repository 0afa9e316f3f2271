"""R6: at the deadline, a case still waiting moves to the next meeting and its referrer is told."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import PanelConfig
from pipeline.documents.kinds import Kind
from pipeline.jobs import Job, bind
from pipeline.outbox.queue import enqueue
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outbox.wording import when
from pipeline.panel.awaiting import (
    awaiting_cases,
    case_meeting,
    meeting_stamp,
    referrer_context,
    still_missing,
)
from pipeline.rules.meetings import Meeting, next_meeting, target_meeting
from pipeline.states import AWAITING, CaseState
from pipeline.store.audit import audit
from pipeline.store.models import Case

MORE_INFO_MISSING = "the further information asked for at screening"


def cutoff_applies(case: Case, missing: Sequence[Kind]) -> bool:
    """R6 and R7: still waiting at the deadline, and not a Section 20 emergency."""
    if case.section20 or case.state not in AWAITING:
        return False
    return case.state == CaseState.MORE_INFO or bool(missing)


def forward_meeting(app: App, panel: PanelConfig, meeting: Meeting, now: datetime) -> Meeting:
    """The next meeting; if the service was down past its deadline too, the first still open."""
    following = next_meeting(panel, app.config.tz, meeting)
    if following.deadline > now:
        return following
    return target_meeting(panel, app.config.tz, now)


def missing_text(case: Case, missing: Sequence[Kind]) -> str:
    """What was missing, in the words of the flag and the administrator's digest."""
    parts = [kind.value.replace("_", " ") for kind in missing]
    if case.state == CaseState.MORE_INFO:
        parts.append(MORE_INFO_MISSING)
    return ", ".join(parts)


def cutoff_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: one cut-off per waiting case, at its meeting's deadline."""
    for case in awaiting_cases(session):
        meeting = case_meeting(app, case)
        if meeting is None or case.section20:
            continue
        key = f"cutoff:case:{case.id}:{meeting_stamp(app, meeting.starts_at)}"
        yield Job(
            key,
            meeting.deadline,
            bind(defer_case, case.id, meeting.starts_at, key),
            case_id=case.id,
        )


def defer_case(
    app: App, session: Session, case_id: int, meeting_starts: datetime, key: str
) -> None:
    """Move the case to the next meeting, flag and audit it, and tell the referrer what is missing.

    The case is checked again first: a document that arrived just before the deadline wins.
    """
    case = session.get(Case, case_id)
    if case is None or case.meeting != meeting_starts:
        return
    old = case_meeting(app, case)
    missing = still_missing(case)
    if old is None or not cutoff_applies(case, missing):
        return
    new = forward_meeting(app, app.config.panel(case.panel_id), old, app.clock.now())
    what = missing_text(case, missing)
    case.meeting = new.starts_at
    case.flags = [*case.flags, f"deferred from {old.day.isoformat()}: missing {what}"]
    detail = {"from_meeting": meeting_stamp(app, old.starts_at), "missing": what}
    audit(
        session,
        app.clock.now(),
        case,
        "deferred",
        to_meeting=meeting_stamp(app, new.starts_at),
        **detail,
    )
    context = referrer_context(app, session, case, missing) | {
        "old_meeting": when(app, old.starts_at)
    }
    enqueue(app, session, referrer_draft(session, case, key, "deferred", context))
