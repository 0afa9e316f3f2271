"""A warm child process that reads each attachment under a wall-time and a memory limit (SPEC §7).

Every attachment is hostile until read. Parsers can be made to run for minutes or take gigabytes
(a page of 1.5 million drawing operations, an XML part that inflates to 800 MB), so `read_document`
never runs in the service's own process: it runs here, in one persistent child that the service
kills and replaces when a file outstays its time or its memory. The referrer gets a plain-English
reason, the original is kept, and the next file is read by a fresh child.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import signal
import threading
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from pipeline.documents.classify import Classification
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.read import DocumentResult, ReadLimits, read_document
from pipeline.documents.sniff import Sniffed
from pipeline.errors import DocumentError

log = logging.getLogger(__name__)

# The fork server imports these once, so a child started after a kill begins warm (tens of ms)
# instead of importing the parsers again; a module that is missing is simply skipped.
PRELOAD = ["pipeline.documents.read", "pypdf", "pypdfium2", "openpyxl", "docx"]
# Starting a child is not the file's fault, so it has its own, generous allowance.
START_SECONDS = 60.0
# A child asked to stop politely gets this long before it is killed.
STOP_SECONDS = 2.0

SIMPLER = "please send it as a simpler PDF or Word document"
NOT_READ = "the file could not be read automatically: a person will look at it"

# What a child answers: an outcome and, for "ok", the result.
Reply = tuple[str, Any]
READY: Reply = ("ready", None)


def too_slow(seconds: float) -> str:
    return f"the file took too long to read safely (over {seconds:g} s): {SIMPLER}"


def too_big(megabytes: int) -> str:
    return f"the file needed too much memory to read safely (over {megabytes} MB): {SIMPLER}"


def not_read(status: Status, reason: str, note: str) -> DocumentResult:
    """A result for a file the child could not finish: kept, with the reason for the referrer."""
    return DocumentResult(
        Sniffed(type="unknown", problem=reason if status == Status.REFUSED else None),
        Classification(Kind.OTHER, status, reason, note, 0.0, ""),
    )


# --- The child. ---


def serve(conn: Connection, limits: ReadLimits) -> None:
    """The child's loop: read each (filename, bytes) it is sent until told to stop."""
    # Ctrl-C reaches the whole process group; the service decides when its reader stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(limits.memory_mb)
    conn.send(READY)
    while True:
        try:
            request = conn.recv()
        # The service went away: nothing is left to read for.
        except (EOFError, OSError):
            return
        if request is None:
            return
        reply = read_one(request[0], request[1], limits, request[2])
        send_reply(conn, reply)
        # After a MemoryError the heap may be in any state: let the parent start a clean child.
        if reply[0] == "memory":
            return


def limit_memory(megabytes: int) -> None:
    """Cap the child's address space: a bomb then fails with MemoryError, not by eating the host."""
    size = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))


def read_one(filename: str, data: bytes, limits: ReadLimits, today: date | None) -> Reply:
    try:
        return ("ok", read_document(filename, data, limits, today))
    except MemoryError:
        return ("memory", None)
    # A reader's bug or an input no guard foresaw must never stop intake; the type says enough
    # (the message may quote the document, which must not reach the logs).
    except Exception as exc:
        log.warning("reading an attachment failed: %s", type(exc).__name__)
        return ("failed", type(exc).__name__)


def send_reply(conn: Connection, reply: Reply) -> None:
    # The result is pickled whole before a byte is written, so a failure here leaves the pipe clean.
    try:
        conn.send(reply)
    except MemoryError:
        conn.send(("memory", None))
    except Exception as exc:
        log.warning("an attachment's result could not be sent back: %s", type(exc).__name__)
        conn.send(("failed", type(exc).__name__))


# --- The service's side. ---


@dataclass
class Child:
    """One running child and the service's end of its pipe."""

    process: BaseProcess
    conn: Connection

    def stop(self) -> None:
        """Ask the child to finish, and kill it if it does not (or is busy with a hostile file)."""
        if self.process.is_alive():
            # A child that already died cannot be asked; it is reaped below all the same.
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(STOP_SECONDS)
        self.kill()

    def kill(self) -> int | None:
        """End the child now; its exit code (negative: the signal that ended it), if it ended."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_SECONDS)
        self.conn.close()
        return self.process.exitcode


class DocumentWorker:
    """Reads attachments in one warm child process; a file never raises and never hangs the caller.

    The child starts on the first `read` and is replaced after a file that took too long or too
    much memory. Intake reads one attachment at a time, so one child is the whole pool.
    """

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self._child: Child | None = None
        # Two threads sharing one pipe would read each other's answers.
        self._lock = threading.Lock()

    def __enter__(self) -> DocumentWorker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first read), for health checks."""
        return self._child.process.pid if self._child is not None else None

    def read(self, filename: str, data: bytes, today: date | None = None) -> DocumentResult:
        """What `read_document` says about this file, or a refusal if it was too slow or too big.

        Raises DocumentError only if no child can be started at all (the email is then
        quarantined and can be replayed); nothing in the file itself can make this raise.
        """
        with self._lock:
            child = self._running()
            return self._ask(child, filename, data, today)

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._child.stop()
                self._child = None

    def _running(self) -> Child:
        if self._child is None or not self._child.process.is_alive():
            if self._child is not None:
                self._child.kill()
            self._child = start_child(self.limits)
        return self._child

    def _ask(self, child: Child, filename: str, data: bytes, today: date | None) -> DocumentResult:
        try:
            child.conn.send((filename, data, today))
            answered = child.conn.poll(self.limits.seconds)
            reply: Reply | None = child.conn.recv() if answered else None
        # The child died (the kernel or its own allocator ended it): memory is the likely cause.
        except (EOFError, OSError):
            return self._replace(too_big(self.limits.memory_mb), "the reader stopped")
        # The whole answer arrived but could not be unpickled: the pipe is still in step.
        except Exception as exc:
            return not_read(Status.NEEDS_REVIEW, NOT_READ, f"reading failed ({type(exc).__name__})")
        if reply is None:
            note = f"not read: stopped after {self.limits.seconds:g} s"
            return self._replace(too_slow(self.limits.seconds), note)
        return self._answer(reply)

    def _answer(self, reply: Reply) -> DocumentResult:
        outcome, payload = reply
        if outcome == "ok" and isinstance(payload, DocumentResult):
            return payload
        if outcome == "memory":
            return self._replace(too_big(self.limits.memory_mb), "not read: out of memory")
        return not_read(Status.NEEDS_REVIEW, NOT_READ, f"reading failed ({payload})")

    def _replace(self, reason: str, note: str) -> DocumentResult:
        """Kill the child that failed on this file and start a fresh one for the next file."""
        pid, code = self.pid, None
        if self._child is not None:
            code = self._child.kill()
            self._child = None
        # The exit code tells the administrator how it ended (-9: killed here or by the kernel).
        log.warning("document reader (pid %s, exit code %s) replaced: %s", pid, code, note)
        try:
            self._child = start_child(self.limits)
        # The next read tries again and, if it still cannot, says so; this file has its answer.
        except DocumentError as exc:
            log.warning("%s", exc)
        return not_read(Status.REFUSED, reason, note)


def start_child(limits: ReadLimits) -> Child:
    """Start a child from the fork server and wait until it is ready to read."""
    # Never fork the service itself: it runs threads, and a forked copy of a threaded process can
    # deadlock on a lock some other thread held. The fork server is a clean, single-threaded parent.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(
        target=serve, args=(theirs, limits), name="masp-document-reader", daemon=True
    )
    process.start()
    theirs.close()
    child = Child(process, ours)
    try:
        if ours.poll(START_SECONDS) and ours.recv() == READY:
            return child
    except (EOFError, OSError):
        pass
    child.kill()
    raise DocumentError(
        f"the document reader process did not start within {START_SECONDS:g} s "
        "(check limits.parse_memory_mb: the reader needs about 100 MB just to start)"
    )
