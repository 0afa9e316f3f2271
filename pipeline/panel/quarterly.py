"""R15: the quarterly report made, kept under data_dir (owner-only) and emailed to the chair.

The email shows the charts as inline pictures (multipart/related, `cid:`: mail programs block
remote pictures) and carries the workbook. It is queued like every email; `masp report
quarterly` sends it at once, else the next poll or run does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.disk import ensure_private_dir, write_durably
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft, enqueue
from pipeline.outputs.quarterly import XLSX, Report, make_report
from pipeline.rules.quarterly import Quarter
from pipeline.store.audit import audit
from pipeline.store.models import OutboxItem

PNG = "image/png"
REPORTS = "reports"


@dataclass(frozen=True)
class Made:
    report: Report
    path: Path
    outbox: OutboxItem


def figures_digest(report: Report) -> str:
    """What the figures say, as a digest: the same figures are emailed once."""
    return hashlib.sha256(json.dumps(asdict(report.figures), sort_keys=True).encode()).hexdigest()


def write_report(app: App, report: Report, out: Path | None) -> Path:
    """The workbook written to `out`, or under data_dir/reports/, readable by its owner only."""
    target = out or app.config.data_path / REPORTS / report.filename
    if out is None:
        ensure_private_dir(target.parent)
    write_durably(target, report.xlsx)
    return target


def _context(app: App, report: Report) -> dict[str, object]:
    figures = report.figures
    # One panel's report is its own chair's; the picture of every panel, the installation's.
    people = app.config.people_of(figures.panel)
    return {
        "title": report.title,
        "quarter": figures.quarter,
        "headline": report.headline(),
        "sheet_days": figures.sheet_days,
        "charts": [
            {"cid": _cid(report, p.chart.key), "title": p.chart.title} for p in report.pictures
        ],
        "workbook_name": report.filename,
        "chair": people.chair.name,
        "administrator": people.administrator.name,
        "panel_address": app.config.mailbox.address,
    }


def _cid(report: Report, key: str) -> str:
    # Unique per email: a mail program that keeps several reports in one thread must not show
    # one quarter's picture in another's email.
    return f"{key}.{report.figures.quarter}.{report.figures.panel or 'all'}@masp"


def quarterly_draft(app: App, report: Report) -> Draft:
    """The chair's email: the headline figures, the charts inline, the workbook attached."""
    pictures = tuple(
        FileAttachment(p.chart.filename, PNG, p.png, inline_id=_cid(report, p.chart.key))
        for p in report.pictures
    )
    figures = report.figures
    return Draft(
        purpose=f"quarterly:{figures.panel or 'all'}:{figures.quarter}:{figures_digest(report)}",
        template="quarterly_report",
        to=(app.config.people_of(figures.panel).chair.email,),
        context=_context(app, report),
        panel=figures.panel,
        attachments=(*pictures, FileAttachment(report.filename, XLSX, report.xlsx)),
    )


def make_quarterly(
    app: App, session: Session, quarter: Quarter, panel_id: str | None, out: Path | None = None
) -> Made:
    """Make the quarter's report, write its workbook and queue it to the chair; audited."""
    report = make_report(app, session, quarter, panel_id)
    path = write_report(app, report, out)
    item = enqueue(app, session, quarterly_draft(app, report))
    audit(
        session,
        app.clock.now(),
        None,
        "quarterly-report",
        quarter=quarter.label,
        panel=panel_id,
        outbox=item.id,
        referrals=report.figures.referrals,
    )
    return Made(report, path, item)
