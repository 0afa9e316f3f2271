"""Parsing benchmark: the golden corpus through `read_document`, against the library floor.

Each document is read `--repeat` times, back to back with its floor (in rotating order), measured
in the same run:
python-docx `Document()` plus an lxml walk of every table cell's text (.docx), an openpyxl
read-only load plus iterating its rows (.xlsx), pypdfium2's text of every page (.pdf). Prints
the median ms per document kind, the floor, and the ratio; and the same through the isolated
worker process when `pipeline/documents/worker.py` is there. `--large` adds a 20,000-row sheet
and a 2,000-row Word chronology (fewer repeats: openpyxl takes seconds on them).

With the worker, the floor is also run in a bare child process behind the worker's own pipes
("floor isolated"): nothing but the library call, so it is what any reader that isolates
cannot go below, and the gap between it and the floor is the price of isolation alone. The
last column holds each line to issue 9's target: the worker within 1.3× the floor isolated, or
within 1.3× the plain floor for a PDF of 10 pages or more.

First, the field accuracy: every value the corpus's expected JSONs give (each referral form's
facts, and the further fields some list), read in process; per field and overall, how many were
read right (`--each` also names each miss).

    .venv/bin/python -m bench.parse [--repeat 20] [--large]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import select
import signal
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.documents.read import read_document
from pipeline.documents.results import DocumentResult, ReadLimits
from pipeline.documents.sniff import extension
from tests.helpers import DATA, ROOT, corpus_maker

CORPUS = DATA / "documents"
TODAY = date(2026, 3, 1)
LIMITS = ReadLimits()
W_TC = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tc"
W_T = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"


# --- The floor: the libraries doing the least that reading such a file needs. ---


def docx_floor(data: bytes) -> None:
    from docx import Document

    body = Document(io.BytesIO(data)).element.body
    for cell in body.iter(W_TC):
        "".join(t.text or "" for t in cell.iter(W_T))


def xlsx_floor(data: bytes) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    for sheet in workbook.worksheets:
        for _ in sheet.iter_rows(values_only=True):
            pass
    workbook.close()


def pdf_floor(data: bytes) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    for page in pdf:
        textpage = page.get_textpage()
        textpage.get_text_range()
        textpage.close()
        page.close()
    pdf.close()


FLOORS: dict[str, Callable[[bytes], None]] = {
    "docx": docx_floor,
    "xlsx": xlsx_floor,
    "pdf": pdf_floor,
}


class IsolatedFloor:
    """The floor run in a bare child process, through the same pipes and framing as the worker.

    The child does nothing but the floor's library call: no sniffing, classifying or parsing,
    no limits. The bench runs single-threaded, so a plain fork is safe here.
    """

    def __init__(self) -> None:
        from pipeline.documents.worker import read_message, write_message

        self._read, self._write = read_message, write_message
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: answer each (extension, bytes) until told to stop
            code = 1
            try:
                os.close(self._requests)
                os.close(self._replies)
                while (request := read_message(requests)) is not None:
                    FLOORS[request[0]](request[1])
                    write_message(replies, "done")
                code = 0
            finally:
                # Never back into the parent's copy of main(), whatever happened.
                os._exit(code)
        os.close(requests)
        os.close(replies)
        self._waiting = select.poll()
        self._waiting.register(self._replies, select.POLLIN)
        self._cpu: int | None = None

    def follow(self) -> None:
        """On the asker's processor, as the worker's child is kept (`Child.follow`)."""
        from pipeline.documents.worker import current_cpu

        cpu = current_cpu()
        if cpu is not None and cpu != self._cpu:
            os.sched_setaffinity(self.pid, {cpu})
            self._cpu = cpu

    def read(self, name: str, data: bytes) -> None:
        self.follow()
        self._write(self._requests, (extension(name), data))
        self._read(self._replies, self._waiting, 60.0)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the child is gone already
            self._write(self._requests, None)
        if not _ended(self.pid, 2.0):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self._requests)
        os.close(self._replies)


def _ended(pid: int, seconds: float) -> bool:
    """Whether the child ended (and was reaped) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
        time.sleep(0.01)
    return False


# --- The samples. ---


def corpus() -> list[tuple[str, bytes, str]]:
    """(name, bytes, expected kind) of every corpus document a floor can open."""
    found = []
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".json", ".py") or extension(path.name) not in FLOORS:
            continue
        expected = json.loads(path.with_name(path.name + ".json").read_text())
        if expected["status"] != "refused":
            data = path.read_bytes()
            kind = f"{expected['kind']} .{extension(path.name)}"
            if pages(data) >= LONG:
                kind += f" {LONG}+ pages"
            found.append((path.name, data, kind))
    return found


# From this many pages on, a read is measured against the plain floor (the process hop is then
# a small part of it); below, against the floor isolated.
LONG = 10
TARGET = 1.3


def pages(data: bytes) -> int:
    """A PDF's page count (0 for anything else)."""
    import pypdfium2 as pdfium

    if not data.startswith(b"%PDF"):
        return 0
    with contextlib.closing(pdfium.PdfDocument(data)) as document:
        return len(document)


def large() -> list[tuple[str, bytes, str]]:
    """A 20,000-row sheet and a 2,000-row Word table, both chronologies."""
    maker = corpus_maker()
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Date", "Significant event", "Source", "Impact", "Action"])
    for number in range(19_999):
        day = datetime(1970, 1, 1) + timedelta(days=number)
        sheet.append([day, f"Invented event {number}", "School", "Some", "None"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    header = ["Date", "Significant event", "Source", "Impact", "Action"]
    rows = [header] + [
        [f"{n % 28 + 1:02d}/{n % 12 + 1:02d}/20{n % 20:02d}", f"Event {n}", "GP", "-", "-"]
        for n in range(2_000)
    ]

    def build(document: Any) -> None:
        maker.table(document, rows, bold_first=True)

    return [
        ("20,000-row chronology.xlsx", buffer.getvalue(), "chronology .xlsx 20k rows"),
        ("2,000-row chronology.docx", maker.docx_bytes(build), "chronology .docx 2k rows"),
    ]


# --- Measuring. ---


def timed(action: Callable[[], object], clock: Callable[[], int] = time.perf_counter_ns) -> float:
    """The ms `action` took on `clock` (nanoseconds)."""
    start = clock()
    action()
    return (clock() - start) / 1e6


def processor_clock(pid: Callable[[], int | None]) -> Callable[[], int]:
    """A clock of processor time: this thread's, plus the child's whose pid `pid()` gives.

    On a busy machine wall time mostly measures waiting for a processor, the more so the longer
    a read runs; the time actually spent reading is steady. (The child is kept on the asking
    thread's processor, so when the answer is read, the child has stopped and its count is up
    to date.)
    """

    def clock() -> int:
        child = pid()
        if child is None:
            return time.thread_time_ns()
        with open(f"/proc/{child}/schedstat", "rb") as stats:
            return time.thread_time_ns() + int(stats.read().split()[0])

    return clock


def measure(
    samples: list[tuple[str, bytes, str]],
    repeat: int,
    worker: Any | None,
    isolated: IsolatedFloor | None = None,
    cpu: bool = False,
) -> dict[str, dict[str, list[float]]]:
    """Per sample: the ms of each run of the pipeline, its floor, the worker and the floor
    isolated (when given); with `cpu`, processor ms rather than wall ms.

    They run back to back in an order that rotates with each repetition: whichever runs
    first after another file finds the processor's caches cold, and that must not always be
    the same one.
    """
    wall = time.perf_counter_ns
    own = processor_clock(lambda: None)
    times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for repetition in range(repeat):
        for name, data, _kind in samples:
            floor = FLOORS[extension(name)]
            runs: list[tuple[str, Callable[[], object], Callable[[], int]]] = [
                (
                    "pipeline",
                    functools.partial(read_document, name, data, LIMITS, today=TODAY),
                    own if cpu else wall,
                ),
                ("floor", functools.partial(floor, data), own if cpu else wall),
            ]
            action: Callable[[], object]
            if worker is not None:
                action = functools.partial(_checked, worker, name, data)
                clock = processor_clock(lambda: worker.pid) if cpu else wall
                runs.append(("worker", action, clock))
            if isolated is not None:
                action = functools.partial(isolated.read, name, data)
                clock = processor_clock(lambda: isolated.pid) if cpu else wall
                runs.append(("isolated", action, clock))
            turn = repetition % len(runs)
            for what, action, clock in runs[turn:] + runs[:turn]:
                times[name][what].append(timed(action, clock))
    return times


def _checked(worker: Any, name: str, data: bytes) -> DocumentResult:
    result: DocumentResult = worker.read(name, data)
    if result.classification.status.value == "refused":
        raise SystemExit(f"the worker refused a corpus file: {result.classification.reason}")
    return result


def report(
    samples: list[tuple[str, bytes, str]],
    times: dict[str, dict[str, list[float]]],
    each: bool = False,
) -> None:
    """One line per kind (the median of its documents' medians), or per document with `each`."""
    by_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, _data, kind in samples:
        for what, runs in times[name].items():
            by_kind[name if each else kind][what].append(statistics.median(runs))
    worker = any("worker" in row for row in by_kind.values())
    isolated = any("isolated" in row for row in by_kind.values())
    title = "document" if each else "kind and type"
    head = f"{title:<36}{'docs':>5}{'pipeline ms':>13}{'floor ms':>10}{'ratio':>7}"
    head += f"{'worker ms':>11}{'ratio':>7}" if worker else ""
    head += f"{'floor isolated':>16}{'ratio':>7}" if isolated else ""
    print(head + (f"  target (worker ÷ {TARGET}× floor)" if worker and isolated else ""))
    names = {name: kind for name, _data, kind in samples}
    for kind, row in sorted(by_kind.items()):
        pipeline, floor = statistics.median(row["pipeline"]), statistics.median(row["floor"])
        line = f"{kind[:35]:<36}{len(row['floor']):>5}{pipeline:>13.2f}{floor:>10.2f}"
        line += f"{pipeline / floor:>7.2f}"
        if worker:
            through = statistics.median(row["worker"])
            line += f"{through:>11.2f}{through / floor:>7.2f}"
        if isolated:
            bare = statistics.median(row["isolated"])
            line += f"{bare:>16.2f}{bare / floor:>7.2f}"
        if worker and isolated:
            line += _target(names.get(kind, kind), through, floor, bare)
        print(line)


def _target(kind: str, through: float, floor: float, bare: float) -> str:
    """The issue's target for this line: the worker within 1.3× the floor isolated, or (for a
    long document) within 1.3× the plain floor."""
    long = kind.endswith(f"{LONG}+ pages")
    ratio = through / (floor if long else bare)
    verdict = "ok" if ratio <= TARGET else "OVER"
    return f"  {ratio:.2f}× {'floor' if long else 'isolated'} {verdict}"


# --- How much of what the corpus expects is read right. ---

# The facts intake files a case by, as each form's expected JSON lists them ("form").
FACTS = (
    *("child_name", "child_dob", "referrer_name", "referrer_email", "request_types"),
    *("consent", "genogram_required", "section20", "panel"),
)
OTHER_FIELDS = "other fields"


def field_accuracy() -> dict[str, list[tuple[str, bool]]]:
    """Per field, (document, read right?) for every value the corpus's expected JSONs give:
    the facts of each referral form, and the further fields some of them list."""
    found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".json", ".py") or not path.is_file():
            continue
        expected = json.loads(path.with_name(path.name + ".json").read_text())
        if "form" not in expected and "fields" not in expected:
            continue
        result = read_document(path.name, path.read_bytes(), LIMITS, today=TODAY)
        facts = _facts(result)
        for key in FACTS:
            if key in expected.get("form", {}):
                found[key].append((path.name, facts.get(key) == expected["form"][key]))
        for key, value in expected.get("fields", {}).items():
            held = result.fields.get(key)
            got = held.get("value") if isinstance(held, dict) else None
            found[OTHER_FIELDS].append((f"{path.name} ({key})", got == value))
    return found


def _facts(result: DocumentResult) -> dict[str, Any]:
    """The form's facts as its expected JSON spells them (ISO dates, lists)."""
    if result.facts is None:
        return {}
    born = result.facts.child_dob
    return {
        **{key: getattr(result.facts, key) for key in FACTS},
        "child_dob": born.isoformat() if born else None,
        "request_types": list(result.facts.request_types),
    }


def report_accuracy(found: dict[str, list[tuple[str, bool]]], each: bool) -> None:
    """Correct / expected per field and overall; with `each`, which document missed which."""
    print(f"{'field accuracy':<28}{'right':>7}{'of':>5}{'share':>8}")
    right = total = 0
    for key in (*FACTS, OTHER_FIELDS):
        marks = found.get(key, [])
        hits = sum(ok for _, ok in marks)
        right, total = right + hits, total + len(marks)
        if marks:
            print(f"{key:<28}{hits:>7}{len(marks):>5}{hits / len(marks):>8.0%}")
    print(f"{'overall':<28}{right:>7}{total:>5}{right / max(total, 1):>8.1%}")
    if each:
        for key, marks in found.items():
            for name, ok in marks:
                if not ok:
                    print(f"  missed {key}: {name}")


def round_trip(worker: Any, repeat: int) -> float:
    """What one read through the worker costs with nothing to read: the price of isolation."""
    return statistics.median(timed(lambda: worker.read("empty.pdf", b"")) for _ in range(repeat))


def open_worker() -> Any | None:
    if not (ROOT / "pipeline" / "documents" / "worker.py").exists():
        return None
    from pipeline.documents.worker import DocumentWorker

    return DocumentWorker(LIMITS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--large", action="store_true", help="add two long chronologies")
    parser.add_argument("--each", action="store_true", help="a line per document, not per kind")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="processor time (this process and the reader's) instead of wall time (Linux)",
    )
    args = parser.parse_args()
    report_accuracy(field_accuracy(), args.each)
    print()
    samples = corpus()
    worker = open_worker()
    isolated = IsolatedFloor() if worker is not None else None
    try:
        if worker is not None:
            # The first read starts the warm child; that is not what is being measured.
            worker.read(*samples[0][:2])
        what = "processor ms" if args.cpu else "wall ms"
        print(f"golden corpus, {args.repeat} runs each ({what}, medians; ratio = ÷ floor)")
        report(samples, measure(samples, args.repeat, worker, isolated, args.cpu), args.each)
        if worker is not None:
            alone = round_trip(worker, args.repeat)
            print(f"\nisolation alone: {alone:.3f} ms a read (a 0-byte file)")
        if args.large:
            big = large()
            print("\nlong chronologies, 3 runs each")
            report(big, measure(big, 3, worker, cpu=args.cpu))
    finally:
        try:
            if isolated is not None:
                isolated.close()
        finally:
            if worker is not None:
                worker.close()


if __name__ == "__main__":
    main()
