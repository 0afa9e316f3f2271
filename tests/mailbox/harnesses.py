"""Every back-end's contract harness, by name: `test_contract.py` runs the contract for each.

A factory takes a folder of its own and the test's fixture request (to reach the run's
servers), and yields a ready harness.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.mailbox.contract import Harness
from tests.mailbox.harness_ews import ews_harness
from tests.mailbox.harness_graph import graph_harness
from tests.mailbox.harness_imap import imap_harness
from tests.mailbox.harness_imap_oauth import imap_oauth_harness
from tests.mailbox.harness_maildir import maildir_harness


def _maildir(folder: Path, request: pytest.FixtureRequest) -> AbstractContextManager[Any]:
    return maildir_harness(folder)


Factory = Callable[[Path, pytest.FixtureRequest], AbstractContextManager[Harness]]

HARNESSES: dict[str, Factory] = {
    "maildir": _maildir,
    "imap": imap_harness,
    "imap-oauth": imap_oauth_harness,
    "graph": graph_harness,
    "ews": ews_harness,
}
