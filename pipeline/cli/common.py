"""What every `masp` command shares: the consoles, the global options, opening the service."""

from __future__ import annotations

import gc
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import MarkupMode

from pipeline.cli.logs import use_format
from pipeline.clock import Clock

if TYPE_CHECKING:
    from pipeline.app import App
    from pipeline.config import Config
    from pipeline.store.db import Store

# Off a terminal (cron mail, a log, a pipe) usage errors are click's plain lines: Typer's
# boxed ones are hard-wrapped at 80 columns, which breaks a long message for anyone searching it.
MARKUP_MODE: MarkupMode = "rich" if sys.stderr.isatty() else None


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


def parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--now must be an ISO-8601 date-time, got {value!r}") from exc
    if when.tzinfo is None:
        raise typer.BadParameter("--now needs a time zone offset, e.g. 2026-12-01T09:00:00+00:00")
    return when


def clock_of(ctx: typer.Context) -> Clock:
    """The one clock for this command: the system's, or starting at --now."""
    g: Globals = ctx.obj
    return Clock.starting_at(g.now) if g.now else Clock.system()


def _load(ctx: typer.Context) -> tuple[Config, Clock]:
    # Imported here: pydantic and the config's models cost more than `masp --help` takes.
    from pipeline.config import load_config

    g: Globals = ctx.obj
    config = load_config(g.config_path)
    # Set once the config says how: a line logged before (a bad config) is plain text.
    use_format(config.logging.format)
    return config, clock_of(ctx)


def settings(ctx: typer.Context) -> tuple[Config, Clock]:
    """Load and validate the config once; build the clock from --now."""
    loaded = _load(ctx)
    work_begins()
    return loaded


def work_begins() -> None:
    """The command has imported what it needs: collect garbage again (`main` paused it).

    Importing SQLAlchemy's ORM, the models and pydantic's config makes hundreds of thousands
    of long-lived objects and no garbage; the cyclic collector walked them again and again for
    nothing, a quarter of `masp status`'s start-up. Every command that does more than print
    calls this (through `settings`), so a long run (`masp run`, `masp demo`) collects as usual.
    """
    # What is loaded by now lives as long as the process: later collections need not look.
    gc.freeze()
    gc.enable()


def open_app(ctx: typer.Context) -> App:
    """The service for one command, to be used as `with open_app(ctx) as service:`."""
    # Imported here so commands that need no database (form, meetings, --help) start quickly.
    from pipeline.app import App

    config, clock = _load(ctx)
    service = App.open(config, clock)
    work_begins()
    return service


@dataclass(frozen=True)
class Reading:
    """What a command that only looks needs: the config, the clock and the store."""

    config: Config
    clock: Clock
    store: Store


@contextmanager
def open_reading(ctx: typer.Context) -> Iterator[Reading]:
    """The store alone, for commands that only read it (`status`, `health`): no templates,
    signer or document reader to set up, so a monitor's check starts quickly."""
    from pipeline.store.db import Store

    config, clock = _load(ctx)
    store = Store.open(config.database_url)
    work_begins()
    try:
        yield Reading(config, clock, store)
    finally:
        store.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def actor() -> str:
    """Who runs this command, as the audit trail records an administrator's action (R17)."""
    return f"cli:{getpass.getuser()}"
