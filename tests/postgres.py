"""A real, throw-away PostgreSQL cluster on loopback for tests (SPEC §8).

`initdb` into a temporary directory, run as the `postgres` user when the tests run as root
(PostgreSQL refuses to run as root), listening on 127.0.0.1 only on a port of its own, with
durability off (fsync, full-page writes): a crash loses a test database, never anyone's data.
Each test that wants a database gets a fresh one, copied from a template that already holds
the schema, so a test costs a file copy rather than a schema build.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.servers import free_port, port_open

MISSING_POSTGRES = (
    "PostgreSQL is not installed: run scripts/test.sh, which installs Debian's postgresql"
)
TEMPLATE = "masp_template"
# The environment variable that puts a test run on PostgreSQL (scripts/test.sh sets it for
# its second pass); unset or "sqlite", every test keeps its own SQLite file.
STORE_ENV = "MASP_TEST_STORE"

# The cluster of this run while `running_postgres` runs, and the database of each data folder
# a test opened a service on (see `folder_database`).
_cluster: Postgres | None = None
_folders: dict[Path, str] = {}
_given: set[str] = set()


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them per major version)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def on_postgres() -> bool:
    """Whether this test run puts the service's store on PostgreSQL."""
    return os.environ.get(STORE_ENV, "sqlite") == "postgresql"


class Postgres:
    """A private PostgreSQL server: start, make databases, restart, stop."""

    def __init__(self) -> None:
        programs = bin_dir()
        if programs is None:
            raise RuntimeError(MISSING_POSTGRES)
        self.bin = programs
        self.root = Path(tempfile.mkdtemp(prefix="masp-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self._user = _run_as()
        if self._user is not None:
            # The cluster's owner must reach its directory; /tmp's mkdtemp is 0700 for root.
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)

    def _command(self, *args: str) -> list[str]:
        if self._user is None:
            return list(args)
        return ["runuser", "-u", self._user.pw_name, "--", *args]

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), *args),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self, wait: float = 60.0) -> None:
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                self._command(
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
        options = " ".join(
            (
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                "-c max_connections=400",
            )
        )
        log = self.root / "server.log"
        self._ctl("-o", options, "-l", str(log), "-w", "-t", str(int(wait)), "start")
        deadline = time.monotonic() + wait
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        """Stop the server at once (every connection cut) and start it again."""
        self.stop("immediate")
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        log = self.root / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE and DROP DATABASE need that)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql)

    def create_database(self, template: str | None = None) -> str:
        """A new, uniquely named database (a copy of `template` if given); returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a test may leave an engine open; its connections go with the database.
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def make_template(self) -> None:
        """The template every test database is copied from: the schema, created as `masp`
        creates it on a new database."""
        from pipeline.store.db import Store

        self.admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{TEMPLATE}"')
        Store.open(self.url(TEMPLATE)).close()

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database with the schema for one test; its URL, dropped afterwards."""
        name = self.create_database(TEMPLATE)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)


def _run_as() -> pwd.struct_passwd | None:
    """The user the cluster runs as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError(
            "running as root needs the 'postgres' user to own the test cluster: "
            "install Debian's postgresql package"
        ) from exc


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    global _cluster
    server = Postgres()
    try:
        server.start()
        server.make_template()
        _cluster = server
        yield server
    finally:
        _cluster = None
        _folders.clear()
        _given.clear()
        server.cleanup()


def folder_database(folder: Path, test_database: str | None) -> str:
    """The database of the installation in `folder`, as its SQLite file would be: the same
    every time the folder is opened, in this test or a later one (a module's shared world).

    The first folder a test opens gets the test's own database (`test_database`, the one
    `config_tree()` names); another folder (a restore's target, a second installation) or a
    folder opened outside any test (a module-scoped fixture) gets a new database of its own.
    """
    folder = folder.resolve()
    if folder not in _folders:
        if test_database is not None and test_database not in _given:
            _folders[folder] = test_database
        else:
            if _cluster is None:
                raise RuntimeError("no PostgreSQL cluster is running for this test run")
            _folders[folder] = _cluster.url(_cluster.create_database(TEMPLATE))
        _given.add(_folders[folder])
    return _folders[folder]
