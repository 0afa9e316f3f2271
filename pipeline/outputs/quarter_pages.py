"""R11, R15: the "Quarterly picture" pages a quarterly meeting's pack ends with.

The previous quarter's headline figures as a text page, then its charts drawn as vectors
(`charts.pages_pdf`), two to an A4 page. Aggregates only: no child is named or initialled.
"""

from __future__ import annotations

import io
from contextlib import ExitStack

import pikepdf
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.outputs.agenda import Agenda
from pipeline.outputs.charts import charts_of, pages_pdf
from pipeline.outputs.pdftext import Line, add_text_pages
from pipeline.outputs.quarterly import gather_quarter
from pipeline.rules.quarterly import Quarter, QuarterFigures, headline

TITLE = "Quarterly picture"


def pack_figures(app: App, session: Session, agenda: Agenda) -> QuarterFigures | None:
    """The previous quarter's figures for a quarterly meeting's pack; None for other meetings."""
    if not agenda.quarterly:
        return None
    day = agenda.starts_at.astimezone(app.config.tz).date()
    return gather_quarter(app, session, Quarter.of(day).previous(), agenda.panel_id)


def add_quarter_pages(pdf: pikepdf.Pdf, stack: ExitStack, figures: QuarterFigures) -> int:
    """Append the section's pages to `pdf`; return how many. The chart pages' source stays
    open on `stack` until the pack is saved (pikepdf copies pages lazily)."""
    lines = [
        Line(f"{TITLE}: {figures.quarter}", size=16, bold=True),
        *(Line(text, space=6) for text in headline(figures)),
        Line(
            "Totals only: no child is named. On time means complete by the deadline of the "
            "meeting a referral first targeted; deferred means moved to a later meeting.",
            size=9,
            space=12,
        ),
    ]
    added = add_text_pages(pdf, lines)
    charts = stack.enter_context(pikepdf.open(io.BytesIO(pages_pdf(charts_of(figures)))))
    pdf.pages.extend(charts.pages)
    return added + len(charts.pages)
