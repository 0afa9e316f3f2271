"""`masp decisions import FILE`: record the meeting's filled decisions workbook (R13)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import console, errors, open_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

decisions_app = typer.Typer(
    help="The meeting's decisions (R13): record the filled workbook.", no_args_is_help=True
)


def _meeting(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"--meeting must be an ISO-8601 date-time, e.g. 2026-12-08T10:00, got {value!r}"
        ) from exc


@decisions_app.command("import")
def import_workbook(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="The filled workbook (.xlsx).", exists=True, dir_okay=False, readable=True
        ),
    ],
    meeting: Annotated[
        str | None,
        typer.Option(
            "--meeting",
            help="The meeting it decides, e.g. 2026-12-08T10:00 (panel time); by default the "
            "one the workbook names.",
        ),
    ] = None,
) -> None:
    """Check a filled decisions workbook whole and record it, or list every problem by cell.

    Nothing is recorded unless the whole workbook is right; a corrected workbook replaces the
    earlier decisions for its cases. The administrator is emailed what was recorded (or the
    problems). Exit status 0 when recorded, 1 when refused.
    """
    from pipeline.intake.poll import deliver_configured
    from pipeline.panel.decisions.record import APPLIED, record_workbook

    chosen = _meeting(meeting)
    data = file.read_bytes()
    with open_app(ctx) as service:
        if chosen is not None and chosen.tzinfo is None:
            chosen = chosen.replace(tzinfo=service.config.tz)
        with service.store.session() as session:
            row = record_workbook(service, session, data, "command", meeting=chosen)
            status, problems, import_id = row.status, list(row.problems), row.id
            lines = _recorded(session, import_id) if status == APPLIED else []
        deliver_configured(service)
    if status != APPLIED:
        errors.print(f"The workbook was not recorded (import {import_id}): nothing changed.")
        for problem in problems:
            errors.print(f"{escape(str(problem['cell']))}: {escape(str(problem['problem']))}")
        raise typer.Exit(1)
    console.print(f"Recorded {len(lines)} decision(s) (import {import_id}):", markup=False)
    for line in lines:
        console.print(line, markup=False)


def _recorded(session: Session, import_id: int) -> list[str]:
    from sqlalchemy import select

    from pipeline.store.models import Decision

    query = select(Decision).where(Decision.import_id == import_id).order_by(Decision.id)
    return [
        f"{d.case.reference} ({d.heard_as}): {d.outcome}; {len(d.actions)} action(s); "
        f"now {d.case.state}"
        for d in session.scalars(query)
    ]
