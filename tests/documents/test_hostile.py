"""Hostile attachments (issue 3, SPEC §7): each is refused with a plain reason, in time, with the
reader's memory bounded, and the next file and the next email are read normally."""

from __future__ import annotations

import pickle
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.documents import read as read_module
from pipeline.documents import sniff
from pipeline.documents import worker as worker_module
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.pdf import too_many_pages
from pipeline.documents.results import DocumentResult, ReadLimits
from pipeline.documents.worker import DocumentWorker
from pipeline.intake.poll import poll
from pipeline.store.models import Document
from tests import hostile
from tests.helpers import drop, open_service, sent_mail

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
LIMITS = ReadLimits(seconds=3.0, memory_mb=1024)
# Time allowed beyond the limit for killing a child and answering.
MARGIN = 2.0
SECRET = "SYNTHETIC-SECRET-7f3a9c"
MACROS = "the file contains macros (.docm): please save it as a normal Word document (.docx)"
PROGRAM = "the file is named .docx but is actually a program"
PAGES = too_many_pages(2000, LIMITS.max_pdf_pages)


@dataclass(frozen=True)
class Hostile:
    filename: str
    make: Callable[[Path], bytes]
    reason: str

    def __str__(self) -> str:
        return self.filename


CASES = [
    Hostile("Bomb.docx", lambda _: hostile.zip_bomb_docx(), sniff.BOMB),
    Hostile("Chronology.docx", lambda _: hostile.billion_laughs_docx(), sniff.UNREADABLE),
    Hostile("Assessment.docx", hostile.external_entity_docx, sniff.UNREADABLE),
    Hostile("EHA.pdf", lambda _: hostile.encrypted_pdf(), sniff.PASSWORD),
    Hostile("Referral form.docm", lambda _: hostile.macro_docm(), MACROS),
    Hostile("Genogram.docx", lambda _: hostile.program(), PROGRAM),
    Hostile("Chronology.pdf", lambda _: hostile.truncated_pdf(), sniff.CUT_SHORT),
    Hostile("Assessment.pdf", lambda _: hostile.pages_pdf(2000), PAGES),
    Hostile("Blank.docx", lambda _: b"", "the file is empty"),
]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file on the server's disk that an external entity tries to read into a document."""
    path = tmp_path / "hostname"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture(scope="module")
def worker() -> Iterator[DocumentWorker]:
    with DocumentWorker(LIMITS) as reader:
        yield reader


def timed_read(worker: DocumentWorker, filename: str, data: bytes) -> tuple[DocumentResult, float]:
    started = time.monotonic()
    result = worker.read(filename, data)
    return result, time.monotonic() - started


def child_memory(pid: int) -> tuple[int, int]:
    """The child's address-space limit and its peak resident size, both in bytes."""
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    [address] = [line for line in limits if line.startswith("Max address space")]
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    [peak] = [line for line in status if line.startswith("VmHWM:")]
    return int(address.split()[3]), int(peak.split()[1]) * 1024


def assert_memory_bounded(worker: DocumentWorker) -> None:
    assert worker.pid is not None
    limit, peak = child_memory(worker.pid)
    assert limit == worker.limits.memory_mb * 1024 * 1024
    assert peak < limit


def assert_reads_normally(worker: DocumentWorker) -> None:
    result = worker.read("Chronology.docx", samples.chronology())
    assert (result.classification.kind, result.classification.status) == (
        Kind.CHRONOLOGY,
        Status.OK,
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_file_is_refused_in_time_and_the_next_file_reads(
    worker: DocumentWorker, case: Hostile, secret_file: Path
) -> None:
    data = case.make(secret_file)
    result, took = timed_read(worker, case.filename, data)
    assert took < LIMITS.seconds + MARGIN
    assert result.classification.status == Status.REFUSED
    assert result.classification.reason is not None
    assert case.reason in result.classification.reason
    assert SECRET not in repr(result) and SECRET.encode() not in pickle.dumps(result)
    assert_memory_bounded(worker)
    assert_reads_normally(worker)


def test_external_entity_and_entity_expansion_are_refused_by_the_parser_settings(
    secret_file: Path,
) -> None:
    # Below the DOCTYPE check that refuses these first, the parser itself must not help either.
    leaked = etree.fromstring(hostile.external_entity(secret_file), sniff.XML_PARSER)
    assert SECRET not in etree.tostring(leaked).decode()
    assert SECRET not in "".join(leaked.itertext())
    # libxml2 either leaves the entities unexpanded or stops at its amplification guard.
    try:
        expanded = len(etree.tostring(etree.fromstring(hostile.billion_laughs(), sniff.XML_PARSER)))
    except etree.XMLSyntaxError:
        expanded = 0
    assert expanded < 10_000
    assert sniff.parse_xml(hostile.external_entity(secret_file)) is None
    assert sniff.parse_xml(hostile.billion_laughs()) is None


def test_a_page_of_one_and_a_half_million_lines_is_answered_within_the_limit(
    worker: DocumentWorker,
) -> None:
    result, took = timed_read(worker, "Genogram.pdf", hostile.one_long_path_pdf())
    assert took < LIMITS.seconds + MARGIN
    assert result.classification.status in (Status.NEEDS_REVIEW, Status.OK, Status.REFUSED)
    assert_memory_bounded(worker)
    assert_reads_normally(worker)


def test_a_slow_file_is_stopped_at_the_time_limit_and_a_fresh_reader_takes_over() -> None:
    # 1.5 million separate paths take pdfium about 2 s here: four times this limit.
    limits = ReadLimits(seconds=0.5)
    with DocumentWorker(limits) as worker:
        assert_reads_normally(worker)
        first = worker.pid
        result, took = timed_read(worker, "Genogram.pdf", hostile.many_paths_pdf())
        assert took < limits.seconds + MARGIN
        assert result.classification.status == Status.REFUSED
        assert result.classification.reason == (
            "the file took too long to read safely (over 0.5 s): please send it as a simpler "
            "PDF or Word document"
        )
        assert worker.pid != first
        assert_reads_normally(worker)


def test_a_file_that_needs_too_much_memory_is_refused_and_the_reader_replaced() -> None:
    # The same page needs about 0.5 GB; the child may have 200 MB of address space in all.
    limits = ReadLimits(seconds=20, memory_mb=200)
    with DocumentWorker(limits) as worker:
        assert_reads_normally(worker)
        first = worker.pid
        result, took = timed_read(worker, "Genogram.pdf", hostile.many_paths_pdf())
        assert took < limits.seconds
        assert result.classification.status == Status.REFUSED
        assert result.classification.reason is not None
        assert result.classification.reason.startswith(
            "the file needed too much memory to read safely (over 200 MB)"
        )
        assert worker.pid != first
        assert_reads_normally(worker)


@pytest.mark.parametrize(("error", "outcome"), [(MemoryError, "memory"), (KeyError, "failed")])
def test_an_error_inside_the_reader_becomes_an_answer_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], outcome: str
) -> None:
    # No file is known to reach these paths any more, so the reader is made to fail here.
    def fail(*_: object) -> DocumentResult:
        raise error("Robin Testcase")

    # The child looks its reader up when it reads, so the one patched here is the one it calls.
    monkeypatch.setattr(read_module, "read_document", fail)
    reply = worker_module.read_one("Referral.docx", b"PK", LIMITS, None)
    assert reply[0] == outcome and "Robin" not in repr(reply)


def test_the_service_itself_keeps_no_memory_limit() -> None:
    # The limit belongs to the child alone: the service must not inherit or impose it.
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != LIMITS.memory_mb * 1024 * 1024


# --- End to end: intake on the maildir back-end. ---

REFERRER = samples.Child(referrer_name="Sam Sender", referrer_email="sam.sender@school.example.org")
NEXT = samples.Child(
    name="Alex Sample", referrer_name="Pat Next", referrer_email="pat.next@school.example.org"
)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW, limits__parse_seconds=0.5)
    yield app
    app.close()


def hostile_files(secret_file: Path) -> list[tuple[samples.File, str]]:
    """Each hostile attachment with the reason its referrer must be given."""
    made = [
        ("Zip bomb.docx", hostile.zip_bomb_docx(), sniff.BOMB),
        ("Laughs.docx", hostile.billion_laughs_docx(), sniff.UNREADABLE),
        ("Entity.docx", hostile.external_entity_docx(secret_file), sniff.UNREADABLE),
        ("Locked.pdf", hostile.encrypted_pdf(), sniff.PASSWORD),
        ("Macros.docm", hostile.macro_docm(), MACROS),
        ("Program.docx", hostile.program(), PROGRAM),
        ("Cut.pdf", hostile.truncated_pdf(), sniff.CUT_SHORT),
        ("Long.pdf", hostile.pages_pdf(2000), PAGES),
        ("Empty.docx", b"", "the file is empty"),
        ("Drawing.pdf", hostile.many_paths_pdf(), "the file took too long to read safely"),
    ]
    return [(samples.File(name, samples.DOCX, data), why) for name, data, why in made]


def acknowledgement_to(service: App, address: str) -> str:
    [ack] = [sent for sent in sent_mail(service) if address in sent.to]
    return " ".join(ack.text().split())


@pytest.mark.opens_store
def test_hostile_attachments_are_named_in_the_acknowledgement_and_the_next_email_is_filed(
    service: App, secret_file: Path
) -> None:
    refused = hostile_files(secret_file)
    files = [f for f, _ in refused] + samples.full_referral(REFERRER)
    sender = f"{REFERRER.referrer_name} <{REFERRER.referrer_email}>"
    drop(service, samples.Mail(sender, "Referral", files=files), NOW - timedelta(minutes=2))
    following = samples.Mail(
        f"{NEXT.referrer_name} <{NEXT.referrer_email}>",
        "Referral",
        files=samples.full_referral(NEXT),
    )
    drop(service, following, NOW - timedelta(minutes=1))
    poll(service)

    text = acknowledgement_to(service, REFERRER.referrer_email)
    for file, why in refused:
        assert f"{file.filename} — NOT USABLE: {why}" in text
    assert "Your referral is complete" in text
    assert "Your referral is complete" in acknowledgement_to(service, NEXT.referrer_email)
    with service.store.session() as session:
        documents = list(session.scalars(select(Document)))
    assert len(documents) == len(refused) + 8
    # The originals are kept, and nothing read from the server's disk reached a record or a reply.
    assert all(service.files.read(d.stored_path) is not None for d in documents)
    assert SECRET not in repr([(d.fields, d.reason, d.classification) for d in documents])
    assert all(SECRET not in sent.message.as_string() for sent in sent_mail(service))
