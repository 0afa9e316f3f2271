"""The staff console (`masp web`) and its local accounts (`masp users`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import MARKUP_MODE, console, open_app

users_app = typer.Typer(
    help="Console accounts: add, list and remove the people who may sign in to `masp web`.",
    no_args_is_help=True,
    rich_markup_mode=MARKUP_MODE,
)


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (behind a reverse proxy).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
) -> None:
    """Serve the staff console: the board, cases, quarantine and held mail, in a browser.
    Put it behind the council's reverse proxy for TLS and set web.behind_tls."""
    from pipeline.web.server import serve

    with open_app(ctx) as service:
        serve(service, host, port)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's email address (their sign-in).")],
    role: Annotated[str, typer.Option(help="administrator, chair, service_manager or member.")],
    name: Annotated[str, typer.Option(help="The name shown in the console.")] = "",
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file instead of asking for it."),
    ] = None,
) -> None:
    """Add a local account (or set a new password and role for one); the password is kept as
    an argon2 hash."""
    from pipeline.store.audit import audit
    from pipeline.web.users import UserError, add_local, role_of

    try:
        chosen = role_of(role)
    except UserError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc
    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_app(ctx) as service, service.store.session() as session:
        try:
            row = add_local(session, email, chosen, password, name, service.clock.now())
        except UserError as exc:
            raise typer.BadParameter(str(exc)) from exc
        audit(
            session,
            service.clock.now(),
            None,
            "web-user-added",
            by="terminal",
            account=row.email,
            role=chosen.value,
        )
    console.print(f"Account {row.email} ({chosen.value}) saved.", markup=False, highlight=False)


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """The console's accounts: address, role, where they sign in, and when they last did."""
    from pipeline.web.users import all_users

    with open_app(ctx) as service, service.store.session() as session:
        rows = all_users(session)
        lines = [
            f"{r.email} {r.role} ({r.source}) last signed in "
            f"{r.last_sign_in_at.isoformat() if r.last_sign_in_at else 'never'}"
            for r in rows
        ]
    if not lines:
        console.print("No console accounts yet: add one with `masp users add`.", markup=False)
    for line in lines:
        console.print(line, markup=False, highlight=False)


@users_app.command("remove")
def users_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
) -> None:
    """Remove an account; anyone signed in with it is signed out at their next click."""
    from pipeline.store.audit import audit
    from pipeline.web.users import remove

    with open_app(ctx) as service, service.store.session() as session:
        remove(session, email)
        audit(
            session,
            service.clock.now(),
            None,
            "web-user-removed",
            by="terminal",
            account=email.strip().lower(),
        )
    console.print(f"Account {email} removed.", markup=False, highlight=False)
