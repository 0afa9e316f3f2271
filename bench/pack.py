"""Pack benchmark: a meeting of 15 cases x 4 documents through real LibreOffice and pikepdf.

Prints the cold build (converting every document in one LibreOffice batch), the warm build
(documents converted at intake), one recipient's stamped copy, every recipient's copy for a
10-member panel (stamped, split, zipped and queued), the output size, and in the same run the
floor: a bare pikepdf merge of the same PDFs. Targets: one stamped copy warm <= 5 s and
<= 5x the bare merge; every recipient's copy <= 60 s.

    .venv/bin/python -m bench.pack --cases 15 --repeat 3
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
from docx import Document as WordDocument
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.outputs.pack import build_pack, gather, render, stamp
from pipeline.panel.distribute import distribute
from pipeline.states import CaseState
from pipeline.store.models import Case, Conversion, PackSend
from tests.helpers import drop, open_service

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def members() -> list[dict[str, str]]:
    """Ten members: eight core, two co-opted (Housing, Police)."""
    core = [{"name": f"Core Member{i}", "email": f"core{i}@example.org"} for i in range(8)]
    coopted = [
        {
            "name": f"Coopted {a}",
            "email": f"{a.lower()}@example.org",
            "agency": a,
            "role": "co-opted",
        }
        for a in ("Housing", "Police")
    ]
    return core + coopted


def assessment(n: int) -> bytes:
    document = WordDocument(io.BytesIO(samples.assessment()))
    document.add_paragraph(f"Invented assessment notes for synthetic family number {n}. " * 40)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def referral(n: int) -> samples.Mail:
    """Four distinct documents per case, so nothing is converted only once for all cases."""
    child = samples.Child(name=f"Child Number{n}", referrer_email=f"ref{n}@school.example.org")
    files = [
        samples.File("Referral form.docx", samples.DOCX, samples.referral_form(child)),
        samples.File("Chronology.docx", samples.DOCX, samples.chronology(rows=40 + 5 * n)),
        samples.File("genogram.png", samples.PNG, samples.genogram_png(480 + n, 320)),
        samples.File("EHA.docx", samples.DOCX, assessment(n)),
    ]
    return samples.Mail(child.referrer_email, f"Referral {n}", files=files)


def prepare(folder: Path, cases: int) -> App:
    app = open_service(folder, NOW, people__members=members(), pack={"convert_seconds": 600})
    for n in range(cases):
        drop(app, referral(n), NOW)
    poll(app)
    with app.store.session() as session:
        for number, case in enumerate(session.scalars(select(Case).order_by(Case.id))):
            case.state = CaseState.APPROVED
            case.flags = [f"co-opt: {'Housing' if number % 2 else 'Police'}"]
    return app


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bare_merge(app: App) -> float:
    """The floor: the same converted PDFs merged by pikepdf, no front sheet, stamps or outline."""
    with app.store.session() as session:
        paths = [app.files.absolute(p) for p in session.scalars(select(Conversion.pdf_path)) if p]
    start = time.perf_counter()
    with pikepdf.new() as merged:
        sources = [pikepdf.open(path) for path in paths]
        for source in sources:
            merged.pages.extend(source.pages)
        merged.save(io.BytesIO())
        for source in sources:
            source.close()
    return time.perf_counter() - start


def warm_copy(app: App) -> tuple[float, int]:
    """One recipient's stamped copy from stored conversions: gather, assemble, stamp."""
    with app.store.session() as session:

        def build() -> bytes:
            inputs = gather(app, session, "masp", MEETING)
            return stamp(render(app, session, inputs, 1, partial=False).data, "Core Member0")

        seconds, data = timed(build)
    return seconds, len(data)


def every_recipient(app: App) -> tuple[float, int]:
    with app.store.session() as session:
        seconds, _ = timed(lambda: distribute(app, session, "masp", MEETING))
        sends = len(list(session.scalars(select(PackSend))))
    return seconds, sends


def run(cases: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = prepare(Path(folder), cases)
        with app.store.session() as session:
            cold, built = timed(lambda: build_pack(app, session, "masp", MEETING))
            pages, size = built.pack.pages, len(built.rendered.data)
        warm = [warm_copy(app) for _ in range(repeat)]
        merge = [bare_merge(app) for _ in range(repeat)]
        every, sends = every_recipient(app)
        app.close()
    one = statistics.median(s for s, _ in warm)
    floor = statistics.median(merge)
    return {
        "cases": cases,
        "documents": cases * 4,
        "pages": pages,
        "cold_build_s": round(cold, 2),
        "warm_one_recipient_s": round(one, 3),
        "bare_merge_s": round(floor, 3),
        "ratio_warm_to_merge": round(one / floor, 2),
        "pack_mb": round(size / 1e6, 2),
        "stamped_copy_mb": round(warm[0][1] / 1e6, 2),
        "every_recipient_s": round(every, 2),
        "recipients": sends,
        "targets_met": one <= 5 and one <= 5 * floor and every <= 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.cases, args.repeat), indent=2))


if __name__ == "__main__":
    main()
