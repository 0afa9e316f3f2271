"""`masp meetings`: the coming meetings of every panel, with deadlines and notice dates."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.config import Config
from pipeline.rules.meetings import upcoming


def _local(config: Config, when: datetime) -> str:
    return when.astimezone(config.tz).strftime("%a %d %b %Y %H:%M")


def print_meetings(console: Console, config: Config, now: datetime, count: int) -> None:
    for panel in config.panels:
        table = Table(title=escape(f"{panel.name} ({panel.id})"))
        for column in ("Meeting", "Documents deadline", "Timeslots sent by"):
            table.add_column(column)
        for meeting in upcoming(panel, config.tz, now, count):
            table.add_row(
                _local(config, meeting.starts_at),
                _local(config, meeting.deadline),
                _local(config, meeting.slot_notice),
            )
        console.print(table)
    console.print(f"Times are {config.timezone}.", markup=False)
