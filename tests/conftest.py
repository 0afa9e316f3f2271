"""Shared pytest fixtures: real Dovecot and SMTP servers on loopback (SPEC §8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.disk import make_files_private
from pipeline.store.db import Store
from tests.helpers import TEST_DATABASE_ENV
from tests.postgres import (
    MISSING_POSTGRES,
    STORE_ENV,
    Postgres,
    bin_dir,
    on_postgres,
    running_postgres,
)
from tests.servers import (
    MISSING_DOVECOT,
    Dovecot,
    ImapAccount,
    OAuthMailServer,
    SmtpCapture,
    dovecot_installed,
    fresh_account,
    running_oauth_dovecot,
    running_smtp,
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests open the service in this process, as `masp` does once its entry point has run:
    what they create is owner-only, as it is in the service (tests/cli/test_umask.py)."""
    make_files_private()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throw-away PostgreSQL cluster for the whole run (SPEC §8); tests keep apart by
    each using a database of its own (`pg_url`)."""
    if bin_dir() is None:
        # Fail, never skip: a missing server must not quietly hide the PostgreSQL tests.
        pytest.fail(MISSING_POSTGRES, pytrace=False)
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres: Postgres) -> Iterator[str]:
    """A fresh PostgreSQL database holding the schema, for this test only."""
    with postgres.database() as url:
        yield url


@pytest.fixture
def empty_pg(postgres: Postgres) -> Iterator[str]:
    """A new PostgreSQL database without any schema, as `createdb` leaves it, for this test."""
    name = postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on the store under test, for tests of creating and migrating one:
    on SQLite the file an installation in tmp_path would have (not made yet), on PostgreSQL
    a new database without the schema."""
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'data' / 'masp.sqlite'}"
        return
    server: Postgres = request.getfixturevalue("postgres")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


# Tests that never open a store: the readers, the pure rules, MIME, templates. The PostgreSQL
# pass leaves them out (`-m "not store_free"` in scripts/test.sh), since they would run there
# exactly as on SQLite; `store_free_guard` fails any of them that opens a store after all
# (mark such a test `opens_store`).
STORE_FREE = (
    "tests/documents/",
    "tests/rules/",
    "tests/mime/",
    "tests/test_templates.py",
    "tests/test_text.py",
    "tests/test_errors.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(STORE_FREE) and not item.get_closest_marker("opens_store"):
            item.add_marker(pytest.mark.store_free)


@pytest.fixture(autouse=True)
def store_free_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store-free test that opens a store is mislisted: it would miss the PostgreSQL pass."""
    if not request.node.get_closest_marker("store_free"):
        return

    def refuse(*_args: object, **_kwargs: object) -> None:
        pytest.fail(
            f"{request.node.nodeid} opens a store but is listed in STORE_FREE "
            "(tests/conftest.py), so the PostgreSQL pass skips it: take it off the list",
            pytrace=False,
        )

    monkeypatch.setattr(Store, "open", refuse)


@pytest.fixture(autouse=True)
def store_under_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With MASP_TEST_STORE=postgresql (scripts/test.sh's second pass), every service a test
    opens, in this process (`tests.helpers.config_tree`) or as a `masp` child process
    (`tests.helpers.child_env`), keeps its store in a fresh PostgreSQL database of its own."""
    if not on_postgres():
        return
    if request.node.get_closest_marker("sqlite_only"):
        # The test is about the SQLite file: every service it opens keeps its own.
        monkeypatch.setenv(STORE_ENV, "sqlite")
        return
    url: str = request.getfixturevalue("pg_url")
    monkeypatch.setenv(TEST_DATABASE_ENV, url)


@pytest.fixture(scope="session", autouse=True)
def cluster_for_the_run(request: pytest.FixtureRequest) -> None:
    """On the PostgreSQL pass, the cluster starts before any fixture: a module's shared world
    (a fixture wider than one test) keeps its store there too (`tests.helpers.store_url`)."""
    if on_postgres():
        request.getfixturevalue("postgres")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the whole run; tests keep apart by using their own user."""
    if not dovecot_installed():
        # Fail, never skip: a missing server must not quietly hide the IMAP tests.
        pytest.fail(MISSING_DOVECOT, pytrace=False)
    server = Dovecot()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def oauth_dovecot() -> Iterator[OAuthMailServer]:
    """A second private Dovecot that also takes SASL XOAUTH2 (an oauth2 passdb asking a
    token-introspection endpoint on 127.0.0.1), for IMAP with OAuth 2.0 as Exchange Online
    wants it; password logins still work, for the person reading the mailbox."""
    if not dovecot_installed():
        pytest.fail(MISSING_DOVECOT, pytrace=False)
    with running_oauth_dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox: a user name nobody has used, which the static passdb accepts."""
    return fresh_account(dovecot)


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A capturing SMTP server on a free loopback port; `.stop()`/`.start()` simulate an outage."""
    with running_smtp() as server:
        yield server
