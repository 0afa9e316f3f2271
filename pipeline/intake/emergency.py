"""R7: Section 20 emergencies. They go to the next meeting whatever its deadline, the
administrator and chair are alerted on receipt, and an email that speaks of Section 20 when
its referral form does not is put to the administrator to confirm.

Why the email's words alone do not make an emergency: the form is the referral's own
statement, and an email's subject or body is free text ("not a Section 20", a postcode, a
stranger's claim). Ignoring it could cost a child in care a month; believing it would exempt
a case from the deadline and alert the chair on a guess. So the case is flagged, its referrer
is told the administrator will confirm, and the administrator is asked to (`masp case
section20 REF`, or `--not`); until then the ordinary rules apply.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.outbox.queue import enqueue, staff_draft
from pipeline.outbox.referrer_mail import referrer_draft
from pipeline.outbox.wording import case_context, when
from pipeline.panel import slots
from pipeline.rules.meetings import meeting_at, target_meeting
from pipeline.store.audit import audit
from pipeline.store.facts import SECTION20_QUESTION, refresh_state, section20_questioned
from pipeline.store.models import Case

# "Section 20", "Section20", "S20", "S 20", "s.20" — but not a postcode such as "S20 1AB"
# (Sheffield), "S201" or "section 200".
_SECTION20 = re.compile(r"\b(?:section\s*20|s\.?\s?20)\b(?!\s*\d[a-z]{2}\b)", re.IGNORECASE)


def mentions_section20(text: str) -> bool:
    """Whether free text speaks of Section 20."""
    return _SECTION20.search(text) is not None


def email_says_section20(parsed: ParsedEmail) -> bool:
    return mentions_section20(f"{parsed.subject}\n{parsed.body_text}")


def flag_question(case: Case) -> bool:
    """Flag a case whose email says Section 20 when its form does not; True if newly flagged."""
    if case.section20 or section20_questioned(case):
        return False
    note = (
        f"{SECTION20_QUESTION}: the email mentions it, the referral form does not "
        f"(masp case section20 {case.reference}, or --not)"
    )
    case.flags = [*case.flags, note]
    return True


def clear_question(case: Case) -> None:
    case.flags = [flag for flag in case.flags if not flag.startswith(SECTION20_QUESTION)]


def ask_administrator(app: App, session: Session, case: Case) -> None:
    """Ask the administrator, once per case, whether a flagged case is a Section 20 emergency."""
    context = case_context(app, case, refresh_state(case))
    draft = staff_draft(app, f"s20-question:{case.id}", "section20_question", context, case)
    enqueue(app, session, draft)


def bring_forward(app: App, session: Session, case: Case, at: datetime) -> None:
    """R7: a Section 20 case is listed for the next meeting that has not started at `at`, or
    now if that is later (an email filed late, after an outage or from quarantine, must not
    be listed for a meeting already held).

    A held or closed case has no meeting and keeps none. A timeslot the case held at its old
    meeting is withdrawn, and its referrer sent the calendar cancellation.
    """
    clear_question(case)
    if case.meeting is None:
        return
    panel = app.config.panel(case.panel_id)
    meeting = target_meeting(panel, app.config.tz, max(at, app.clock.now()), section20=True)
    if case.meeting == meeting.starts_at:
        return
    old = case.meeting
    withdrawn, cancellation = slots.withdraw(app, session, case)
    audit(
        session,
        app.clock.now(),
        case,
        "section20-next-meeting",
        from_meeting=old.isoformat(),
        to_meeting=meeting.starts_at.isoformat(),
    )
    case.meeting = meeting.starts_at
    if withdrawn:
        context = case_context(app, case, refresh_state(case)) | {
            "old_meeting": when(app.config.tz, old),
            "withdrawn_slot": withdrawn,
        }
        purpose = f"s20-moved:{case.id}:{old.isoformat()}"
        enqueue(
            app,
            session,
            referrer_draft(session, case, purpose, "section20_moved", context, cancellation),
        )


def alert(app: App, session: Session, case: Case, at: datetime) -> None:
    """R7: the administrator and chair hear of an emergency admission as soon as it arrives,
    with the meeting it will be presented at and whether it beat that meeting's deadline."""
    if case.meeting is None:
        return
    context = case_context(app, case, refresh_state(case))
    day = case.meeting.astimezone(app.config.tz).date()
    deadline = meeting_at(app.config.panel(case.panel_id), day, app.config.tz).deadline
    context["after_deadline"] = at >= deadline
    context["received"] = when(app.config.tz, at)
    enqueue(
        app,
        session,
        staff_draft(app, f"s20:{case.id}", "section20_alert", context, case, chair_too=True),
    )
