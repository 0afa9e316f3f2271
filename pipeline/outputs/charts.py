"""R15's charts: which ones the quarterly picture has, and each drawn headless with matplotlib.

The same `Chart` list makes the workbook's native Excel charts (`outputs.quarterly`), the PNG
pictures in the chair's email and the pack's "Quarterly picture" pages, so they cannot differ.
matplotlib's object API (`Figure` + the Agg canvas) is used, never pyplot: it needs no global
backend, no display, and keeps no figure alive after it is drawn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pipeline.rules.quarterly import Counts, QuarterFigures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Kind = Literal["column", "bar", "line"]
# A picture 800 × 450 pixels at 100 dpi: sharp in an email, and some 20–40 kB each.
PICTURE_INCHES = (8.0, 4.5)
PICTURE_DPI = 100
# A4 portrait in inches, for the pack's pages: two charts a page.
A4_INCHES = (8.27, 11.69)
COLOUR = "#1d70b8"
# Long labels (request types) are cut for a chart's axis; the workbook's tables keep them whole.
AXIS_LABEL = 42


@dataclass(frozen=True)
class Chart:
    """One chart: `column` (vertical bars), `bar` (horizontal bars, for long labels) or `line`.
    `percent` values are rates from 0 to 100."""

    key: str
    title: str
    kind: Kind
    points: Counts
    percent: bool = False

    @property
    def filename(self) -> str:
        return f"{self.key}.png"


def _rates(figures: QuarterFigures) -> Counts:
    rates = (
        ("On time", figures.on_time_rate),
        ("Deferred", figures.deferred_rate),
        (f"Sheets within {figures.sheet_days} days", figures.sheets_rate),
    )
    return tuple((label, round(100 * rate) if rate is not None else 0) for label, rate in rates)


def charts_of(figures: QuarterFigures) -> list[Chart]:
    """The quarterly picture's charts, in the order the report shows them."""
    quarter = figures.quarter
    return [
        Chart("agency", f"Referrals by agency, {quarter}", "bar", figures.by_agency),
        Chart("reason", f"Referrals by reason, {quarter}", "bar", figures.by_reason),
        Chart("request", f"Referrals by request type, {quarter}", "bar", figures.by_request),
        Chart("rates", f"On time, deferred and decision sheets (%), {quarter}", "column",
              _rates(figures), percent=True),
        Chart("outcomes", f"Outcomes of decisions, {quarter}", "bar", figures.outcomes),
        Chart("demand", "Referrals received month by month", "line", figures.demand),
    ]  # fmt: skip


def _short(label: str) -> str:
    return label if len(label) <= AXIS_LABEL else label[: AXIS_LABEL - 1] + "…"


def _plain(text: str) -> str:
    """`text` drawn as it is: matplotlib reads a pair of "$" as mathtext, and an agency named
    "Costs $5 & $6" (from a referral form) would be misdrawn or fail to draw at all. Every "$"
    escaped makes the text hold no maths (matplotlib then shows each "\\$" as "$")."""
    return text.replace("$", r"\$")


def _draw(figure: Figure, chart: Chart, position: int = 111) -> None:
    from matplotlib.ticker import MaxNLocator

    axes = figure.add_subplot(position)
    labels = [_plain(_short(label)) for label, _ in chart.points]
    values = [value for _, value in chart.points]
    if chart.kind == "bar":
        # The first category at the top, as the workbook's table reads.
        axes.barh(labels[::-1], values[::-1], color=COLOUR)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    elif chart.kind == "column":
        axes.bar(labels, values, color=COLOUR)
        if chart.percent:
            axes.set_ylim(0, 100)
    else:
        axes.plot(labels, values, marker="o", color=COLOUR)
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(axis="x", labelrotation=45)
    axes.set_title(_plain(chart.title), fontsize=12)
    axes.tick_params(labelsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def picture(chart: Chart) -> bytes:
    """The chart as a PNG picture (800 × 450) for the chair's email."""
    # Imported when drawn: the agenda and the pack import this module, and matplotlib takes
    # a third of a second to load.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=PICTURE_INCHES, dpi=PICTURE_DPI, layout="tight")
    _draw(figure, chart)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})  # type: ignore[no-untyped-call]
    return buffer.getvalue()


def pages_pdf(charts: list[Chart]) -> bytes:
    """The charts as A4 PDF pages, two a page, drawn as vectors (sharp when zoomed or printed);
    no creation date, so the same figures make the same bytes."""
    from matplotlib.backends.backend_pdf import FigureCanvasPdf, PdfPages
    from matplotlib.figure import Figure

    figures = []
    for first in range(0, len(charts), 2):
        figure = Figure(figsize=A4_INCHES)
        # Room at the top and bottom of the page for the pack's stamp (name, page x of y).
        figure.set_layout_engine("tight", pad=4)
        for offset, chart in enumerate(charts[first : first + 2]):
            _draw(figure, chart, 211 + offset)
        figures.append(figure)
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"CreationDate": None, "Producer": None}) as pdf:
        for figure in figures:
            FigureCanvasPdf(figure)
            pdf.savefig(figure)
    return buffer.getvalue()
