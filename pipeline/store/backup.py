"""One consistent snapshot of the service's state, and putting it back.

A backup holds the database (SQLite's online backup, or `pg_dump` for PostgreSQL), every file
under `data_dir` (raw mail, documents, PDFs, packs, sheets, workbooks, reports, the signing
key) and a manifest naming each with its sha256. It can be taken while `masp run` works:
files are stored before the row that points at them commits, and the database is copied
first, so every file the copied database names is already on disk when the files are copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from pipeline.config import Config
from pipeline.disk import FILE_MODE, ensure_private_dir
from pipeline.errors import StoreError
from pipeline.store.db import HEAD_REVISION, _sqlite_file, open_engine, schema_revision
from pipeline.store.models import Base

MANIFEST = "manifest.json"
FORMAT = 1
# Inside the backup: the database, then data_dir's files under their own relative paths.
SQLITE_COPY = "database.sqlite"
PG_DUMP = "database.pgdump"
FILES = "files"
SIGNING_KEY = "signing.key"
# What in data_dir is not the service's state: the database (copied on its own), earlier
# backups, and the converter's scratch space and profile (rebuilt on demand).
_NOT_STATE = {"backups", "work", "soffice-profile"}
_DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Snapshot:
    """What a backup holds, as its manifest says."""

    folder: Path
    database: str
    files: int
    schema: str | None


def back_up(config: Config, target: Path, now: datetime) -> Snapshot:
    """Write one consistent snapshot of the database and data_dir into `target` (new or empty)."""
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"the backup folder {target} is not empty: name a new folder")
    ensure_private_dir(target)
    url = config.database_url
    database = _copy_database(url, target)
    # PostgreSQL's revision is read from the live database: only `masp db upgrade` moves it,
    # and that takes its backup first.
    schema = _schema_of(target / SQLITE_COPY) if database == SQLITE_COPY else _live_schema(url)
    skip = _database_files(url)
    entries = {database: _sha256(target / database)}
    for relative in _state_files(config.data_path, skip):
        copy = target / FILES / relative
        ensure_private_dir(copy.parent)
        shutil.copy2(config.data_path / relative, copy)
        entries[f"{FILES}/{relative}"] = _sha256(copy)
    if database == SQLITE_COPY:
        _check_referenced(target)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "database": database,
        "schema": schema,
        "signing_key": (
            f"{FILES}/{SIGNING_KEY}"
            if f"{FILES}/{SIGNING_KEY}" in entries
            else "set in the configuration or environment (security.signing_key): not copied"
        ),
        "sha256": entries,
    }
    _write_private(target / MANIFEST, json.dumps(manifest, indent=2).encode())
    return Snapshot(target, database, len(entries) - 1, schema)


def restore(config: Config, source: Path, *, force: bool = False) -> Snapshot:
    """Put the snapshot in `source` back into the configured data_dir and database.

    Every file is checked against the manifest before anything is written. A data_dir that
    holds anything is left alone unless `force`; then the database is replaced and the backup's
    files are written over it (a file the backup lacks stays until the daily sweep).
    """
    manifest = _read_manifest(source)
    entries: dict[str, str] = manifest["sha256"]
    for name, digest in entries.items():
        path = source / name
        if not path.is_file() or _sha256(path) != digest:
            raise StoreError(f"the backup in {source} is damaged: {name} does not match its sha256")
    data = config.data_path
    if data.exists() and any(data.iterdir()) and not force:
        raise StoreError(
            f"data_dir {data} is not empty: restore into an empty one, or add --force to "
            "replace its database and files with the backup's"
        )
    ensure_private_dir(data)
    database: str = manifest["database"]
    _restore_database(config.database_url, source / database)
    files = [name for name in entries if name.startswith(f"{FILES}/")]
    for name in files:
        target = data / name.removeprefix(f"{FILES}/")
        ensure_private_dir(target.parent)
        shutil.copy2(source / name, target)
        os.chmod(target, FILE_MODE)
    return Snapshot(source, database, len(files), manifest.get("schema"))


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{source} holds no readable {MANIFEST}: name a folder `masp backup` wrote"
        ) from exc
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("sha256"), dict):
        raise StoreError(f"{source / MANIFEST} is not a backup manifest this masp reads")
    return manifest


def _copy_database(url: str, target: Path) -> str:
    path = _sqlite_file(url)
    if path is not None:
        if not path.exists():
            raise StoreError(f"there is no database at {path} to back up")
        _sqlite_backup(path, target / SQLITE_COPY)
        return SQLITE_COPY
    if make_url(url).get_backend_name() == "postgresql":
        _pg("pg_dump", "--format=custom", f"--file={target / PG_DUMP}", _libpq_url(url))
        os.chmod(target / PG_DUMP, FILE_MODE)
        return PG_DUMP
    raise StoreError(
        f"cannot back up the database {make_url(url)!r}: only SQLite files and "
        "PostgreSQL are supported"
    )


def _restore_database(url: str, copy: Path) -> None:
    path = _sqlite_file(url)
    if path is not None and copy.name == SQLITE_COPY:
        ensure_private_dir(path.parent)
        # A WAL left by the database being replaced would be replayed over the restored one.
        for suffix in _DATABASE_SUFFIXES:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        _sqlite_backup(copy, path)
        os.chmod(path, FILE_MODE)
        return
    if make_url(url).get_backend_name() == "postgresql" and copy.name == PG_DUMP:
        _pg(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            f"--dbname={_libpq_url(url)}",
            str(copy),
        )
        return
    raise StoreError(
        f"the backup's database ({copy.name}) does not fit the configured database "
        f"{make_url(url)!r}: configure the same kind of database it was taken from"
    )


def _sqlite_backup(source: Path, target: Path) -> None:
    """Copy a SQLite database page by page while others may be writing to it (one read
    transaction: a consistent copy, and `masp run` is never blocked in WAL mode)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _libpq_url(url: str) -> str:
    """The URL as pg_dump reads it: without SQLAlchemy's driver suffix (`+psycopg`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise StoreError(
            f"{tool} is not installed: install PostgreSQL's client tools (Debian: "
            "apt install postgresql-client) to back up or restore a PostgreSQL database"
        )
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StoreError(f"{tool} failed: {result.stderr.strip()[-500:]}")


def _database_files(url: str) -> set[Path]:
    path = _sqlite_file(url)
    if path is None:
        return set()
    return {path.with_name(path.name + suffix).resolve() for suffix in _DATABASE_SUFFIXES}


def _state_files(root: Path, skip: set[Path]) -> Iterator[str]:
    """data_dir's files, relative to it, leaving out what is not state (see `_NOT_STATE`) and
    temporary files a write or a deletion has under way."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in _NOT_STATE or not path.is_file() or path.resolve() in skip:
            continue
        if path.name.startswith("."):
            continue
        yield relative.as_posix()


def _schema_of(copy: Path) -> str | None:
    with sqlite3.connect(copy) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return str(row[0]) if row else None


def _live_schema(url: str) -> str | None:
    """The schema revision of the database at `url`, as it stands now."""
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return schema_revision(connection)
    finally:
        engine.dispose()


def _path_columns() -> list[tuple[str, str]]:
    """(table, column) of every column holding a path under data_dir (named `…_path`)."""
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_path")
    ]


def _check_referenced(target: Path) -> None:
    """Every file the copied database points at is in the backup.

    Only a purge deleting a file between the database's copy and the files' could break
    this; the backup then says so rather than keep a copy that would not restore whole.
    """
    if _schema_of(target / SQLITE_COPY) != HEAD_REVISION:
        return
    missing: list[str] = []
    with sqlite3.connect(target / SQLITE_COPY) as connection:
        for table, column in _path_columns():
            query = f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} != ''"
            missing += [
                path
                for (path,) in connection.execute(query)
                if not (target / FILES / path).is_file()
            ]
    if missing:
        raise StoreError(
            f"{len(missing)} file(s) the database points at went while the backup was taken "
            f"(e.g. {missing[0]}): take the backup again"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
