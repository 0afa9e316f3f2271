"""Where the readers' processes come from: one fork server, which may be started early.

The service never forks itself (it runs threads, and a forked copy of a threaded process can
deadlock on a lock some other thread held). Readers are started from a fork server: a clean,
single-threaded parent that has imported the parsers once, so a reader started after a kill
begins warm (tens of ms). Importing them takes the fork server about half a second; a command
that will read attachments starts it first thing (`start_early`), so that it imports them on
another processor while the command itself is still loading.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

from pipeline.errors import describe_failure

log = logging.getLogger(__name__)

# What the fork server imports once; a module that is missing is simply skipped.
PRELOAD = [
    "pipeline.documents.read",
    "pipeline.documents.topdf",
    "pipeline.documents.workbook",
    "pipeline.documents.preview",
    "pypdf",
    "pypdfium2",
    "openpyxl",
    "docx",
]


def readers_context() -> ForkServerContext:
    """The context every reader process is started from."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the fork server now, in the background. Only a head start: if it fails, the first
    reader to be started starts it again, and says why if it cannot."""
    threading.Thread(target=_start, name="masp-fork-server", daemon=True).start()


def _start() -> None:
    try:
        readers_context()
        forkserver.ensure_running()
    except Exception as exc:
        log.debug("the readers' fork server was not started early: %s", describe_failure(exc))
