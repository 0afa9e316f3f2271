"""`masp report`: the panel's reports; `masp report quarterly` is R15's quarterly picture."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import console, open_app, settings

if TYPE_CHECKING:
    from pipeline.rules.quarterly import Quarter

report_app = typer.Typer(help="The panel's reports: the quarterly picture.", no_args_is_help=True)


def _quarter(text: str | None, today_quarter: Quarter) -> Quarter:
    # Imported here: the quarterly rules load the form reader, which `masp --help` never needs.
    from pipeline.rules.quarterly import BadQuarter, Quarter

    if text is None:
        return today_quarter
    try:
        return Quarter.parse(text)
    except BadQuarter as exc:
        raise typer.BadParameter(str(exc), param_hint="--quarter") from exc


@report_app.command("quarterly")
def quarterly(
    ctx: typer.Context,
    quarter: Annotated[
        str | None,
        typer.Option(
            "--quarter", help="The quarter, e.g. 2027Q1 (default: the last complete quarter)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the workbook (default: data_dir/reports/)."),
    ] = None,
    panel: Annotated[
        str | None, typer.Option("--panel", help="One panel's id (default: every panel).")
    ] = None,
) -> None:
    """Write the quarterly picture's workbook and email it to the chair with its charts (R15)."""
    from pipeline.intake.poll import deliver_configured
    from pipeline.panel.quarterly import make_quarterly
    from pipeline.rules.quarterly import last_complete

    config, clock = settings(ctx)
    chosen = _quarter(quarter, last_complete(clock.now().astimezone(config.tz).date()))
    if panel is not None and panel not in {p.id for p in config.panels}:
        known = ", ".join(p.id for p in config.panels)
        message = f"no panel {panel!r}; the panels are {known}"
        raise typer.BadParameter(message, param_hint="--panel")
    with open_app(ctx) as service:
        with service.store.session() as session:
            made = make_quarterly(service, session, chosen, panel, out)
            lines = made.report.headline()
            held = made.outbox.hold_reason
        deliver_configured(service)
    chair = service.config.people_of(panel).chair.email
    sending = (
        f"held, {held} (masp outbox list)"
        if held
        else "queued (sent now, or by the next poll if the mail server was busy)"
    )
    for line in (f"Wrote {made.path}", *lines, f"The email to the chair ({chair}): {sending}."):
        console.print(line, markup=False, highlight=False)
