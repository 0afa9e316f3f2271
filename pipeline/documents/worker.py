"""A warm child process that reads each attachment under a wall-time and a memory limit (SPEC §7).

Every attachment is hostile until read. Parsers can be made to run for minutes or take gigabytes
(a page of 1.5 million drawing operations, an XML part that inflates to 800 MB), so `read_document`
never runs in the service's own process: it runs here, in one persistent child that the service
kills and replaces when a file outstays its time or its memory. The referrer gets a plain-English
reason, the original is kept, and the next file is read by a fresh child. Converting a document
into PDF for the pack (`convert`: a 200 kB PNG can decode to gigabytes) runs here too.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import io
import logging
import operator
import os
import pickle
import resource
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from pipeline.closing import Closing
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.results import (
    Classification,
    Converted,
    DocumentResult,
    FormFacts,
    Preview,
    ReadLimits,
    Sniffed,
)
from pipeline.documents.spawn import readers_context
from pipeline.errors import ConversionError, DocumentError
from pipeline.text import clean_values

if TYPE_CHECKING:
    from pipeline.documents.workbook import WireGrid

log = logging.getLogger(__name__)

# Starting a child is not the file's fault, so it has its own, generous allowance.
START_SECONDS = 60.0
# A child asked to stop politely gets this long before it is killed.
STOP_SECONDS = 2.0

SIMPLER = "please send it as a simpler PDF or Word document"
NOT_READ = "the file could not be read automatically: a person will look at it"
UNSAFE = f"the file could not be read safely: {SIMPLER}"

# What a child is asked: (READ, filename, bytes, today, kind or None), (CONVERT, route, bytes) or
# (GRID, bytes): a filled workbook's cells (the decisions import), or (PREVIEW, route, bytes, page):
# a page drawn as PNG for the console.
READ, CONVERT, GRID, PREVIEW = "read", "convert", "grid", "preview"
# What a child answers: an outcome and, for "ok", the result; "refused" carries a plain reason.
Reply = tuple[str, Any]
READY: Reply = ("ready", None)
# Outcomes the service gives a request the child did not answer (the child is then replaced).
TIMEOUT, DIED, UNTRUSTED = "timeout", "died", "untrusted"


def too_slow(seconds: float) -> str:
    return f"the file took too long to read safely (over {seconds:g} s): {SIMPLER}"


def too_big(megabytes: int) -> str:
    return f"the file needed too much memory to read safely (over {megabytes} MB): {SIMPLER}"


@dataclass(frozen=True)
class Allowance:
    """How long one read may take, and what the referrer is told if it takes longer."""

    seconds: float
    reason: str


def not_read(status: Status, reason: str, note: str) -> DocumentResult:
    """A result for a file the child could not finish: kept, with the reason for the referrer."""
    return DocumentResult(
        Sniffed(type="unknown", problem=reason if status == Status.REFUSED else None),
        Classification(Kind.OTHER, status, reason, note, 0.0, ""),
    )


# --- The pipe between them. ---
#
# Each message is an 8-byte length and a pickle, written with raw reads and writes on a pair of
# one-way pipes. multiprocessing's duplex Connection (a socket pair, a header read, a selector
# built for every poll) costs about 0.1 ms a round trip; on a one-page PDF that pdfium reads in
# under a millisecond, that was most of what isolation cost.

HEADER = struct.Struct("!Q")
# What every PNG begins with: a preview that does not is not sent on to a browser.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL
# A message this size or smaller is written, and usually read, in one system call.
SMALL = 60_000


def write_message(fd: int, message: object) -> None:
    """Pickle `message` and write it whole (the pickle is built before a byte is written)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    header = HEADER.pack(len(payload))
    if len(payload) <= SMALL:
        # One write (a copy of a few kB costs less than a second system call).
        payload = header + payload
        header = b""
    pending = [memoryview(part) for part in (header, payload) if part]
    while pending:
        written = os.writev(fd, pending)
        while pending and written >= len(pending[0]):
            written -= len(pending[0])
            pending.pop(0)
        if pending:
            pending[0] = pending[0][written:]


def read_message(fd: int, waiting: select.poll | None = None, seconds: float = 0.0) -> Any:
    """The next message on `fd`; with `waiting` (a poll on `fd`), within `seconds`.

    The two sides take turns (one request, one answer), so whatever is in the pipe belongs to
    this message, and a small one arrives in a single read. Only plain values are accepted
    (`PlainUnpickler`): the child reads hostile files, so what it sends is not trusted.
    """
    deadline = time.monotonic() + seconds
    received = read_some(fd, SMALL + HEADER.size, waiting, deadline)
    while len(received) < HEADER.size:
        received += read_some(fd, HEADER.size - len(received), waiting, deadline)
    (size,) = HEADER.unpack_from(received)
    body = [received[HEADER.size :]]
    missing = size - len(body[0])
    while missing > 0:
        body.append(read_some(fd, min(missing, 1 << 20), waiting, deadline))
        missing -= len(body[-1])
    return PlainUnpickler(io.BytesIO(body[0] if len(body) == 1 else b"".join(body))).load()


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values only: no class but `datetime.date` and `datetime.datetime` (naive:
    a time zone would name another class, and is refused) may be named.

    A pickle can name any importable callable and have it called (`os.system` …). A reader
    taken over by a crafted file could send one to the service; refused here, it is just an
    unreadable answer, and the reader is replaced.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("datetime", "date"):
            return date
        if (module, name) == ("datetime", "datetime"):
            return datetime
        raise pickle.UnpicklingError(f"a message may not name {module}.{name}")


def read_some(fd: int, most: int, waiting: select.poll | None, deadline: float) -> bytes:
    """Up to `most` bytes; EOFError if the writer went away, TimeoutError past `deadline`."""
    if waiting is not None:
        left = deadline - time.monotonic()
        if left <= 0 or not waiting.poll(left * 1000):
            raise TimeoutError
    chunk = os.read(fd, most)
    if not chunk:
        raise EOFError
    return chunk


# A result travels as plain values: pickle spends about 4 µs on each enum and each dataclass it
# meets, against about 1 µs for the whole tuple, and this is paid on both sides of every read.
Wire = tuple[Any, ...]


def to_wire(result: DocumentResult) -> Wire:
    """`result` as nested tuples of plain values (`from_wire` rebuilds it)."""
    kind, status, *rest = values(result.classification)
    return (
        values(result.sniffed),
        (kind.name, status.name, *rest),
        None if result.facts is None else values(result.facts),
        result.fields,
        result.notes,
    )


def values(record: Any) -> tuple[Any, ...]:
    """A dataclass's field values in the order its constructor takes them."""
    return FIELDS[type(record)](record)


# One attrgetter per class: a C call, not a generator of getattr calls.
FIELDS = {
    record: operator.attrgetter(*(each.name for each in dataclasses.fields(record)))
    for record in (Sniffed, Classification, FormFacts)
}


def from_wire(wire: Wire) -> DocumentResult:
    sniffed, classification, facts, fields, notes = wire
    kind, status, *rest = classification
    return DocumentResult(
        Sniffed(*sniffed),
        # By name: a dictionary lookup, where calling the enum with a value is a slow search.
        Classification(Kind[kind], Status[status], *rest),
        None if facts is None else FormFacts(*facts),
        fields,
        notes,
    )


# --- The child. ---
# Its readers (`read_document`, `to_pdf` …) are imported where they are called: the fork server
# loaded them before any child started (`spawn.PRELOAD`), and the service, which only sends
# requests and reads answers, never loads their parsing libraries.


def serve(requests: Connection, replies: Connection, limits: ReadLimits) -> None:
    """The child's loop: read each (filename, bytes, today) it is sent until told to stop."""
    # Ctrl-C reaches the whole process group; the service decides when its reader stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(limits.memory_mb)
    inbox, outbox = requests.fileno(), replies.fileno()
    write_message(outbox, READY)
    while True:
        try:
            request = read_message(inbox)
        # The service went away: nothing is left to read for.
        except (EOFError, OSError):
            return
        if request is None:
            return
        reply = handle(request, limits)
        try:
            send_reply(outbox, reply)
        except OSError:
            return
        # After a MemoryError the heap may be in any state: let the parent start a clean child.
        if reply[0] == "memory":
            return


def limit_memory(megabytes: int) -> None:
    """Cap the child's address space: a bomb then fails with MemoryError, not by eating the host."""
    size = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))


def handle(request: tuple[Any, ...], limits: ReadLimits) -> Reply:
    if request[0] == CONVERT:
        return convert_one(request[1], request[2], limits)
    if request[0] == GRID:
        return grid_one(request[1], limits)
    if request[0] == PREVIEW:
        return preview_one(request[1], request[2], request[3], limits)
    as_kind = Kind(request[4]) if request[4] is not None else None
    return read_one(request[1], request[2], limits, request[3], as_kind)


def answer(work: Callable[[], Any], refusal: tuple[type[Exception], ...], doing: str) -> Reply:
    """What `work` gives, as the child's reply: "refused" with the reason when it raises one
    of `refusal` (the document is not what it must be), "memory" when it ran out of memory, and
    "failed" for anything else. A reader's bug or an input no guard foresaw must never stop
    intake; the type says enough (the message may quote the document, which must not reach
    the logs)."""
    try:
        return ("ok", work())
    except refusal as exc:
        return ("refused", str(exc))
    except MemoryError:
        return ("memory", None)
    except Exception as exc:
        log.warning("%s failed: %s", doing, type(exc).__name__)
        return ("failed", type(exc).__name__)


def convert_one(route: str, data: bytes, limits: ReadLimits) -> Reply:
    """A picture or a PDF as PDF for the pack, under the child's limits, or why not."""
    from pipeline.documents.topdf import to_pdf

    pdf = partial(to_pdf, route, data, limits.max_pdf_pages)
    return answer(pdf, (ConversionError,), "converting a document")


def preview_one(route: str, data: bytes, page: int, limits: ReadLimits) -> Reply:
    """Page `page` of a PDF or a picture as (PNG bytes, page count), or why not."""
    from pipeline.documents.preview import preview

    drawn = partial(preview, route, data, page, limits.max_pdf_pages)
    return answer(drawn, (ConversionError,), "drawing a page")


def grid_one(data: bytes, limits: ReadLimits) -> Reply:
    """A workbook's cells as a plain grid, or why it cannot be read."""
    from pipeline.documents.workbook import NotAWorkbook, read_grid

    if len(data) > limits.max_bytes:
        return ("refused", "the file is larger than an attachment may be")
    return answer(partial(read_grid, data), (NotAWorkbook,), "reading a workbook")


def read_one(
    filename: str,
    data: bytes,
    limits: ReadLimits,
    today: date | None,
    as_kind: Kind | None = None,
) -> Reply:
    from pipeline.documents.read import read_document

    def read() -> Any:
        return to_wire(read_document(filename, data, limits, today, as_kind))

    # A document that is not what it should be is refused within its result, never raised.
    return answer(read, (), "reading an attachment")


def send_reply(fd: int, reply: Reply) -> None:
    # The result is pickled whole before a byte is written, so a failure here leaves the pipe clean.
    try:
        write_message(fd, reply)
    except MemoryError:
        write_message(fd, ("memory", None))
    # The service went away: `serve` ends.
    except OSError:
        raise
    except Exception as exc:
        log.warning("an attachment's result could not be sent back: %s", type(exc).__name__)
        write_message(fd, ("failed", type(exc).__name__))


# --- The service's side. ---


@dataclass
class Child:
    """One running child and the service's ends of its two pipes."""

    process: BaseProcess
    requests: Connection
    replies: Connection

    # Whether to keep the child on the asker's processor (`follow`): right for one reader; with
    # several, pinning each to wherever its asker happens to be could stack them on one core.
    pin: bool = True

    def __post_init__(self) -> None:
        # One poll object for the child's life: the wait for each answer is a single system call.
        self.waiting = select.poll()
        self.waiting.register(self.replies.fileno(), select.POLLIN)
        self.cpu: int | None = None

    def ask(self, message: object, seconds: float) -> Any:
        """Send `message` and wait up to `seconds` for the answer (TimeoutError if none)."""
        if self.pin:
            self.follow()
        write_message(self.requests.fileno(), message)
        return read_message(self.replies.fileno(), self.waiting, seconds)

    def follow(self) -> None:
        """Keep the child on the processor of the thread that asks, which only waits meanwhile.

        Waking a sleeping process on another processor takes an inter-processor interrupt (about
        40 µs on a virtual machine, against about 5 µs for a switch on the same processor), paid
        twice on every read; the child's caches then also hold what the asker just wrote.
        """
        cpu = current_cpu()
        if cpu is None or cpu == self.cpu or self.process.pid is None:
            return
        # The child may be ending; its next start follows again.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(self.process.pid, {cpu})
            self.cpu = cpu

    def alive(self) -> bool:
        """Whether the child still runs: its end of the answer pipe closes when it ends.

        One system call; asking multiprocessing builds a selector each time (about 40 µs).
        """
        return not any(event & HANGUP for _fd, event in self.waiting.poll(0))

    def stop(self) -> None:
        """Ask the child to finish, and kill it if it does not (or is busy with a hostile file)."""
        if self.process.is_alive():
            # A child that already died cannot be asked; it is reaped below all the same.
            with contextlib.suppress(OSError):
                write_message(self.requests.fileno(), None)
            self.process.join(STOP_SECONDS)
        self.kill()

    def kill(self) -> int | None:
        """End the child now; its exit code (negative: the signal that ended it), if it ended."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_SECONDS)
        self.requests.close()
        self.replies.close()
        return self.process.exitcode


class DocumentWorker(Closing):
    """Reads attachments in one warm child process; a file never raises and never hangs the caller.

    The child starts on the first `read` and is replaced after a file that took too long or too
    much memory. With `limits.readers` above one, several of these make a `ReaderPool`.
    """

    def __init__(self, limits: ReadLimits, pin: bool = True) -> None:
        self.limits = limits
        self.pin = pin
        self._allowance = Allowance(limits.seconds, too_slow(limits.seconds))
        self._child: Child | None = None
        # Two threads sharing one pipe would read each other's answers.
        self._lock = threading.Lock()
        # Set by `abandon` (the service is stopping): a child killed then is not replaced.
        self._abandoned = False

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first read), for health checks."""
        return self._child.process.pid if self._child is not None else None

    def read(
        self,
        filename: str,
        data: bytes,
        today: date | None = None,
        allowance: Allowance | None = None,
        as_kind: Kind | None = None,
    ) -> DocumentResult:
        """What `read_document` says about this file, or a refusal if it was too slow or too big.

        `allowance` may shorten the time limit (an email's budget nearly spent), with its own
        reason. `as_kind` reads it as that kind (`read_document`). Raises DocumentError only if
        no child can be started at all (the email is then quarantined and can be replayed);
        nothing in the file itself can make this raise.
        """
        allowed = allowance or self._allowance
        with self._lock:
            # The kind travels as its plain string: the child's requests hold plain values.
            kind = as_kind.value if as_kind is not None else None
            outcome, payload = self._ask((READ, filename, data, today, kind), allowed.seconds)
        if outcome == "ok":
            # Where what a document says enters the service: cleaned once, for every reader.
            return from_wire(clean_values(payload))
        if outcome == TIMEOUT:
            return not_read(
                Status.REFUSED, allowed.reason, f"not read: stopped after {payload:.3g} s"
            )
        if outcome in (DIED, "memory"):
            return not_read(Status.REFUSED, too_big(self.limits.memory_mb), "not read: memory")
        if outcome == UNTRUSTED:
            return not_read(Status.REFUSED, UNSAFE, "not read: the reader's answer was refused")
        return not_read(Status.NEEDS_REVIEW, NOT_READ, f"reading failed ({payload})")

    def convert(self, route: str, data: bytes) -> Converted | str:
        """A picture (`route` "image") or a PDF ("pdf") as PDF for the pack, or why it cannot be.

        Pictures are decoded here, never in the service: under the reader's time and memory
        limits, in the same child. Like `read`, only a child that cannot start raises.
        """
        with self._lock:
            outcome, payload = self._ask((CONVERT, route, data), self.limits.seconds)
        if outcome == "ok":
            made, pages = payload
            return Converted(data if made is None else made, pages)
        if outcome == "refused":
            return str(payload)
        if outcome == TIMEOUT:
            return f"the file took too long to convert safely (over {payload:g} s)"
        if outcome in (DIED, "memory"):
            megabytes = self.limits.memory_mb
            return f"the file needed too much memory to convert safely (over {megabytes} MB)"
        return "the file could not be converted safely"

    def preview(self, route: str, data: bytes, page: int) -> Preview | str:
        """Page `page` (1-based) of a PDF (`route` "pdf") or a picture ("image") drawn as a PNG,
        or why not. Drawn in the child, like every read: never in the console's process."""
        with self._lock:
            outcome, payload = self._ask((PREVIEW, route, data, page), self.limits.seconds)
        if outcome == "ok" and isinstance(payload, tuple):
            png, pages = payload
            if isinstance(png, bytes) and png.startswith(PNG_SIGNATURE) and isinstance(pages, int):
                return Preview(png, pages)
            return "the page could not be drawn safely"
        if outcome == "refused":
            return str(payload)
        if outcome == TIMEOUT:
            return f"the page took too long to draw safely (over {payload:g} s)"
        if outcome in (DIED, "memory"):
            return f"the page needed too much memory to draw (over {self.limits.memory_mb} MB)"
        return "the page could not be drawn safely"

    def read_grid(self, data: bytes) -> WireGrid | str:
        """A filled workbook's cells by sheet, as (row, column, value), or why it could not be
        read. Read in the child, like an attachment: the file may be anyone's."""
        with self._lock:
            outcome, payload = self._ask((GRID, data), self.limits.seconds)
        if outcome == "ok" and isinstance(payload, dict):
            # Cleaned as every reader's answer is: what a cell says enters the service here.
            grid: WireGrid = clean_values(payload)
            return grid
        if outcome == "refused":
            return str(payload)
        if outcome == TIMEOUT:
            return too_slow(self.limits.seconds).replace(SIMPLER, "save it again as .xlsx")
        if outcome in (DIED, "memory"):
            return f"the workbook needed too much memory to read (over {self.limits.memory_mb} MB)"
        return "the workbook could not be read safely: save it again as .xlsx"

    def start(self) -> None:
        """Start the child now, if it is not running: a start is no file's or email's fault, so
        an email's time budget begins once its reader is ready."""
        with self._lock:
            self._running()

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._child.stop()
                self._child = None
            self._abandoned = False

    def abandon(self) -> None:
        """Kill the child now, even in the middle of a read, and start no other until `close`:
        for a service that is stopping, whose readers are only reading ahead. The read it was
        doing gets no useful answer; no step is left waiting for one then."""
        self._abandoned = True
        child = self._child
        # Without the lock, which the thread that asks holds: it sees the pipe close and ends.
        if child is not None:
            child.process.kill()

    def _running(self) -> Child:
        if self._child is None or not self._child.alive():
            if self._child is not None:
                self._child.kill()
            self._child = start_child(self.limits, self.pin)
        return self._child

    def _ask(self, request: tuple[Any, ...], seconds: float) -> Reply:
        """The child's reply to `request`, or (TIMEOUT, seconds), (DIED, None) or (UNTRUSTED,
        None) when it gave none; a child that failed is replaced for the next request."""
        # Stopping: no child is started for what is left (reads ahead nobody will use).
        if self._abandoned:
            return ("failed", "stopped")
        child = self._running()
        # `abandon` came while this child was starting: it found none to kill.
        if self._abandoned:
            child.process.kill()
        try:
            reply: Reply = child.ask(request, seconds)
        except TimeoutError:
            self._replace(f"stopped after {seconds:.3g} s")
            return (TIMEOUT, seconds)
        # The child died (the kernel or its own allocator ended it): memory is the likely cause.
        except (EOFError, OSError):
            self._replace("the child stopped")
            return (DIED, None)
        # The answer named something a plain value never does: the child is not to be trusted.
        except pickle.UnpicklingError:
            self._replace("its answer was refused")
            return (UNTRUSTED, None)
        # The whole answer arrived but could not be unpickled: the pipe is still in step.
        except Exception as exc:
            return ("failed", type(exc).__name__)
        # After a MemoryError the child ends itself; a fresh one is started now, not on demand.
        if reply[0] == "memory":
            self._replace("out of memory")
        return reply

    def _replace(self, note: str) -> None:
        """Kill the child that failed on this file and start a fresh one for the next file."""
        pid, code = self.pid, None
        if self._child is not None:
            code = self._child.kill()
            self._child = None
        if self._abandoned:
            return
        # The exit code tells the administrator how it ended (-9: killed here or by the kernel).
        log.warning("document reader (pid %s, exit code %s) replaced: %s", pid, code, note)
        try:
            self._child = start_child(self.limits, self.pin)
        # The next request tries again and, if it still cannot, says so; this one has its answer.
        except DocumentError as exc:
            log.warning("%s", exc)


def current_cpu() -> int | None:
    """The processor this thread runs on now, where the C library can say (Linux)."""
    return None if _SCHED_GETCPU is None else int(_SCHED_GETCPU())


def _sched_getcpu() -> Callable[[], int] | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        function: Callable[[], int] = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    return function


_SCHED_GETCPU = _sched_getcpu()


def start_child(limits: ReadLimits, pin: bool = True) -> Child:
    """Start a child from the fork server and wait until it is ready to read."""
    # Never fork the service itself: it runs threads, and a forked copy of a threaded process can
    # deadlock on a lock some other thread held. The fork server is a clean, single-threaded parent.
    context = readers_context()
    their_requests, our_requests = context.Pipe(duplex=False)
    our_replies, their_replies = context.Pipe(duplex=False)
    process = context.Process(
        target=serve,
        args=(their_requests, their_replies, limits),
        name="masp-document-reader",
        daemon=True,
    )
    process.start()
    their_requests.close()
    their_replies.close()
    child = Child(process, our_requests, our_replies, pin)
    try:
        if read_message(our_replies.fileno(), child.waiting, START_SECONDS) == READY:
            return child
    except (EOFError, OSError, TimeoutError, pickle.UnpicklingError):
        pass
    child.kill()
    raise DocumentError(
        f"the document reader process did not start within {START_SECONDS:g} s "
        "(check limits.parse_memory_mb: the reader needs about 100 MB just to start)"
    )
