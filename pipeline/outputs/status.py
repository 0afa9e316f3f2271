"""`masp status`: where every case stands, as data (JSON) and as a table for people."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session, selectinload

from pipeline.config import Config
from pipeline.errors import NotFound
from pipeline.rules.chase import sheets_due
from pipeline.rules.followup import follow_up_due
from pipeline.rules.identifiers import without_name
from pipeline.rules.meetings import meeting_at, review_meeting
from pipeline.states import CaseState, MessageState, OutboxState
from pipeline.store.facts import missing_for
from pipeline.store.models import Case, Decision, DecisionSheet, FollowUp, Message, OutboxItem, Slot
from pipeline.store.reviews import latest_decision

FIELD_KEYS = (
    "child_name",
    "child_dob",
    "referrer_name",
    "referrer_email",
    "request_types",
    "consent",
    "genogram_required",
    "section20",
)


# Parse results stored with each document that are not fields, and fields too long to show.
_NOT_FIELDS = frozenset({"sniffed", "summary", "missing", "notes"})
_NOT_SHOWN = frozenset({"entries"})


def _document(d: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        # What `masp case reclassify` and `masp case accept` are given to name the document.
        "id": d.id,
        "kind": d.kind,
        "filename": d.filename,
        "status": d.status,
        "version": d.version,
        "superseded": d.superseded,
        "note": d.classification,
    }
    if d.reason:
        item["reason"] = d.reason
    return item


def _document_detail(d: Any) -> dict[str, Any]:
    """A document with what was read from it: fields found, required ones missing, notes."""
    stored = dict(d.fields or {})
    item = _document(d)
    item["fields"] = {
        key: value
        for key, value in stored.items()
        if key not in _NOT_FIELDS and key not in _NOT_SHOWN and isinstance(value, dict)
    }
    if "summary" in stored:
        item["summary"] = stored["summary"]
    item["missing"] = list(stored.get("missing") or [])
    item["notes"] = list(stored.get("notes") or [])
    return item


def summary(
    config: Config,
    case: Case,
    today: date | None = None,
    decided: set[int] | None = None,
    slots: Mapping[int, Slot] | None = None,
) -> dict[str, Any]:
    """One case as SPEC §5 spells it, plus the deadline and flags, and after its meeting what
    was decided (`after_meeting`); `today` (the clock's date) marks overdue actions.

    `decided`, the ids of every case with a decision when known, spares a query per case
    without one (`masp status` over a thousand cases); `slots`, every case's timeslot at its
    meeting by case id when known, a query per case with a meeting."""
    missing = missing_for(case)
    meeting = None
    deadline = None
    if case.meeting is not None:
        day = case.meeting.astimezone(config.tz).date()
        meeting = day.isoformat()
        deadline = meeting_at(config.panel(case.panel_id), day, config.tz).deadline.isoformat()
    return {
        "reference": case.reference,
        "panel": case.panel_id,
        "meeting": meeting,
        "deadline": deadline,
        "state": case.state,
        "referrer": case.referrer_email,
        "forwarded_by": case.forwarded_by,
        "received_at": case.received_at.isoformat(),
        "section20": case.section20,
        "documents": [_document(d) for d in case.documents],
        "missing": [k.value for k in missing],
        "flags": list(case.flags),
        "slot": _slot(case, slots),
    } | (
        after_meeting(config, case, today)
        if decided is None or case.id in decided
        else dict(NO_DECISION)
    )


# What a case without a decision shows for each of `after_meeting`'s keys.
NO_DECISION: dict[str, Any] = {
    "decision": None,
    "actions": [],
    "review_meeting": None,
    "sheets": [],
    "follow_up": None,
}


def after_meeting(config: Config, case: Case, today: date | None = None) -> dict[str, Any]:
    """R13, R14: the case's current decision, its actions (overdue marked, when `today` is
    given), the meeting its review lists it at, its decision sheets and the 12-week follow-up.

    Minimal identifiers only: the Lead Professional's agency, never a name.
    """
    session = object_session(case)
    decision = latest_decision(session, case.id) if session is not None else None
    if session is None or decision is None:
        return dict(NO_DECISION)
    tz = config.tz
    meeting_day = decision.meeting.astimezone(tz).date()
    # Action text was typed in the meeting: the child's name in it is shown as initials.
    name = (case.fields or {}).get("child_name")
    name = name if isinstance(name, str) else None
    review = None
    # Only a case still decided is reviewed: one closed since (R14, R17) has no review.
    reviewed = case.state == CaseState.DECIDED
    if reviewed and decision.review_date and not decision.no_further_review and not decision.final:
        found = review_meeting(config.panel(case.panel_id), tz, decision.review_date)
        review = found.starts_at.astimezone(tz).date().isoformat() if found else None
    return {
        "decision": {
            "outcome": decision.outcome,
            "meeting": meeting_day.isoformat(),
            "heard_as": decision.heard_as,
            "lead_agency": decision.lead_agency,
            "review_date": decision.review_date.isoformat() if decision.review_date else None,
            "no_further_review": decision.no_further_review,
            "final": decision.final,
            "larp": decision.larp,
        },
        "actions": [
            {
                "text": without_name(a.text, name),
                "agency": a.agency,
                "due": a.due.isoformat(),
                "done": a.done_at is not None,
                "overdue": a.done_at is None and today is not None and a.due < today,
            }
            for a in decision.actions
        ],
        "review_meeting": review,
        "sheets": _sheets(config, session, decision, today),
        "follow_up": _follow_up(config, session, decision),
    }


def _sheets(
    config: Config, session: Session, decision: Decision, today: date | None
) -> list[dict[str, Any]]:
    """Each version of the decision sheet: when it was queued, when the outbox sent it (a
    sheet held by the outbox is not sent), and whether it was sent by the sheets' due moment
    (`rules.chase.sheets_due`: the end of the `sheet_days`th day after the meeting's day, panel
    time; None while unsent and not yet late)."""
    tz = config.tz
    due = sheets_due(decision.meeting, tz, config.decisions.sheet_days)
    late = today is not None and today >= due.astimezone(tz).date()
    rows = session.execute(
        select(DecisionSheet, OutboxItem.status, OutboxItem.sent_at)
        .outerjoin(OutboxItem, OutboxItem.id == DecisionSheet.outbox_id)
        .where(DecisionSheet.decision_id == decision.id)
        .order_by(DecisionSheet.version)
    )
    found = []
    for sheet, mail, mailed_at in rows:
        sent = mailed_at if mail == OutboxState.SENT else None
        on_time = (sent < due) if sent is not None else (False if late else None)
        found.append(
            {
                "version": sheet.version,
                "queued_at": sheet.sent_at.isoformat() if sheet.sent_at else None,
                "sent_at": sent.isoformat() if sent is not None else None,
                "held": mail == OutboxState.HELD,
                "on_time": on_time,
            }
        )
    return found


def _follow_up(config: Config, session: Session, decision: Decision) -> dict[str, Any] | None:
    """The 12-week follow-up of a case with no further panel review (R14): due, asked,
    reminded, answered."""
    if not decision.no_further_review:
        return None
    row = session.scalar(select(FollowUp).where(FollowUp.decision_id == decision.id))
    if row is None:
        day = decision.meeting.astimezone(config.tz).date()
        due = follow_up_due(day, config.decisions.follow_up_weeks, config.tz)
        return {
            "due_at": due.isoformat(),
            "asked_at": None,
            "reminded_at": None,
            "answered_at": None,
        }

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "due_at": iso(row.due_at),
        "asked_at": iso(row.asked_at),
        "reminded_at": iso(row.reminded_at),
        "answered_at": iso(row.answered_at),
    }


def _slot(case: Case, slots: Mapping[int, Slot] | None = None) -> dict[str, Any] | None:
    """The case's timeslot at its meeting and the referrer's attendance answer (R10)."""
    session = object_session(case)
    if session is None or case.meeting is None:
        return None
    if slots is not None:
        slot = slots.get(case.id)
    else:
        query = select(Slot).where(Slot.case_id == case.id, Slot.meeting == case.meeting)
        slot = session.scalar(query)
    if slot is None:
        return None
    return {
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "notified": slot.notified_at is not None,
        "attendance": slot.attendance,
    }


def detail(config: Config, case: Case, today: date | None = None) -> dict[str, Any]:
    """One case with what was read from its referral form."""
    data = summary(config, case, today)
    fields = dict(case.fields or {})
    fields.setdefault("referrer_email", None)
    if not fields.get("referrer_email"):
        fields["referrer_email"] = case.referrer_email
    if not fields.get("referrer_name"):
        fields["referrer_name"] = case.referrer_name
    fields["section20"] = bool(case.section20)
    data["fields"] = {key: fields.get(key) for key in FIELD_KEYS} | {
        k: v for k, v in fields.items() if k not in FIELD_KEYS and k != "source"
    }
    data["fields"]["request_types"] = list(fields.get("request_types") or [])
    data["documents"] = [_document_detail(d) for d in case.documents]
    return data


def print_detail(console: Console, data: dict[str, Any]) -> None:
    """One case for people: its facts, then each document with what was and was not read.

    Every value is escaped: names, filenames and form answers are the senders' words, and a
    "[/x]" in them must be shown, not taken as Rich markup.
    """
    say = functools.partial(console.print, markup=False, highlight=False)
    console.print(f"[bold]{escape(data['reference'])}[/bold] — {escape(data['state'])}")
    say(
        f"  panel {data['panel']}, meeting {data['meeting'] or '—'}, documents due by "
        f"{_short_time(data['deadline'])}, referrer {data['referrer']}"
        + (f", sent in by {data['forwarded_by']}" if data.get("forwarded_by") else "")
    )
    if data["missing"]:
        say(f"  still needed: {', '.join(data['missing'])}")
    if data["slot"]:
        answer = data["slot"]["attendance"] or "no answer yet"
        say(f"  timeslot {_short_time(data['slot']['starts_at'])}, attendance: {answer}")
    for flag in data["flags"]:
        console.print(f"  [yellow]{escape(str(flag))}[/yellow]", highlight=False)
    if data.get("decision"):
        say(f"  {decision_line(data)}")
        for action in data["actions"]:
            say(f"  action: {_action_shown(action)}")
    for key, value in data["fields"].items():
        say(f"  {key}: {_shown(value)}")
    for document in data["documents"]:
        old = " (superseded)" if document["superseded"] else ""
        console.print(
            f"\n[bold]{escape(document['filename'])}[/bold] — "
            + escape(f"{document['kind']}, {document['status']}, version {document['version']}")
            + old
            # The id is what `masp case reclassify` and `masp case accept` are given.
            + (f" (document {document['id']})" if "id" in document else ""),
            highlight=False,
        )
        if document.get("reason"):
            say(f"  refused: {document['reason']}")
        for key, found in document["fields"].items():
            say(f"  {key}: {_shown(found.get('value'))}")
        if document.get("summary"):
            say(f"  summary: {_shown(document['summary'])}")
        if document["missing"]:
            say(f"  missing: {', '.join(document['missing'])}")
        for note in document["notes"]:
            say(f"  note: {note}")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_shown(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items() if v not in (None, ""))
    return "—" if value is None else str(value)


def all_cases(config: Config, session: Session, today: date | None = None) -> list[dict[str, Any]]:
    # Each case's documents in one query, not one query each.
    cases = session.scalars(select(Case).options(selectinload(Case.documents)).order_by(Case.id))
    decided = set(session.scalars(select(Decision.case_id).distinct()))
    # Every case's timeslot at the meeting it is on, in one query too.
    at_meeting = select(Slot).join(Case, (Case.id == Slot.case_id) & (Case.meeting == Slot.meeting))
    slots = {slot.case_id: slot for slot in session.scalars(at_meeting)}
    return [summary(config, c, today, decided, slots) for c in cases]


def needs_attention(session: Session) -> list[str]:
    """What the administrator should look at besides the cases: quarantine and held mail."""
    quarantined = session.scalar(
        select(func.count(Message.id)).where(Message.status == MessageState.QUARANTINED)
    )
    held = session.scalar(
        select(func.count(OutboxItem.id)).where(OutboxItem.status == OutboxState.HELD)
    )
    failed = session.scalar(
        select(func.count(OutboxItem.id)).where(OutboxItem.status == OutboxState.FAILED)
    )
    held_cases = session.scalar(select(func.count(Case.id)).where(Case.state == CaseState.HELD))
    lines = []
    if held_cases:
        lines.append(
            f"{held_cases} case(s) are held for you: masp status REFERENCE says why; "
            "then masp case attach, release or dismiss"
        )
    if quarantined:
        lines.append(f"{quarantined} email(s) could not be processed: masp quarantine list")
    if held:
        lines.append(f"{held} email(s) are held for you to check: masp outbox list")
    if failed:
        lines.append(f"{failed} email(s) could not be sent: masp outbox list --state failed")
    return lines


def one_case(
    config: Config, session: Session, reference: str, today: date | None = None
) -> dict[str, Any]:
    case = session.scalar(select(Case).where(Case.reference == reference.upper()))
    if case is None:
        raise NotFound(f"no case with reference {reference!r}: run `masp status` to list them")
    return detail(config, case, today)


SHORT = {"referral_form": "F", "chronology": "C", "genogram": "G", "assessment": "A", "other": "O"}
LEGEND = "F form, C chronology, G genogram, A assessment, O other; ? check it, ✗ refused"


def _documents_cell(row: dict[str, Any]) -> str:
    current = [d for d in row["documents"] if not d["superseded"]]
    marks = {"ok": "", "needs_review": "?", "refused": "✗"}
    return " ".join(f"{SHORT[d['kind']]}{marks[d['status']]}" for d in current) or "—"


def _short_time(iso: str | None) -> str:
    if not iso:
        return "—"
    return f"{iso[8:10]}/{iso[5:7]} {iso[11:16]}"


def print_table(console: Console, rows: list[dict[str, Any]]) -> None:
    """A compact table for an 80-column terminal; `masp status REF` shows the detail."""
    if not rows:
        console.print("No cases yet.")
        return
    table = Table(title="Cases", caption=LEGEND)
    table.add_column("Reference", no_wrap=True)
    table.add_column("Meeting", no_wrap=True)
    table.add_column("Deadline", no_wrap=True)
    table.add_column("State")
    table.add_column("Documents")
    table.add_column("Missing")
    for row in rows:
        state = row["state"] + (" (S20)" if row["section20"] else "")
        cells = (
            row["reference"],
            row["meeting"] or "—",
            _short_time(row["deadline"]),
            state,
            _documents_cell(row),
            ", ".join(SHORT[m] for m in row["missing"]) or "—",
        )
        # Text cells, not markup: what is stored is shown as it is.
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    decided = [row for row in rows if row.get("decision")]
    if decided:
        console.print("\n[bold]After the meeting[/bold]")
    for row in decided:
        console.print(Text(f"{row['reference']}: {decision_line(row)}"))


def _action_shown(action: dict[str, Any]) -> str:
    state = "done" if action["done"] else ("OVERDUE" if action["overdue"] else "due")
    agency = f" ({action['agency']})" if action["agency"] else ""
    return f"{action['text']}{agency}, {state} {_short_day(action['due'])}"


def _short_day(iso: str | None) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}" if iso else "—"


def decision_line(row: dict[str, Any]) -> str:
    """A decided case in one line: outcome and meeting, actions outstanding and overdue, the
    review (and the meeting it lists the case at), the decision sheet and the follow-up."""
    decision = row["decision"]
    parts = [f"{decision['outcome']} ({_short_day(decision['meeting'])})"]
    open_actions = [a for a in row["actions"] if not a["done"]]
    overdue = sum(1 for a in open_actions if a["overdue"])
    parts.append(
        f"{len(open_actions)} action(s) open" + (f", {overdue} OVERDUE" if overdue else "")
    )
    if row["review_meeting"]:
        review = _short_day(decision["review_date"])
        parts.append(f"review {review}, at the meeting of {_short_day(row['review_meeting'])}")
    elif decision["no_further_review"]:
        parts.append("no further panel review")
    parts.append(_sheet_shown(row["sheets"]))
    if row["follow_up"]:
        parts.append(_follow_up_shown(row["follow_up"]))
    return "; ".join(parts)


def _sheet_shown(sheets: list[dict[str, Any]]) -> str:
    if not sheets:
        return "no decision sheet yet"
    last = sheets[-1]
    if last["sent_at"] is None:
        state = "HELD by the outbox (masp outbox list)" if last.get("held") else "not sent"
        return f"sheet v{last['version']} {state}" + (" (LATE)" if last["on_time"] is False else "")
    timing = "on time" if last["on_time"] else "LATE"
    return f"sheet v{last['version']} sent {_short_day(last['sent_at'])} {timing}"


def _follow_up_shown(follow_up: dict[str, Any]) -> str:
    for key, word in (
        ("answered_at", "answered"),
        ("reminded_at", "reminded"),
        ("asked_at", "asked"),
    ):
        if follow_up[key]:
            return f"follow-up {word} {_short_day(follow_up[key])}"
    return f"follow-up due {_short_day(follow_up['due_at'])}"
