"""`masp decisions import FILE`: refused with every problem by cell (exit 1), recorded (exit 0),
a missing file or a bad option (exit 2); run as the real command in a child process."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipeline.store.models import Case
from tests.decisions_helpers import MEETING, fill, make_workbook, seeded
from tests.helpers import masp

GOOD: dict[str, dict[str, Any]] = {
    "MASP-2026-0001": {
        "Outcome": "Advice and guidance given",
        "Review date": date(2027, 3, 2),
        "Notes": "[bold]x[/bold]",
    },
    "MASP-2026-0002": {"Outcome": "Not accepted"},
    "MASP-2026-0004": {"Outcome": "Closed: no further panel involvement"},
}
BAD = GOOD | {"MASP-2026-0002": {"Outcome": "[red]Perhaps[/red]"}}


def test_import_refused_then_recorded(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    blank, _ = make_workbook(app)
    app.close()
    now = (MEETING + timedelta(hours=3)).isoformat()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(fill(blank, BAD, []))
    refused = masp(
        "--config",
        str(tmp_path / "config.yaml"),
        "--now",
        now,
        "decisions",
        "import",
        str(bad),
        cwd=tmp_path,
    )
    assert refused.returncode == 1, refused.stderr
    assert 'Decisions!G3: "[red]Perhaps[/red]" is not an outcome' in refused.stderr
    good = tmp_path / "good.xlsx"
    good.write_bytes(
        fill(blank, GOOD, [["MASP-2026-0001", "Call", "Jo", None, date(2027, 1, 5), "No"]])
    )
    recorded = masp(
        "--config",
        str(tmp_path / "config.yaml"),
        "--now",
        now,
        "decisions",
        "import",
        str(good),
        cwd=tmp_path,
    )
    assert recorded.returncode == 0, recorded.stderr
    assert "Recorded 3 decision(s)" in recorded.stdout
    assert "MASP-2026-0004 (review): Closed: no further panel involvement" in recorded.stdout
    with app.store.session() as session:
        states = {c.reference: c.state for c in session.scalars(select(Case))}
    assert states["MASP-2026-0001"] == "decided" and states["MASP-2026-0004"] == "closed"


def test_a_missing_file_or_bad_meeting_is_a_usage_error(tmp_path: Path) -> None:
    seeded(tmp_path).close()
    config = str(tmp_path / "config.yaml")
    assert (
        masp("--config", config, "decisions", "import", str(tmp_path / "none.xlsx")).returncode == 2
    )
    (tmp_path / "x.xlsx").write_bytes(b"x")
    wrong = masp(
        "--config", config, "decisions", "import", str(tmp_path / "x.xlsx"), "--meeting", "soon"
    )
    assert wrong.returncode == 2 and "--meeting" in wrong.stderr
    assert "decisions workbook" in masp("decisions", "import", "--help").stdout
