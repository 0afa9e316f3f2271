"""Shared pytest fixtures: real Dovecot and SMTP servers on loopback (SPEC §8)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The package is not installed into the venv, so tests import it from this checkout.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pipeline.disk import make_files_private  # noqa: E402
from tests.servers import (  # noqa: E402
    MISSING_DOVECOT,
    Dovecot,
    ImapAccount,
    SmtpCapture,
    dovecot_installed,
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
    return ImapAccount(dovecot, f"user{uuid.uuid4().hex[:12]}")


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A capturing SMTP server on a free loopback port; `.stop()`/`.start()` simulate an outage."""
    server = SmtpCapture()
    server.start()
    try:
        yield server
    finally:
        server.stop()
