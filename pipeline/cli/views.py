"""Looking at the state of things: the cases, and the meetings to come."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import console, open_reading, print_json, settings


def status(
    ctx: typer.Context,
    reference: Annotated[str | None, typer.Argument(help="One case, e.g. MASP-2026-0007.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Where every case stands: documents present and missing, meeting, deadline; after the
    meeting, its decision, actions due, review, decision sheet and follow-up."""
    from pipeline.outputs import status as view

    with open_reading(ctx) as service, service.store.reading() as session:
        # Today, by the one clock (`--now`): what marks an agreed action overdue.
        now = service.clock.now()
        today = now.astimezone(service.config.tz).date()
        if reference:
            data = view.one_case(service.config, session, reference, today)
            print_json(data) if as_json else view.print_detail(console, data)
            return
        rows = view.all_cases(service.config, session, today)
        attention = view.needs_attention(session)
        if not as_json:
            from pipeline.outputs.health import check, summary_lines

            vitals = summary_lines(service.config, check(service.config, session, now))
    if as_json:
        # A list of cases (SPEC §5); the service's own state is `masp health --json`.
        print_json(rows)
        return
    view.print_table(console, rows)
    for line in attention:
        console.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)
    for line in vitals:
        console.print(escape(line), highlight=False)


def health(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """Is the service alive? Exit status 0 when healthy, 1 when polling has stopped, the outbox
    is stuck or the mail server refused the login (each problem is printed), 2 for a bad config.
    For a monitor: run it from a timer or as a Nagios-style check."""
    from pipeline.outputs.health import check, summary_lines

    with open_reading(ctx) as service, service.store.reading() as session:
        vitals = check(service.config, session, service.clock.now())
        lines = summary_lines(service.config, vitals)
    if as_json:
        print_json(vitals.as_json())
    else:
        console.print("OK" if vitals.healthy else "UNHEALTHY", highlight=False)
        for line in lines:
            console.print(escape(line), highlight=False)
    if not vitals.healthy:
        raise typer.Exit(1)


def meetings(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(help="How many meetings per panel.")] = 6,
) -> None:
    """List upcoming meetings with their document deadline and timeslot-notice date."""
    from pipeline.outputs.calendar import print_meetings

    config, clock = settings(ctx)
    print_meetings(console, config, clock.now(), count)
