"""`masp demo`: a newcomer's tour of the whole panel cycle on synthetic referrals, on the
Maildir back-end (no mail server): the month before the meeting (intake, reminders, screening,
cut-off, timeslots, pack) and the month after it (decisions, decision sheets, LARP, reviews)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import select

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import load_config
from pipeline.demo import after, before
from pipeline.demo.common import CONFIG, Cast, show_sent
from pipeline.outputs.status import all_cases, print_table
from pipeline.rules.meetings import upcoming
from pipeline.store.models import Pack


def _show_pack(console: Console, service: App, starts_at: datetime) -> None:
    """The pack of the story's meeting (the one with its cases), not whichever came last."""
    with service.store.session() as session:
        query = select(Pack).where(Pack.meeting == starts_at)
        pack = session.scalars(query.order_by(Pack.version.desc())).first()
    if pack is None:
        console.print("No pack was built.")
        return
    console.print(
        f"\nThe pack: version {pack.version}, {pack.pages} pages, cases "
        f"{', '.join(pack.references)} — {service.files.absolute(pack.stored_path)}",
        markup=False,
    )
    if shutil.which(service.config.pack.soffice) is None:
        console.print(
            "(LibreOffice is not installed, so Word documents appear as placeholder "
            "pages: `apt-get install libreoffice-writer-nogui` converts them.)"
        )


def run_demo(console: Console, keep: Path | None, clock: Clock) -> None:
    """A whole panel cycle on synthetic referrals, in a temporary folder.

    `clock` only chooses the meeting; the story then runs on its own frozen clocks.
    """
    folder = keep or Path(tempfile.mkdtemp(prefix="masp-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "config.yaml")
    # The meeting after next, so the whole month before it is in the future.
    meeting = upcoming(config.panels[0], config.tz, clock.now(), 2)[1]
    service = App.open(config, Clock.frozen_at(meeting.deadline - timedelta(days=4)))
    console.print(
        f"[bold]MASP demo[/bold] in {escape(str(folder))}: the month before the meeting on "
        f"{meeting.starts_at.astimezone(config.tz):%A %d %B %Y}.\n"
    )
    try:
        cast = Cast()
        before.story(service, console, meeting, cast)
        console.print("\n[bold]After the meeting[/bold]")
        end = after.story(service, console, meeting, cast)
        console.print()
        # The story's last day, not the service's starting clock (each step freezes its own).
        today = end.astimezone(config.tz).date()
        with service.store.session() as session:
            print_table(console, all_cases(service.config, session, today))
        show_sent(console, config.path(config.mailbox.maildir.sent))
        _show_pack(console, service, meeting.starts_at)
        if keep is not None:
            console.print(
                f"\nTry: masp --config {folder / 'config.yaml'} status --json", markup=False
            )
    finally:
        service.close()
        if keep is None:
            console.print("(Run with --keep DIR to keep the demo's files, the pack included.)")
            shutil.rmtree(folder, ignore_errors=True)
