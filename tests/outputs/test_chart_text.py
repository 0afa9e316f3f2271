"""An agency's name is drawn as it is written: "$" never starts matplotlib mathtext.

From the second review (review2/chart.py): an agency holding `$...$` made matplotlib fail, so
the quarterly report and the quarterly meeting's pack failed at every tick.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from pipeline.outputs.charts import Chart, pages_pdf, picture

NAMES = [r"Police $\frac{$ unit", "Costs $5 and $6 Trust", r"a \$ b $x^2$"]


@pytest.mark.parametrize("name", NAMES)
def test_a_label_with_dollars_draws_as_written(name: str) -> None:
    chart = Chart("agency", "Referrals by agency, 2027Q1 ($)", "bar", ((name, 3), ("School", 2)))
    assert picture(chart).startswith(b"\x89PNG")
    pdf = pages_pdf([chart])
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "School" in text
    assert name.split()[1] in text, text
