"""Quarterly report benchmark (R15): five years of synthetic history in a SQLite store.

3,000 cases (each with its referral form, some moved by the cut-off or not heard), a decision
per case with its decision sheet, and 12,000 actions, put straight into the store. Times the
quarterly report for the last quarter (column queries, the workbook with its native charts,
and the six PNG pictures) against the floor: a bare openpyxl write of the same rows (the
3,000 cases and 12,000 actions, values only, no charts). Prints medians, the ratio, and the
peak RSS. Targets: report <= 5 s, <= 3x the floor, peak RSS <= 300 MB.

    .venv/bin/python -m bench.quarterly --repeat 5
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import insert, select

from pipeline.app import App
from pipeline.documents.form import REASONS, REQUEST_TYPES
from pipeline.outputs.quarterly import make_report
from pipeline.rules.quarterly import Quarter
from pipeline.states import CaseState, OutboxState, Outcome
from pipeline.store.models import (
    Action,
    AuditEvent,
    Case,
    Decision,
    DecisionImport,
    DecisionSheet,
    Document,
    Message,
    OutboxItem,
)
from tests.helpers import open_service

NOW = datetime(2027, 4, 2, 9, 0, tzinfo=UTC)
START = datetime(2022, 4, 1, 9, 0, tzinfo=UTC)
QUARTER = Quarter(2027, 1)
AGENCIES = ("School", "Police", "Health Visiting", "GP", "Housing", "Early Help", "CAMHS")


def _cases(rng: random.Random, count: int) -> list[dict[str, Any]]:
    span = (NOW - START).total_seconds()
    received = sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    return [
        {
            "id": n + 1,
            "reference": f"MASP-{when.year}-{n + 1:04d}",
            "panel_id": "masp",
            "meeting": when + timedelta(days=21),
            "state": CaseState.DECIDED,
            "referrer_email": f"ref{n}@school.example.org",
            "received_at": when,
            "flags": [],
            "fields": {
                "child_name": f"Synthetic Child{n}",
                "request_types": rng.sample(sorted(REQUEST_TYPES), rng.randint(1, 2)),
            },
        }
        for n, when in enumerate(received)
    ]


def seed(app: App, cases: int, actions_per_case: int) -> None:
    """The history, inserted in bulk: a few statements, not an ORM object per row."""
    rng = random.Random(11)
    rows = _cases(rng, cases)
    with app.store.session() as session:
        session.execute(
            insert(Message),
            [
                {
                    "id": 1,
                    "backend": "maildir",
                    "folder": "inbox",
                    "uid": "1",
                    "body_sha256": "0" * 64,
                    "sha256": "0" * 64,
                    "size": 1,
                    "received_at": NOW,
                    "stored_at": NOW,
                    "raw_path": "raw/x",
                }
            ],
        )
        session.execute(insert(Case), rows)
        session.execute(
            insert(Document),
            [
                {
                    "case_id": row["id"],
                    "message_row_id": 1,
                    "kind": "referral_form",
                    "filename": "form.docx",
                    "content_type": "application/octet-stream",
                    "sha256": f"{row['id']:064d}",
                    "size": 1,
                    "stored_path": "documents/x",
                    "status": "ok",
                    "fields": {
                        "referrer_agency": {"value": rng.choice(AGENCIES)},
                        "reasons": {"value": rng.sample(sorted(REASONS), rng.randint(0, 2))},
                    },
                    "created_at": row["received_at"],
                }
                for row in rows
            ],
        )
        moved = [row for row in rows if rng.random() < 0.15]
        session.execute(
            insert(AuditEvent),
            [
                {
                    "at": row["received_at"],
                    "case_id": row["id"],
                    "action": rng.choice(("deferred", "carried-forward")),
                    "detail": {},
                }
                for row in moved
            ],
        )
        session.execute(
            insert(DecisionImport),
            [
                {
                    "id": 1,
                    "panel_id": "masp",
                    "meeting": NOW,
                    "source": "command",
                    "sha256": "1" * 64,
                    "stored_path": "imports/x",
                    "status": "applied",
                    "imported_at": NOW,
                }
            ],
        )
        outcomes = [o.value for o in Outcome]
        session.execute(
            insert(Decision),
            [
                {
                    "id": row["id"],
                    "case_id": row["id"],
                    "panel_id": "masp",
                    "meeting": row["meeting"],
                    "import_id": 1,
                    "outcome": rng.choice(outcomes),
                    "recorded_at": row["meeting"],
                }
                for row in rows
            ],
        )
        sent = {row["id"]: row["meeting"] + timedelta(days=rng.randint(1, 12)) for row in rows}
        # The sheet's email as the outbox sent it: the figures count its sent time.
        session.execute(
            insert(OutboxItem),
            [
                {
                    "id": row["id"],
                    "purpose": f"decision-sheet:{row['id']}",
                    "message_id": f"<sheet-{row['id']}@bench.example.org>",
                    "case_id": row["id"],
                    "template": "decision_sheet",
                    "subject": "decision sheet",
                    "raw_path": "outbox/x.eml",
                    "status": OutboxState.SENT,
                    "attempts": 1,
                    "next_attempt_at": row["meeting"],
                    "created_at": row["meeting"],
                    "sent_at": sent[row["id"]],
                }
                for row in rows
            ],
        )
        session.execute(
            insert(DecisionSheet),
            [
                {
                    "case_id": row["id"],
                    "decision_id": row["id"],
                    "inputs_sha256": "2" * 64,
                    "docx_path": "sheets/x.docx",
                    "created_at": row["meeting"],
                    "outbox_id": row["id"],
                    "sent_at": sent[row["id"]],
                }
                for row in rows
            ],
        )
        session.execute(
            insert(Action),
            [
                {
                    "decision_id": row["id"],
                    "case_id": row["id"],
                    "position": k,
                    "text": f"Invented action {k} for synthetic case {row['id']}",
                    "owner": f"Worker {k}",
                    "agency": rng.choice(AGENCIES),
                    "due": (row["meeting"] + timedelta(weeks=6)).date(),
                }
                for row in rows
                for k in range(actions_per_case)
            ],
        )


def report(app: App) -> int:
    with app.store.session() as session:
        made = make_report(app, session, QUARTER, "masp")
    return len(made.xlsx) + sum(len(p.png) for p in made.pictures)


def floor(app: App) -> int:
    """A bare openpyxl write of the same rows: every case and every action, values only."""
    with app.store.session() as session:
        cases = session.execute(
            select(Case.reference, Case.received_at, Case.state, Case.panel_id)
        ).all()
        actions = session.execute(
            select(Action.case_id, Action.text, Action.owner, Action.agency, Action.due)
        ).all()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for reference, received_at, state, panel_id in cases:
        sheet.append([reference, received_at.replace(tzinfo=None), str(state), panel_id])
    other = book.create_sheet("Actions")
    for row in actions:
        other.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return len(buffer.getvalue())


def _times(action: Callable[[App], int], app: App, repeat: int) -> tuple[list[float], int]:
    seconds, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = action(app)
        seconds.append(time.perf_counter() - started)
    return seconds, size


def run(cases: int, actions: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = open_service(Path(folder), NOW)
        started = time.perf_counter()
        seed(app, cases, actions // cases)
        seeded = time.perf_counter() - started
        # One untimed run of each: imports (matplotlib, openpyxl) and the first query plans.
        report(app)
        floor(app)
        timed, size = _times(report, app, repeat)
        bare, bare_size = _times(floor, app, repeat)
        app.close()
    median, floor_median = statistics.median(timed), statistics.median(bare)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "history": {"cases": cases, "actions": actions, "seed_s": round(seeded, 2)},
        "quarter": QUARTER.label,
        "report_s": {"median": round(median, 3), "all": [round(s, 3) for s in timed]},
        "report_bytes": size,
        "bare_openpyxl_s": {
            "median": round(floor_median, 3),
            "all": [round(s, 3) for s in bare],
        },
        "bare_bytes": bare_size,
        "ratio": round(median / floor_median, 2),
        "peak_rss_mb": round(rss_mb, 1),
        "targets": {"report_s": 5.0, "ratio": 3.0, "peak_rss_mb": 300},
        "met": median <= 5.0 and median / floor_median <= 3.0 and rss_mb <= 300,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--actions", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.cases, args.actions, args.repeat), indent=2))


if __name__ == "__main__":
    main()
