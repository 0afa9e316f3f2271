"""R15: the quarterly picture — its rows read from the store, its workbook and its pictures.

The store is read with column queries (a few per report, none per case), so five years of
history reports in well under a second; `rules.quarterly` counts. Aggregates only: no
reference, name or initials of any child reaches the workbook, the pictures or the email.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.parsing import stored_value
from pipeline.outputs.cells import header_text, put
from pipeline.outputs.charts import Chart, charts_of, picture
from pipeline.rules.quarterly import (
    CaseRow,
    DecisionRow,
    Quarter,
    QuarterFigures,
    headline,
    percent,
    quarter_figures,
)
from pipeline.states import AWAITING, CaseState, OutboxState
from pipeline.store.models import (
    AuditEvent,
    Case,
    Decision,
    DecisionSheet,
    Document,
    OutboxItem,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The audit actions of a case moved to a later meeting: by the cut-off (R6, `panel.cutoff`)
# and because it was not heard (R7, `panel.unheard`).
CUT_OFF, NOT_HEARD = "deferred", "carried-forward"
# Flags of a case that was never a referral of its own: its documents went onto another case,
# or the administrator dismissed it (`intake.overrides`, which sits above this layer).
NOT_A_REFERRAL = ("attached to ", "dismissed by")
# Where each chart sits on the Charts sheet: two a row, each about 16 × 8 cm.
CHART_CELLS = ("A1", "K1", "A18", "K18", "A35", "K35")


def _instant(tz: tzinfo, day: date) -> datetime:
    """Midnight starting `day` in the panel's time zone."""
    return datetime.combine(day, time(0), tzinfo=tz)


def _panel(column: Any, panel_id: str | None) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column == panel_id if panel_id else column.is_not(None)
    return condition


def _is_referral(state: str, flags: Sequence[Any] | None) -> bool:
    if state == CaseState.HELD:
        return False
    return not any(str(f).startswith(NOT_A_REFERRAL) for f in flags or ())


def _forms(session: Session, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    """Each case's current referral form's fields (agency, reasons), by case id."""
    query = select(Document.case_id, Document.fields).where(
        Document.case_id.in_(ids), Document.kind == "referral_form", Document.superseded.is_(False)
    )
    found: dict[int, Mapping[str, Any]] = {}
    for case_id, fields in session.execute(query.order_by(Document.id)):
        found[case_id] = fields or {}
    return found


def _moves(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    query = select(AuditEvent.case_id, AuditEvent.action).where(
        AuditEvent.case_id.in_(ids), AuditEvent.action.in_((CUT_OFF, NOT_HEARD))
    )
    moves: dict[int, set[str]] = defaultdict(set)
    for case_id, action in session.execute(query):
        if case_id is not None:
            moves[case_id].add(action)
    return moves


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _case_rows(
    session: Session, tz: tzinfo, quarter: Quarter, panel_id: str | None
) -> tuple[list[CaseRow], list[date]]:
    """The quarter's referrals as rows, and the day each referral of the last twelve months
    arrived (for the demand line)."""
    query = select(Case.id, Case.received_at, Case.state, Case.flags, Case.fields).where(
        Case.received_at >= _instant(tz, quarter.demand_start()),
        Case.received_at < _instant(tz, quarter.end),
        _panel(Case.panel_id, panel_id),
    )
    days: list[date] = []
    inside: list[tuple[int, date, str, Mapping[str, Any]]] = []
    for case_id, received_at, state, flags, fields in session.execute(query):
        if not _is_referral(state, flags):
            continue
        day = received_at.astimezone(tz).date()
        days.append(day)
        if day in quarter:
            inside.append((case_id, day, state, fields or {}))
    ids = [row[0] for row in inside]
    forms, moves = _forms(session, ids), _moves(session, ids)
    rows = []
    for case_id, day, state, fields in inside:
        form = forms.get(case_id, {})
        agency = stored_value(form, "referrer_agency")
        rows.append(
            CaseRow(
                received=day,
                agency=agency if isinstance(agency, str) else None,
                reasons=_strings(stored_value(form, "reasons")),
                request_types=_strings(fields.get("request_types")),
                deferred=CUT_OFF in moves.get(case_id, ()),
                carried=NOT_HEARD in moves.get(case_id, ()),
                waiting=state in AWAITING,
            )
        )
    return rows, days


def _decision_rows(
    session: Session, tz: tzinfo, quarter: Quarter, panel_id: str | None
) -> list[DecisionRow]:
    """Decisions recorded at the quarter's meetings, each with the day its sheet was first sent.

    Sent is when the outbox sent the email (`OutboxItem.sent_at`), not when the sheet was
    queued (`DecisionSheet.sent_at`): a sheet held by a rate fuse or a disallowed address has
    not reached the referrer."""
    first_sent = (
        select(DecisionSheet.decision_id, func.min(OutboxItem.sent_at).label("sent"))
        .join(OutboxItem, OutboxItem.id == DecisionSheet.outbox_id)
        .where(OutboxItem.status == OutboxState.SENT, OutboxItem.sent_at.is_not(None))
        .group_by(DecisionSheet.decision_id)
        .subquery()
    )
    query = (
        select(Decision.meeting, Decision.outcome, first_sent.c.sent)
        .outerjoin(first_sent, first_sent.c.decision_id == Decision.id)
        .where(
            Decision.meeting >= _instant(tz, quarter.start),
            Decision.meeting < _instant(tz, quarter.end),
            _panel(Decision.panel_id, panel_id),
        )
    )
    rows = []
    for meeting, outcome, sent in session.execute(query):
        # A grouped column comes back as the database stores it (naive UTC in SQLite).
        sent_at = OutboxItem.__table__.c.sent_at.type.process_result_value(sent, None)  # type: ignore[attr-defined]
        rows.append(
            DecisionRow(
                meeting=meeting.astimezone(tz).date(),
                outcome=outcome,
                sheet_sent=sent_at.astimezone(tz).date() if sent_at else None,
            )
        )
    return rows


def gather_quarter(
    app: App, session: Session, quarter: Quarter, panel_id: str | None = None
) -> QuarterFigures:
    """The quarter's figures for one panel (or every panel) as the store holds them now."""
    tz = app.config.tz
    cases, days = _case_rows(session, tz, quarter, panel_id)
    decisions = _decision_rows(session, tz, quarter, panel_id)
    return quarter_figures(
        quarter,
        cases,
        decisions,
        days,
        sheet_days=app.config.decisions.sheet_days,
        panel=panel_id,
    )


# The workbook ---------------------------------------------------------------------------------


def _table(
    sheet: Worksheet, title: str, header: tuple[str, str], rows: Iterable[tuple[Any, Any]]
) -> tuple[int, int]:
    """A titled two-column table below what the sheet holds; returns its first and last data row."""
    start = sheet.max_row + 2 if sheet.max_row > 1 else 1
    put(sheet, start, 1, title).font = Font(bold=True, size=12)
    for column, text in enumerate(header, start=1):
        put(sheet, start + 1, column, text).font = Font(bold=True)
    row = start + 1
    for row, (label, value) in enumerate(rows, start=start + 2):
        # A label is an agency's name from a referral form: text, never a formula.
        put(sheet, row, 1, label)
        put(sheet, row, 2, value)
    return start + 2, row


def _summary_rows(figures: QuarterFigures) -> list[tuple[str, Any]]:
    return [
        ("Referrals received", figures.referrals),
        ("Referrals whose timeliness is known", figures.timed),
        ("On time (complete by the first meeting's deadline)", figures.on_time),
        ("On time (%)", percent(figures.on_time_rate)),
        ("Deferred to a later meeting", figures.deferred),
        ("  by the cut-off (R6)", figures.cut_off),
        ("  not heard at its meeting (R7)", figures.not_heard),
        ("Deferred (%)", percent(figures.deferred_rate)),
        ("Decisions recorded", figures.decisions),
        ("Decision sheets sent", figures.sheets_sent),
        (f"Decision sheets sent within {figures.sheet_days} days", figures.sheets_within),
        (f"Within {figures.sheet_days} days (%)", percent(figures.sheets_rate)),
    ]


def _excel_chart(chart: Chart, sheet: Worksheet, first: int, last: int) -> BarChart | LineChart:
    made: BarChart | LineChart
    if chart.kind == "line":
        made = LineChart()
    else:
        made = BarChart()
        made.type = "bar" if chart.kind == "bar" else "col"
        if chart.kind == "bar":
            # Excel draws a bar chart's first category at the bottom; this puts it on top.
            made.y_axis.scaling.orientation = "minMax"
            made.x_axis.scaling.orientation = "maxMin"
    made.title = chart.title
    made.legend = None
    made.width, made.height = 16, 8
    data = Reference(sheet, min_col=2, min_row=first - 1, max_row=max(last, first))
    made.add_data(data, titles_from_data=True)
    made.set_categories(Reference(sheet, min_col=1, min_row=first, max_row=max(last, first)))
    return made


def _marked(sheet: Worksheet, marking: str, title: str) -> None:
    """The protective marking above and below every printed page, as on the agenda."""
    # "&" starts a code in a header ("Health & Care Panel"): the texts are written doubled.
    for part in (sheet.oddHeader, sheet.evenHeader, sheet.firstHeader):
        part.center.text = f"&B{header_text(marking)}"
    for part in (sheet.oddFooter, sheet.evenFooter, sheet.firstFooter):
        part.center.text = f"{header_text(marking)} — {header_text(title)} — page &P of &N"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4


def workbook(
    figures: QuarterFigures, charts: Sequence[Chart], marking: str, title: str, made_at: datetime
) -> bytes:
    """The quarter as an .xlsx: a Summary sheet of tables and a Charts sheet of native charts.

    `made_at` (the service's clock) dates it: openpyxl's own `save` would stamp the system's.
    """
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    put(summary, 1, 1, title).font = Font(bold=True, size=14)
    put(summary, 2, 1, f"{marking}: aggregate figures only, no child is named.")
    _table(summary, "The quarter", ("Figure", "Value"), _summary_rows(figures))
    drawn = book.create_sheet("Charts")
    for chart, anchor in zip(charts, CHART_CELLS, strict=True):
        unit = "%" if chart.percent else "Referrals" if chart.key != "outcomes" else "Decisions"
        first, last = _table(summary, chart.title, ("", unit), chart.points)
        drawn.add_chart(_excel_chart(chart, summary, first, last), anchor)
    summary.column_dimensions["A"].width = 62
    summary.column_dimensions["B"].width = 14
    for sheet in (summary, drawn):
        _marked(sheet, marking, title)
    book.properties.title = title
    book.properties.creator = book.properties.lastModifiedBy = "MASP pipeline"
    stamp = made_at.astimezone(UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    buffer = io.BytesIO()
    with ZipFile(buffer, "w", ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    return buffer.getvalue()


# The report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    chart: Chart
    png: bytes


@dataclass(frozen=True)
class Report:
    """Everything the quarterly report is made of: figures, the workbook and the pictures."""

    figures: QuarterFigures
    title: str
    xlsx: bytes
    pictures: tuple[Picture, ...]

    @property
    def filename(self) -> str:
        panel = f"{self.figures.panel}-" if self.figures.panel else ""
        return f"quarterly-{panel}{self.figures.quarter}.xlsx"

    def headline(self) -> list[str]:
        return headline(self.figures)


def report_title(app: App, quarter: Quarter, panel_id: str | None) -> str:
    name = app.config.panel(panel_id).name if panel_id else "All panels"
    return f"{name}: quarterly picture, {quarter.label}"


def make_report(
    app: App, session: Session, quarter: Quarter, panel_id: str | None = None
) -> Report:
    figures = gather_quarter(app, session, quarter, panel_id)
    charts = charts_of(figures)
    title = report_title(app, quarter, panel_id)
    marking = app.config.pack.protective_marking
    return Report(
        figures,
        title,
        workbook(figures, charts, marking, title, app.clock.now()),
        tuple(Picture(chart, picture(chart)) for chart in charts),
    )


def quarter_lines(app: App, session: Session, panel_id: str, day: date) -> tuple[str, ...]:
    """Agenda section 4 of a quarterly meeting on `day`: the previous quarter's figures (R11)."""
    return tuple(headline(gather_quarter(app, session, Quarter.of(day).previous(), panel_id)))
