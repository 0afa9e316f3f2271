"""Upgrades, backups and restores: the only commands that work on a database of another schema."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import console, errors, settings

db_app = typer.Typer(
    help="The database's schema: upgrade it after installing a new masp.", no_args_is_help=True
)

# Where `masp db upgrade` keeps the backup it takes first.
BACKUPS = "backups"


@db_app.command()
def upgrade(ctx: typer.Context) -> None:
    """Back the database and data_dir up into data_dir/backups/<time>/, then upgrade the
    schema to the one this masp needs. Run it after installing a new masp."""
    from pipeline.store import backup, db

    config, clock = settings(ctx)
    engine = db.open_engine(config.database_url)
    try:
        with engine.connect() as connection:
            before = db.schema_revision(connection)
        if before == db.HEAD_REVISION:
            console.print(f"The database is already at {before}: nothing to upgrade.")
            return
        now = clock.now()
        folder = config.data_path / BACKUPS / now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        if before is not None:
            snapshot = backup.back_up(config, folder, now)
            console.print(f"Backed up to {escape(str(snapshot.folder))}", highlight=False)
        start, end = db.upgrade(engine)
    finally:
        engine.dispose()
    console.print(f"Upgraded the database from {start or 'empty'} to {end}.")


@db_app.command()
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The new, empty database as a URL, e.g. postgresql+psycopg://masp@HOST:5432/masp"
            " (leave the password out: it is read from PGPASSWORD or ~/.pgpass).",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Copy even though the service seems to be running."),
    ] = False,
) -> None:
    """Copy the configured database (SQLite by default) into a new, empty one, to move an
    installation to PostgreSQL: the schema, every row and the reference counters, in one
    transaction, then every table's row count checked. Stop `masp run` first; files under
    data_dir stay where they are."""
    from pipeline.store.copy import CopyRefused, copy_store, target_url

    config, clock = settings(ctx)
    try:
        copied = copy_store(config, target_url(to), clock.now(), force=force)
    except CopyRefused as exc:
        errors.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"Copied {len(copied.tables)} tables, {copied.rows} rows into {escape(copied.target)} "
        f"in {copied.seconds:.1f} s; every table has as many rows there as here.",
        highlight=False,
    )
    password = (
        " Leave the password out: psycopg reads PGPASSWORD or ~/.pgpass."
        if copied.target.startswith("postgresql")
        else ""
    )
    console.print(
        "Next: point the service at the new database, then start it again. In config.yaml:\n"
        f"  database: {escape(copied.target)}\n"
        "or in MASP_DATABASE (or the credential masp_database), which wins over the file: set "
        f"it there if the old database was set there.{password} Then `masp check-config`, "
        "and start `masp run`.\n"
        f"Files stay where they are: raw emails, documents and packs under "
        f"{escape(str(config.data_path))}, which the new database points at; keep data_dir "
        "and the signing key. The old database is unchanged.",
        highlight=False,
    )


def backup(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="A new or empty folder for the backup.")],
) -> None:
    """Write one consistent snapshot (the database, every file under data_dir, the signing
    key, and a manifest of sha256s) into FOLDER; safe while `masp run` is working."""
    from pipeline.store.backup import back_up

    config, clock = settings(ctx)
    snapshot = back_up(config, folder, clock.now())
    console.print(
        f"Backed up the database (schema {snapshot.schema or 'PostgreSQL'}) and "
        f"{snapshot.files} files to {escape(str(snapshot.folder))}",
        highlight=False,
    )


def restore(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="A folder `masp backup` wrote.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the database and files of a data_dir in use."),
    ] = False,
) -> None:
    """Put a backup back into the configured data_dir and database, after checking every file
    against its manifest. Stop `masp run` first."""
    from pipeline.store.backup import restore as put_back

    config, _ = settings(ctx)
    snapshot = put_back(config, folder, force=force)
    console.print(
        f"Restored the database and {snapshot.files} files from "
        f"{escape(str(snapshot.folder))} into {escape(str(config.data_path))}",
        highlight=False,
    )
