"""The `masp` command: one verb per job, each with --help.

Exit status: 0 success, 2 bad usage or bad config, 1 a runtime failure.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli import cases, db, decisions, mail, meeting, report, running, setup, views, web
from pipeline.cli.common import MARKUP_MODE, Globals, errors, parse_now
from pipeline.cli.logs import TEXT_FORMAT
from pipeline.disk import make_files_private
from pipeline.errors import ConfigError, PipelineError

app = typer.Typer(
    help="MASP pipeline: runs the Multi Agency Support Panel cycle out of its shared inbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP_MODE,
)
# Registered here, so the command modules never import this one; `masp --help` lists them in
# this order.
for command in (
    *(running.poll, running.run, running.tick),
    *(views.status, views.health, views.meetings),
    *(setup.form, setup.check_config, setup.demo),
    cases.screen,
    *(db.backup, db.restore),
    web.web,
):
    app.command()(command)
app.add_typer(mail.quarantine_app, name="quarantine")
app.add_typer(cases.case_app, name="case")
app.add_typer(mail.outbox_app, name="outbox")
app.add_typer(meeting.meeting_app, name="meeting")
app.add_typer(decisions.decisions_app, name="decisions")
app.add_typer(report.report_app, name="report")
app.add_typer(db.db_app, name="db")
app.add_typer(web.users_app, name="users")


def _show_version(wanted: bool) -> None:
    """`masp --version`: the installed distribution's version, read from its metadata (no
    config, no database), so it answers fast and matches what pip installed."""
    if wanted:
        from importlib.metadata import version

        typer.echo(f"masp-pipeline {version('masp-pipeline')}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path, typer.Option("--config", envvar="MASP_CONFIG", help="Path to config.yaml.")
    ] = Path("config.yaml"),
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar="MASP_NOW",
            help="Run as if the clock read this ISO-8601 time (with offset).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more detail.")] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Global options shared by every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format=TEXT_FORMAT,
    )
    # Libraries that read attachments log file names and contents at WARNING: names of
    # children must never reach a log (SPEC §7), so they are quietened here.
    # fpdf2 and fontTools name the characters a font lacks, which are a child's data too.
    for noisy in (
        *("extract_msg", "olefile", "tnefparse", "pdfminer", "pypdf", "docx"),
        *("fpdf", "fontTools"),
        # pikepdf passes on qpdf's warnings about a damaged attachment, and announces itself at
        # INFO before the config can switch the log to JSON lines.
        "pikepdf",
        # matplotlib explains at INFO how it reads chart labels; the quarterly report's are ours.
        "matplotlib",
    ):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    # Migrations announce themselves at INFO on every command; only problems matter.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Globals(config, parse_now(now))


def main() -> None:
    """Entry point: maps the exception tree onto exit statuses (usage errors exit 2 in click)."""
    # The process starts here (`masp`, `python -m pipeline`, the service's unit file): set once.
    make_files_private()
    # Paused while the command imports its libraries; `common.work_begins` turns it back on.
    gc.disable()
    try:
        app()
    except ConfigError as exc:
        errors.print(f"[red]Configuration error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except PipelineError as exc:
        errors.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
