"""Shared pytest fixtures: real Dovecot and SMTP servers on loopback (SPEC §8)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.disk import make_files_private
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
