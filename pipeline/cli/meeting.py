"""The administrator's word on a meeting: its agenda is final, its pack may go (R12, R17)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from pipeline.cli.common import MARKUP_MODE, actor, console, open_app

meeting_app = typer.Typer(
    help="A meeting's pack: release it when the agenda is final (pack.release: manual).",
    no_args_is_help=True,
    rich_markup_mode=MARKUP_MODE,
)


@meeting_app.command("release")
def meeting_release(
    ctx: typer.Context,
    panel: Annotated[str, typer.Argument(help="The panel's id, e.g. masp.")],
    day: Annotated[str, typer.Argument(help="The meeting's date, YYYY-MM-DD.")],
) -> None:
    """Say the meeting's agenda is final: its pack goes now if due (else when it is due)."""
    from pipeline.intake.poll import deliver_configured
    from pipeline.jobs import run_due
    from pipeline.panel.distribute import pack_jobs
    from pipeline.panel.release import release_pack

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"DATE must be YYYY-MM-DD, got {day!r}") from None
    with open_app(ctx) as service:
        with service.store.session() as session:
            release_pack(service, session, panel, when, actor())
        # The pack goes now rather than at the service's next tick; its job key makes sure
        # that tick does not send it again.
        report = run_due(service, [pack_jobs])
        deliver_configured(service)
    sent = [key for key in report.done if key.startswith(f"pack:{panel}:{when.isoformat()}")]
    console.print(
        f"The {panel} pack for {when.isoformat()} is released"
        + ("; it has been sent." if sent else "; it goes when it is due (after the slot notices)."),
        markup=False,
        highlight=False,
    )
