"""R13: the meeting's decisions workbook, read back with openpyxl as Excel would open it."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from openpyxl import load_workbook

from pipeline.rules.decisions import ACTION_HEADERS, DECISION_HEADERS
from pipeline.states import Outcome
from tests.decisions_helpers import MEETING, NAMES, make_workbook, seeded


def validations(sheet: object) -> dict[str, tuple[str, str | None, str | None]]:
    found = {}
    for check in sheet.data_validations.dataValidation:  # type: ignore[attr-defined]
        for cells in str(check.sqref).split():
            found[cells] = (check.type, check.formula1, check.errorStyle)
    return found


def test_rows_lists_protection_and_print_setup(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    data, row = make_workbook(app)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Decisions", "Actions", "Lists", "Meeting"]
    decisions, actions, lists = book["Decisions"], book["Actions"], book["Lists"]
    assert [c.value for c in decisions[1]] == list(DECISION_HEADERS)
    rows = [[c.value for c in r][:6] for r in decisions.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == ["MASP-2026-0001", "MASP-2026-0002", "MASP-2026-0004"]
    assert rows[0][1:3] == ["R.T.", "9"] and rows[2][5] == "review"
    assert row.references == ["MASP-2026-0001", "MASP-2026-0002", "MASP-2026-0004"]
    # The review's outstanding action is pre-filled, for the panel to mark done or keep.
    assert [c.value for c in actions[1]] == list(ACTION_HEADERS)
    assert actions["B2"].value == "Book a family meeting" and actions["F2"].value == "No"
    # Drop-down lists come from the hidden Lists sheet; agencies allow other values.
    checks = validations(decisions)
    assert checks["G2:G4"] == ("list", "'Lists'!$A$1:$A$6", "stop")
    assert checks["I2:I4"][2] == "information"
    assert checks["K2:K4"][0] == "date" and decisions["K2"].number_format == "dd/mm/yyyy"
    assert [lists.cell(row=n, column=1).value for n in range(1, 7)] == [o.value for o in Outcome]
    assert validations(actions)["A2:A202"][1] == "'Lists'!$D$1:$D$3"
    assert lists.sheet_state == "hidden" and book["Meeting"].sheet_state == "hidden"
    assert book["Meeting"]["B2"].value == MEETING.isoformat()
    assert book["Meeting"]["B3"].value == str(row.id)
    # Locked structure, locked identifiers, editable decision cells.
    assert book.security is not None and book.security.lockStructure
    assert decisions.protection.sheet and actions.protection.sheet
    assert decisions["A2"].protection.locked and not decisions["G2"].protection.locked
    assert not actions["C150"].protection.locked
    assert decisions.freeze_panes == "A2"
    assert decisions.page_setup.orientation == "landscape" and decisions.page_setup.paperSize == 9
    assert decisions.page_setup.fitToWidth == 1 and decisions.print_title_rows == "$1:$1"
    assert "OFFICIAL-SENSITIVE" in (decisions.oddHeader.center.text or "")
    # Minimal identifiers only: no child's name anywhere in the file.
    every = " ".join(
        str(c.value) for s in book.worksheets for r in s.iter_rows() for c in r if c.value
    )
    assert not any(name in every or name.split()[1] in every for name in NAMES)
    app.close()


def test_libreoffice_keeps_the_lists_and_editable_cells(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    data, _ = make_workbook(app)
    source = tmp_path / "in" / "decisions.xlsx"
    source.parent.mkdir()
    source.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    book = load_workbook(out / "decisions.xlsx")
    decisions = book["Decisions"]
    checks = {c.type: c for c in decisions.data_validations.dataValidation}
    assert "list" in checks and "date" in checks
    assert decisions.protection.sheet and not decisions["G2"].protection.locked
    assert decisions["A2"].protection.locked
    assert book["Meeting"]["B2"].value == MEETING.isoformat()
    app.close()
