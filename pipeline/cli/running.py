"""Running the service: one intake pass, the time-based jobs, or both until stopped."""

from __future__ import annotations

import typer
from rich.markup import escape

from pipeline.cli.common import console, errors, open_app


def poll(ctx: typer.Context) -> None:
    """One intake pass: read new mail, file and answer it, move it aside, send the outbox."""
    from pipeline.documents.spawn import start_early

    # The readers' fork server loads the parsers on another processor meanwhile.
    start_early()
    from pipeline.intake.poll import poll as run_poll

    with open_app(ctx) as service:
        report = run_poll(service)
    console.print(
        f"Stored {report.ingest.stored} new email(s) ({report.ingest.duplicates} duplicate(s)); "
        f"filed {report.filing.filed}, automatic (not answered) {report.filing.ignored}, "
        f"quarantined {report.filing.quarantined}; "
        f"moved {report.moved}; sent {report.delivery.sent}, "
        f"waiting {report.delivery.waiting}, failed {report.delivery.failed}."
    )
    for error in report.errors:
        errors.print(f"[yellow]Warning:[/yellow] {escape(error)}", highlight=False)
    if report.delivery.waiting:
        errors.print(
            f"[yellow]Warning:[/yellow] the mail server could not take "
            f"{report.delivery.waiting} email(s); they wait in the outbox for the next poll.",
            highlight=False,
        )
    if report.errors or report.delivery.waiting:
        raise typer.Exit(1)


def run(ctx: typer.Context) -> None:
    """Run the service until SIGTERM or SIGINT: poll on the interval, wake on IMAP IDLE."""
    from pipeline.documents.spawn import start_early
    from pipeline.service import serve, stop_on_signals

    # Installed before anything slow, so a signal during start-up still stops cleanly.
    stop = stop_on_signals()
    start_early()
    with open_app(ctx) as service:
        serve(service, stop)


def tick(ctx: typer.Context) -> None:
    """Run every time-based job that is due (reminders, cut-off, …) and send the outbox."""
    from pipeline.service import run_due_jobs

    with open_app(ctx) as service:
        report = run_due_jobs(service)
    console.print(
        f"{len(report.done)} job(s) done, {len(report.skipped)} skipped as stale, "
        f"{len(report.failed)} failed; {report.sent} email(s) sent."
    )
    for key in report.failed:
        errors.print(f"Warning: job {key} failed (the log says why).", markup=False)
    if report.failed:
        raise typer.Exit(1)
