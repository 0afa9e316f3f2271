"""Setting up: the blank referral form, checking the config, and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import clock_of, console, settings, work_begins

if TYPE_CHECKING:
    from pipeline.config import Config


def form(
    out: Annotated[Path, typer.Option("--out", help="Where to write the blank form.")] = Path(
        "referral-form.docx"
    ),
) -> None:
    """Write the panel's blank referral form (Word, with content controls)."""
    from pipeline.documents.form import write_blank_form

    write_blank_form(out)
    console.print(f"Wrote the blank referral form to {out}", markup=False)


def check_config(ctx: typer.Context) -> None:
    """Validate config.yaml, then connect to the mailbox and mail server and say what was found."""
    from pipeline.mailbox.check import check_mailbox
    from pipeline.templates import Templates

    config, _ = settings(ctx)
    # Each panel's own templates are checked as the service checks them at start-up.
    Templates.for_config(config)
    console.print(
        f"config is valid: {len(config.panels)} panel(s), back-end {config.mailbox.backend}",
        markup=False,
    )
    for line in panel_lines(config):
        console.print(line, markup=False, highlight=False)
    ok = check_mailbox(config, console)
    if not ok:
        raise typer.Exit(1)


def panel_lines(config: Config) -> list[str]:
    """Per panel: the addresses that reach it, who screens, and its own templates, if any."""
    local, _, domain = config.mailbox.address.partition("@")
    lines = []
    for panel in config.panels:
        addresses = ", ".join([*panel.addresses, f"{local}+{panel.id}@{domain}"])
        screeners = ", ".join(p.email for p in config.people_of(panel.id).screeners) or "nobody"
        own = f"; its own templates in {config.path(panel.templates)}" if panel.templates else ""
        lines.append(f"panel {panel.id}: mail to {addresses}; screened by {screeners}{own}")
    return lines


def demo(
    ctx: typer.Context,
    keep: Annotated[Path | None, typer.Option(help="Keep the demo data in this folder.")] = None,
) -> None:
    """Show a whole panel cycle on synthetic referrals, with no mail server needed: intake,
    screening, the pack, the meeting's decisions, sheets, reviews, follow-ups and the
    quarterly picture."""
    from pipeline.demo import run_demo

    work_begins()
    run_demo(console, keep, clock_of(ctx))
