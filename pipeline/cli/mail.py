"""Emails the administrator looks after: the quarantine and the held outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.common import MARKUP_MODE, actor, console, errors, open_app, print_json
from pipeline.errors import NotFound
from pipeline.states import MessageState

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


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Emails that could not be processed: who sent them, their subject, and why."""
    from sqlalchemy import select

    from pipeline.mime.headers import headline
    from pipeline.store.models import Message

    with open_app(ctx) as service, service.store.session() as session:
        rows = session.scalars(select(Message).where(Message.status == MessageState.QUARANTINED))
        items = []
        for r in rows:
            sender, subject = headline(service.files.read(r.raw_path))
            error = (r.error or "").strip().splitlines()
            items.append(
                {
                    "id": r.id,
                    "received_at": r.received_at.isoformat(),
                    "from": sender,
                    "subject": subject,
                    "category": r.category,
                    "attempts": r.attempts,
                    "size": r.size,
                    "error": error[-1] if error else "",
                }
            )
    if as_json:
        print_json(items)
        return
    if not items:
        console.print("Nothing is quarantined.")
    for item in items:
        # Senders write the from and subject lines: printed as text, never read as markup.
        console.print(
            f"{item['id']}: {item['received_at']} from {item['from'] or '(no sender)'}, "
            f'subject "{item["subject"]}": {item["category"]} '
            f"({item['size']} bytes, {item['attempts']} attempt(s)) {item['error']}",
            markup=False,
            highlight=False,
        )


@quarantine_app.command("replay")
def quarantine_replay(
    ctx: typer.Context,
    ledger_id: Annotated[int, typer.Argument(help="The id shown by `masp quarantine list`.")],
) -> None:
    """Process a quarantined email again (after a fix, or after raising a limit)."""
    from pipeline.intake.filing import replay
    from pipeline.intake.poll import deliver_configured
    from pipeline.store.models import Message

    with open_app(ctx) as service:
        with service.store.session() as session:
            row = session.get(Message, ledger_id)
            if row is not None and row.status == MessageState.PURGED:
                raise NotFound(
                    f"email {ledger_id} was deleted after the retention period "
                    "(retention.quarantine_days); ask its sender to send it again"
                )
            if row is None or row.status != MessageState.QUARANTINED:
                raise NotFound(
                    f"no quarantined email with id {ledger_id}: see `masp quarantine list`"
                )
        report = replay(service, ledger_id)
        deliver_configured(service)
    if report.quarantined:
        errors.print(f"Email {ledger_id} failed again and stays in quarantine.")
        raise typer.Exit(1)
    console.print(
        f"Email {ledger_id} processed: {', '.join(report.cases) or 'no case'}.", markup=False
    )


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    state: Annotated[str, typer.Option(help="pending, held, sent, failed or all.")] = "held",
) -> None:
    """Emails in the outbox; by default those held for the administrator."""
    from sqlalchemy import select

    from pipeline.store.models import OutboxItem

    with open_app(ctx) as service, service.store.session() as session:
        query = select(OutboxItem).order_by(OutboxItem.id)
        if state != "all":
            query = query.where(OutboxItem.status == state)
        for item in session.scalars(query):
            # Plain text: "[held]" is the status, and addresses may hold brackets too.
            console.print(
                f"{item.id}: [{item.status}] {item.template} to {', '.join(item.addresses)}"
                f"{' — ' + item.hold_reason if item.hold_reason else ''}",
                markup=False,
                highlight=False,
            )


@outbox_app.command("release")
def outbox_release(
    ctx: typer.Context,
    outbox_id: Annotated[int, typer.Argument(help="The id shown by `masp outbox list`.")],
) -> None:
    """Let a held email go (the administrator has checked the recipient)."""

    from pipeline.intake.poll import deliver_configured
    from pipeline.outbox.resend import release

    with open_app(ctx) as service:
        with service.store.session() as session:
            release(service, session, outbox_id, actor())
        deliver_configured(service)
    console.print(f"Released email {outbox_id}.")


@outbox_app.command("resend")
def outbox_resend(
    ctx: typer.Context,
    outbox_id: Annotated[int, typer.Argument(help="A sent email's id (`masp outbox list`).")],
) -> None:
    """Send a fresh copy of a sent email (same content, a new Message-ID), checked again."""
    from pipeline.intake.poll import deliver_configured
    from pipeline.outbox.resend import resend

    with open_app(ctx) as service:
        with service.store.session() as session:
            copy = resend(service, session, outbox_id, actor())
            said = f"Email {outbox_id} re-sent as email {copy.id}" + (
                f"; held: {copy.hold_reason} (`masp outbox release {copy.id}`)"
                if copy.hold_reason
                else "."
            )
        deliver_configured(service)
    console.print(said, markup=False, highlight=False)
