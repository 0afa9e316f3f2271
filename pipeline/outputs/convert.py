"""Documents turned into PDF when they arrive, so a meeting's pack assembles in seconds.

Word, Excel, OpenDocument and RTF go through LibreOffice headless; every document pending in
a tick goes into ONE `soffice --convert-to pdf` call, because starting LibreOffice costs far
more than converting (measured: ~1.2 s a cold call, ten documents in one call ~6 s). PDFs are
made read-only (`documents.flatten`: form fields drawn into their pages, scripts removed);
images are placed on A4 pages. Both happen in the isolated document worker, under the
reader's time and memory limits, never in the service (SPEC §7): pictures are the cheapest
way to make a process take gigabytes. A conversion is keyed by the
document's content, so the same bytes are converted once whatever case they arrive on.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Config
from pipeline.disk import ensure_private_dir
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.results import Converted
from pipeline.errors import ConversionError, Stopped, StoreError
from pipeline.jobs import Job, bind
from pipeline.outputs.readback import chronology_pdf
from pipeline.states import ConversionState
from pipeline.store.models import Conversion, Document

log = logging.getLogger(__name__)

# How often a running LibreOffice is checked for the service being asked to stop.
STOP_CHECK_SECONDS = 0.2

OFFICE = frozenset({"docx", "doc", "xlsx", "xls", "odt", "ods", "rtf", "pptx", "odp", "txt", "csv"})
IMAGES = frozenset({"png", "jpg", "jpeg", "gif", "tif", "tiff", "bmp"})


class NotStarted(ConversionError):
    """LibreOffice itself could not be run: no document in the batch is to blame."""


@dataclass(frozen=True)
class Source:
    """One document's bytes waiting to be converted, and how."""

    sha256: str
    route: str
    # The file type, which LibreOffice uses (with the content) to pick its import filter.
    suffix: str
    data: bytes


def route_of(document: Document) -> tuple[str, str] | None:
    """('pdf' | 'image' | 'office', file type) from what the file was sniffed as, else its name."""
    sniffed = str((document.fields or {}).get("sniffed", "")).lower()
    suffix = Path(document.filename).suffix.lower().lstrip(".")
    for kind in (sniffed, suffix):
        if kind == "pdf":
            return "pdf", kind
        if kind in IMAGES:
            return "image", kind
        if kind in OFFICE:
            return "office", kind
    return None


def _program(name: str, missing: str) -> str:
    """The path of the program `name` (as the shell would find it), or NotStarted."""
    found = shutil.which(name)
    if found is None:
        raise NotStarted(f"LibreOffice could not be started: {missing}")
    return found


def _profile(config: Config) -> Path:
    return config.data_path / "soffice-profile"


def _soffice_command(config: Config, outdir: Path, files: Sequence[Path]) -> list[str]:
    # A private profile: LibreOffice's default one is per user and would clash with a person
    # (or another service) using LibreOffice on the same machine.
    profile = _profile(config)
    ensure_private_dir(profile)
    # LibreOffice reads untrusted documents, so like the document worker it runs with its address
    # space capped (SPEC §7). util-linux's prlimit sets the cap and runs it; setting it from
    # Python between fork and exec is unsafe in a service that runs threads.
    memory = config.pack.convert_memory_mb * 1024 * 1024
    return [
        _program("prlimit", "util-linux's prlimit, which caps its memory, was not found"),
        f"--as={memory}",
        "--",
        _program(config.pack.soffice, f"no program {config.pack.soffice!r} was found"),
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        *(str(f) for f in files),
    ]


def run_soffice(
    config: Config, outdir: Path, files: Sequence[Path], stop: threading.Event | None = None
) -> None:
    """One LibreOffice call converting `files` into `outdir`, killed if it overruns, or at once
    when `stop` is set (then Stopped: no document is to blame)."""
    _stop_if_asked(stop)
    seconds = config.pack.convert_seconds
    command = _soffice_command(config, outdir, files)
    try:
        # Its own process group, so a timeout kills LibreOffice's helper processes too.
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise NotStarted(f"LibreOffice could not be started ({exc.strerror})") from exc
    deadline = time.monotonic() + seconds
    while not _finished(process, min(STOP_CHECK_SECONDS, deadline - time.monotonic())):
        if stop is not None and stop.is_set():
            _kill(config, process)
            raise Stopped("LibreOffice was stopped part-way because the service is stopping")
        if time.monotonic() >= deadline:
            _kill(config, process)
            raise ConversionError(f"LibreOffice did not finish within {seconds:g} seconds")


def _stop_if_asked(stop: threading.Event | None) -> None:
    """Stopped, when the service is asked to stop: checked before each document or call."""
    if stop is not None and stop.is_set():
        raise Stopped("the service is stopping; the rest is done at the next tick")


def _finished(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(timeout=max(seconds, 0.0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill(config: Config, process: subprocess.Popen[bytes]) -> None:
    """End LibreOffice and its helpers (its whole process group) and reap it."""
    # The group may be gone already if LibreOffice ended just now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # A LibreOffice killed part-way leaves its profile's lock behind, and may have been writing
    # its settings: the next call starts from a fresh profile (about a second, once) rather
    # than from one that could stop every later start.
    shutil.rmtree(_profile(config), ignore_errors=True)


def office_to_pdf(
    config: Config, sources: Sequence[Source], stop: threading.Event | None = None
) -> dict[str, bytes | str]:
    """Convert the office documents in as few LibreOffice calls as possible: PDF bytes or a
    reason each.

    One call converts them all. If that call is stopped (a document that takes LibreOffice
    longer than `pack.convert_seconds`, such as a table of thousands of rows), the documents it
    had finished are kept; LibreOffice works through its files in order, so the first one
    without a PDF is the one it was on. The others go again together, and that one alone, so
    one slow document never costs the rest of a batch their place in the pack.

    Raises NotStarted when LibreOffice could not be started at all, and Stopped (LibreOffice
    killed, no document given a result) when `stop` is set.
    """
    work = config.data_path / "work"
    ensure_private_dir(work)
    folder = Path(tempfile.mkdtemp(prefix="convert-", dir=work))
    try:
        paths = {}
        for source in sources:
            paths[source.sha256] = folder / f"{source.sha256}.{source.suffix}"
            paths[source.sha256].write_bytes(source.data)
        results: dict[str, bytes | str] = {}
        batches = [list(sources)]
        for call in itertools.count():
            if not batches:
                break
            batch = batches.pop(0)
            out = folder / f"out-{call}"
            problem = _run_batch(config, out, [paths[s.sha256] for s in batch], stop)
            missing = []
            for source in batch:
                pdf = out / f"{source.sha256}.pdf"
                if pdf.exists():
                    results[source.sha256] = pdf.read_bytes()
                else:
                    missing.append(source)
            if isinstance(problem, NotStarted):
                # No document is to blame, so none gets a result: each is converted once
                # LibreOffice can be started.
                raise problem
            if problem is None or len(batch) == 1:
                reason = str(problem or "LibreOffice could not convert this document")
                results.update((source.sha256, reason) for source in missing)
            elif missing:
                log.warning("LibreOffice stopped on a batch of %d; retrying the rest", len(batch))
                batches += [part for part in (missing[1:], missing[:1]) if part]
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_batch(
    config: Config, out: Path, files: Sequence[Path], stop: threading.Event | None
) -> ConversionError | None:
    try:
        run_soffice(config, out, files, stop)
    except ConversionError as exc:
        return exc
    return None


def docx_to_pdf(
    config: Config, data: bytes, name: str = "document", stop: threading.Event | None = None
) -> bytes:
    """A Word document made here (an agenda, a decision sheet), turned into PDF by LibreOffice."""
    [made] = docx_batch_to_pdf(config, [data], name, stop)
    if made is None:
        raise ConversionError(f"LibreOffice could not convert the {name}")
    return made


def docx_batch_to_pdf(
    config: Config, documents: Sequence[bytes], name: str, stop: threading.Event | None = None
) -> list[bytes | None]:
    """Word documents made here, turned into PDF in ONE LibreOffice call (starting it costs
    more than converting a page): each PDF, or None where LibreOffice made none.

    Raises ConversionError (NotStarted) when LibreOffice could not be run or overran, and
    Stopped when `stop` is set.
    """
    work = config.data_path / "work"
    ensure_private_dir(work)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
    try:
        paths = [folder / f"{name}-{n}.docx" for n in range(len(documents))]
        for path, data in zip(paths, documents, strict=True):
            path.write_bytes(data)
        if paths:
            run_soffice(config, folder, paths, stop)
        made = [path.with_suffix(".pdf") for path in paths]
        return [pdf.read_bytes() if pdf.exists() else None for pdf in made]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _checked(app: App, result: bytes | str) -> Converted | str:
    """A PDF made here or by LibreOffice, opened and counted in the worker like the others."""
    return app.documents.convert("pdf", result) if isinstance(result, bytes) else result


def _record(app: App, session: Session, sha: str, result: Converted | str) -> Conversion:
    now = app.clock.now()
    row = Conversion(source_sha256=sha, status=ConversionState.FAILED, created_at=now)
    if isinstance(result, Converted):
        row.pages = result.pages
        row.pdf_path = app.files.put("pdf", result.pdf, ".pdf")[1]
        row.status = ConversionState.DONE
    else:
        row.error = result
        log.warning("conversion of document %s failed: %s", sha[:12], result)
    session.add(row)
    return row


def _results(
    app: App, sources: Sequence[Source]
) -> tuple[dict[str, Converted | str], NotStarted | None]:
    """Each source as PDF, or why not: pictures and PDFs one by one in the isolated worker,
    office documents in one LibreOffice batch. The office documents are left out, and the
    reason returned, when LibreOffice could not be started."""
    results: dict[str, Converted | str] = {}
    for source in sources:
        if source.route != "office":
            _stop_if_asked(app.stop)
            results[source.sha256] = app.documents.convert(source.route, source.data)
    office = [s for s in sources if s.route == "office"]
    if office:
        try:
            made = office_to_pdf(app.config, office, app.stop)
        except NotStarted as exc:
            return results, exc
        for sha, pdf in made.items():
            _stop_if_asked(app.stop)
            results[sha] = _checked(app, pdf)
    return results, None


def convert_documents(app: App, session: Session, documents: Iterable[Document]) -> None:
    """Make sure each document has a Conversion (done or failed), in as few calls as possible.

    Raises NotStarted, after recording the others, when LibreOffice could not be started: its
    documents get no record (no failure is theirs), so they are converted when it can be.
    Raises Stopped, having recorded nothing, when the service is asked to stop (`app.stop`):
    the job's transaction rolls back and the next tick converts them all.
    """
    have = set(session.scalars(select(Conversion.source_sha256)))
    sources: dict[str, Source] = {}
    chronologies: dict[str, Document] = {}
    for document in documents:
        if document.kind == Kind.CHRONOLOGY:
            chronologies.setdefault(document.sha256, document)
        if document.sha256 in have or document.sha256 in sources:
            continue
        route = route_of(document)
        if route is None:
            _record(app, session, document.sha256, "this kind of file cannot be shown in the pack")
            have.add(document.sha256)
            continue
        try:
            data = app.files.read(document.stored_path)
        # A file lost from data_dir costs only its own conversion. No failure is recorded, so
        # it is converted once restored; until then the pack says it is missing.
        except StoreError as exc:
            log.warning(
                "case %s: a document was not converted: %s",
                document.case.reference,
                exc,
                extra={"reference": document.case.reference},
            )
            continue
        sources[document.sha256] = Source(document.sha256, route[0], route[1], data)
    results, not_started = _results(app, list(sources.values()))
    for sha, result in results.items():
        if isinstance(result, str) and sha in chronologies:
            result = _checked(app, _read_back(chronologies[sha], result))
        _record(app, session, sha, result)
    session.flush()
    if not_started is not None:
        raise not_started


def _read_back(document: Document, problem: str) -> bytes | str:
    """A chronology LibreOffice could not lay out, written from the rows read at intake."""
    laid_out = chronology_pdf(document.filename, document.fields, problem)
    if laid_out is None:
        return problem
    log.warning("chronology %s laid out from its rows read: %s", document.sha256[:12], problem)
    return laid_out


def pending(session: Session) -> list[Document]:
    """Documents that can appear in a pack (current, not refused, not purged) and are not yet
    converted."""
    converted = select(Conversion.source_sha256)
    query = select(Document).where(
        Document.superseded.is_(False),
        Document.status != Status.REFUSED,
        Document.stored_path != "",
        Document.sha256.not_in(converted),
    )
    return list(session.scalars(query.order_by(Document.id)))


def _needs_libreoffice(document: Document) -> bool:
    route = route_of(document)
    return route is not None and route[0] == "office"


def _convert_pending(app: App, session: Session, office: bool) -> None:
    # The first job of a tick converts everything pending of its kind in one batch; the others
    # then find their document already converted and have nothing left to do. Office documents
    # go apart from the rest: a LibreOffice that cannot be started fails their jobs (each is
    # tried again next tick, the log saying why) and never costs pictures and PDFs theirs.
    documents = [d for d in pending(session) if _needs_libreoffice(d) == office]
    convert_documents(app, session, documents)


def conversion_jobs(app: App, session: Session, now: datetime) -> list[Job]:
    """A job source: one `convert:{sha256}` job per document not yet converted."""
    jobs: dict[str, Job] = {}
    for document in pending(session):
        office = _needs_libreoffice(document)
        action = bind(_convert_pending, office)
        # One claim per kind: each job converts every document of its kind pending, so while
        # one worker converts a batch, another worker's jobs of that kind wait for it.
        claim = f"convert:{'office' if office else 'worker'}"
        jobs.setdefault(
            document.sha256,
            Job(f"convert:{document.sha256}", document.created_at, action, claim=claim),
        )
    return list(jobs.values())


__all__ = [
    "conversion_jobs",
    "convert_documents",
    "docx_batch_to_pdf",
    "docx_to_pdf",
    "route_of",
    "run_soffice",
]
