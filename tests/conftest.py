"""Shared pytest fixtures: real Dovecot and SMTP servers on loopback (SPEC §8)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.disk import make_files_private
from tests.servers import (
    MISSING_DOVECOT,
    Dovecot,
    ImapAccount,
    SmtpCapture,
    dovecot_installed,
    fresh_account,
    running_smtp,
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests open the service in this process, as `masp` does once its entry point has run:
    what they create is owner-only, as it is in the service (tests/cli/test_umask.py)."""
    make_files_private()


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


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox: a user name nobody has used, which the static passdb accepts."""
    return fresh_account(dovecot)


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A capturing SMTP server on a free loopback port; `.stop()`/`.start()` simulate an outage."""
    with running_smtp() as server:
        yield server
