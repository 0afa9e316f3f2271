"""After-the-meeting benchmark (issue 11), in two halves.

Decision sheets: the sheets (docx + PDF) of a 15-case meeting through the real step
(`send_sheets`: facts, docxtpl render with autoescape, one LibreOffice call, storing, queueing
the emails) against the floor: a bare docxtpl render of the same template plus the same
LibreOffice call. LibreOffice is warmed first (its profile made). Target: sheets <= 1.5x the
floor; peak RSS <= 300 MB.

The quarterly report over five years of synthetic history (`bench.quarterly`: 3,000 cases,
12,000 actions) against a bare openpyxl write of the same rows. Targets: <= 5 s, <= 3x the
floor, peak RSS <= 300 MB. Each half runs in its own process, so each peak RSS is its own.

    .venv/bin/python -m bench.after --cases 15 --repeat 3
    .venv/bin/python -m bench.after --only sheets    # or --only quarterly
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from sqlalchemy import delete, select

from bench import quarterly
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.outputs.convert import docx_batch_to_pdf
from pipeline.outputs.decision_sheet import template_bytes
from pipeline.panel.decisions.sheets import pending, send_sheets
from pipeline.states import CaseState, Outcome
from pipeline.store.models import (
    Action,
    Case,
    Decision,
    DecisionSheet,
    OutboxItem,
)
from tests.decisions_helpers import applied_import
from tests.helpers import open_service

MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
AFTER = MEETING + timedelta(hours=5)


def decided_meeting(folder: Path, cases: int) -> App:
    """`cases` decided cases of one meeting, written straight into the store."""
    app = open_service(folder, AFTER, pack={"convert_seconds": 600})
    with app.store.session() as session:
        imported = applied_import(session, MEETING, AFTER)
        for n in range(cases):
            case = Case(
                reference=f"MASP-2026-{n + 1:04d}",
                panel_id="masp",
                meeting=MEETING,
                state=CaseState.DECIDED,
                referrer_email=f"ref{n}@school.example.org",
                referrer_name=f"Referrer {n}",
                received_at=AFTER - timedelta(days=20),
                fields={
                    "child_name": f"Child Number{n}",
                    "child_dob": "2016-03-14",
                    "request_types": ["multi_agency_package"],
                },
            )
            session.add(case)
            session.flush()
            actions = [
                Action(
                    case_id=case.id,
                    position=i,
                    text=f"Action {i} for family {n} & co",
                    owner="Kim Lead",
                    agency="Early Help",
                    due=date(2027, 1, 10 + i),
                )
                for i in range(4)
            ]
            session.add(
                Decision(
                    case_id=case.id,
                    panel_id="masp",
                    meeting=MEETING,
                    import_id=imported.id,
                    outcome=Outcome.ACCEPTED.value,
                    lead_name="Kim Lead",
                    lead_agency="Early Help",
                    lead_email="kim.lead@example.org",
                    review_date=date(2027, 3, 1),
                    notes="Invented notes. " * 20,
                    recorded_at=AFTER,
                    actions=actions,
                )
            )
    return app


def sheets_once(app: App) -> float:
    """The real step, from nothing sent to every sheet sent (then undone for the next run)."""
    with app.store.session() as session:
        ids = [p.decision.id for p in pending(app, session, AFTER)]
    start = time.perf_counter()
    with app.store.session() as session:
        send_sheets(app, session, ids)
    took = time.perf_counter() - start
    with app.store.session() as session:
        # Undone whole, emails too: a reused sheet id must not find its email already queued.
        session.execute(delete(DecisionSheet))
        session.execute(delete(OutboxItem).where(OutboxItem.template == "decision_sheet"))
    return took


def bare_once(app: App, cases: int) -> float:
    """The floor: docxtpl renders of the same template and context, one LibreOffice call."""
    template = template_bytes()
    start = time.perf_counter()
    documents = []
    for n in range(cases):
        document = DocxTemplate(io.BytesIO(template))
        context = _bare_context(n)
        document.render(context, autoescape=True)
        buffer = io.BytesIO()
        document.save(buffer)
        documents.append(buffer.getvalue())
    docx_batch_to_pdf(app.config, documents, "bare")
    return time.perf_counter() - start


def _bare_context(n: int) -> dict[str, Any]:
    text = {
        k: f"value {n}"
        for k in (
            "marking",
            "marking_line",
            "panel_name",
            "reference",
            "child_name",
            "child_dob",
            "referrer",
            "referrer_agency",
            "request",
            "question",
            "meeting",
            "outcome",
            "lead_name",
            "lead_agency",
            "lead_email",
            "review",
            "larp",
            "notes",
            "closing",
        )
    }
    actions = [
        {
            "text": f"Action {i}",
            "owner": "Kim Lead",
            "agency": "Early Help",
            "due": "10 January 2027",
        }
        for i in range(4)
    ]
    return text | {"version": 1, "actions": actions}


def run_sheets(cases: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = decided_meeting(Path(folder), cases)
        # Warm LibreOffice: its profile is made on the first call.
        bare_once(app, 1)
        ours, floor = [], []
        for n in range(repeat):
            floor.append(bare_once(app, cases))
            ours.append(
                sheets_once(replace(app, clock=Clock.frozen_at(AFTER + timedelta(minutes=n))))
            )
        with app.store.session() as session:
            assert session.scalar(select(Case.id)) is not None
        app.close()
    sheets, bare = statistics.median(ours), statistics.median(floor)
    return {
        "cases": cases,
        "sheets_median_s": round(sheets, 3),
        "bare_floor_median_s": round(bare, 3),
        "ratio_sheets_to_floor": round(sheets / bare, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # LibreOffice, a child process, apart.
        "peak_rss_libreoffice_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=15, help="cases at the meeting")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("sheets", "quarterly"), help="run one half")
    args = parser.parse_args()
    if args.only == "sheets":
        print(json.dumps({"sheets": run_sheets(args.cases, args.repeat)}, indent=2))
        return
    if args.only == "quarterly":
        print(json.dumps({"quarterly": quarterly.run(3000, 12000, args.repeat)}, indent=2))
        return
    # Each half in a process of its own, so that each peak RSS is that half's alone.
    for half in ("sheets", "quarterly"):
        command = [sys.executable, "-m", "bench.after", "--only", half]
        command += ["--cases", str(args.cases), "--repeat", str(args.repeat)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
