"""The `masp` command: one verb per job, each with --help.

Exit status: 0 success, 2 bad usage or bad config, 1 a runtime failure.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import MarkupMode

from pipeline.clock import Clock
from pipeline.config import Config, load_config
from pipeline.errors import ConfigError, PipelineError

# Off a terminal (cron mail, a log, a pipe) usage errors are click's plain lines: Typer's
# boxed ones are hard-wrapped at 80 columns, which breaks a long message for anyone searching it.
MARKUP_MODE: MarkupMode = "rich" if sys.stderr.isatty() else None
app = typer.Typer(
    help="MASP pipeline: runs the Multi Agency Support Panel cycle out of its shared inbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP_MODE,
)
quarantine_app = typer.Typer(
    help="Emails that could not be processed: list and replay them.",
    no_args_is_help=True,
    rich_markup_mode=MARKUP_MODE,
)
outbox_app = typer.Typer(
    help="Emails waiting to be sent or held for the administrator.",
    no_args_is_help=True,
    rich_markup_mode=MARKUP_MODE,
)
case_app = typer.Typer(
    help="The administrator's word on a case: held emails, Section 20.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(case_app, name="case")
app.add_typer(outbox_app, name="outbox")


def _console(stderr: bool = False) -> Console:
    """A console that wraps lines only on a terminal: elsewhere a line stays one line.

    Every value printed through it is data, never markup: callers escape it (`escape`) or
    print with markup=False, so a name holding "[/x]" is shown as written.
    """
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=not stream.isatty())


console = _console()
# Errors and warnings go to standard error, so standard output stays the command's result.
errors = _console(stderr=True)


@dataclass
class Globals:
    config_path: Path
    now: datetime | None


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--now must be an ISO-8601 date-time, got {value!r}") from exc
    if when.tzinfo is None:
        raise typer.BadParameter("--now needs a time zone offset, e.g. 2026-12-01T09:00:00+00:00")
    return when


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
) -> None:
    """Global options shared by every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Libraries that read attachments log file names and contents at WARNING: names of
    # children must never reach a log (SPEC §7), so they are quietened here.
    # fpdf2 and fontTools name the characters a font lacks, which are a child's data too.
    for noisy in (
        *("extract_msg", "olefile", "tnefparse", "pdfminer", "pypdf", "docx"),
        *("fpdf", "fontTools"),
    ):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    # Migrations announce themselves at INFO on every command; only problems matter.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Globals(config, _parse_now(now))


def settings(ctx: typer.Context) -> tuple[Config, Clock]:
    """Load and validate the config once; build the clock from --now."""
    g: Globals = ctx.obj
    config = load_config(g.config_path)
    clock = Clock.starting_at(g.now) if g.now else Clock.system()
    return config, clock


def open_app(ctx: typer.Context) -> Any:
    from pipeline.app import App

    config, clock = settings(ctx)
    return App.open(config, clock)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def main() -> None:
    """Entry point: maps the exception tree onto exit statuses (usage errors exit 2 in click)."""
    try:
        app()
    except ConfigError as exc:
        errors.print(f"[red]Configuration error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except PipelineError as exc:
        errors.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)


# Importing the command module registers its commands on `app`.
from pipeline import commands  # noqa: E402,F401
