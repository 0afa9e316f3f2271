"""The scenario is played once for the whole run: `test_month` checks the month before the
meetings, `test_after_meeting` the months after, each from the steps the play kept."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.scenarios.harness import Month
from tests.scenarios.story import play
from tests.servers import Dovecot, fresh_account, running_smtp


@pytest.fixture(scope="session")
def month(tmp_path_factory: pytest.TempPathFactory, dovecot: Dovecot) -> Iterator[Month]:
    """December 2025 to April 2026, played once for every test that reads it."""
    with running_smtp() as smtp:
        m = Month(tmp_path_factory.mktemp("month"), fresh_account(dovecot), smtp, dovecot)
        started = time.monotonic()
        play(m)
        print(f"the scenario took {time.monotonic() - started:.1f} s")
        yield m
