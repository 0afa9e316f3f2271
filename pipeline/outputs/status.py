"""`masp status`: where every case stands, as data (JSON) and as a table for people."""

from __future__ import annotations

import functools
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from pipeline.config import Config
from pipeline.errors import NotFound
from pipeline.rules.meetings import meeting_at
from pipeline.states import CaseState, MessageState, OutboxState
from pipeline.store.facts import missing_for
from pipeline.store.models import Case, Message, OutboxItem, Slot

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


def summary(config: Config, case: Case) -> dict[str, Any]:
    """One case as SPEC §5 spells it, plus the deadline and flags."""
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
        "slot": _slot(case),
    }


def _slot(case: Case) -> dict[str, Any] | None:
    """The case's timeslot at its meeting and the referrer's attendance answer (R10)."""
    session = object_session(case)
    if session is None or case.meeting is None:
        return None
    slot = session.scalar(select(Slot).where(Slot.case_id == case.id, Slot.meeting == case.meeting))
    if slot is None:
        return None
    return {
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "notified": slot.notified_at is not None,
        "attendance": slot.attendance,
    }


def detail(config: Config, case: Case) -> dict[str, Any]:
    """One case with what was read from its referral form."""
    data = summary(config, case)
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
    for key, value in data["fields"].items():
        say(f"  {key}: {_shown(value)}")
    for document in data["documents"]:
        old = " (superseded)" if document["superseded"] else ""
        console.print(
            f"\n[bold]{escape(document['filename'])}[/bold] — "
            + escape(f"{document['kind']}, {document['status']}, version {document['version']}")
            + old,
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


def all_cases(config: Config, session: Session) -> list[dict[str, Any]]:
    cases = session.scalars(select(Case).order_by(Case.id))
    return [summary(config, c) for c in cases]


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


def one_case(config: Config, session: Session, reference: str) -> dict[str, Any]:
    case = session.scalar(select(Case).where(Case.reference == reference.upper()))
    if case is None:
        raise NotFound(f"no case with reference {reference!r}: run `masp status` to list them")
    return detail(config, case)


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
