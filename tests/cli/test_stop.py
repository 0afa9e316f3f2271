"""The real `masp run` stopped by SIGTERM in the middle of a LibreOffice batch: it ends within
seconds (its LibreOffice killed, nothing recorded against the documents) and the next tick
converts them all, so the meeting's pack has every page."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.outputs.convert import route_of
from pipeline.states import CaseState
from pipeline.store.models import Case, Conversion, Document, JobRun
from tests.cli.test_service_process import Start, masp, wait_until

# The fixture `background` (`masp` started in its own process group, whatever is left killed).
from tests.cli.test_service_process import background as background
from tests.helpers import drop, open_service, pack_pdfs, sent_mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# After the slot notices for Tuesday 8 December's meeting: the pack job is due.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
ADMIN = "admin@example.org"
# LibreOffice takes about half a minute over a 3,000-row Word table on this machine: long
# enough to be certainly in the middle of it, short enough for the next tick to finish it.
LONG_ROWS = 3000
CHILDREN = ["Ada Stopwell", "Ben Stopwell", "Cy Stopwell"]
# `masp run` ticks a minute after it starts; then LibreOffice must start.
FIRST_TICK = 150.0
# What a systemd stop should be able to count on (deploy/masp.service).
STOP_WITHIN = 15.0


def prepare(folder: Path) -> Path:
    """An installation holding three approved referrals, filed and not yet converted, one of
    them with a chronology LibreOffice takes half a minute over; its config file."""
    app = open_service(folder, NOW)
    long = samples.File("Chronology.docx", samples.DOCX, samples.chronology(rows=LONG_ROWS))
    for number, name in enumerate(CHILDREN):
        child = samples.Child(name=name, referrer_email=f"stop{number}@school.example.org")
        files = samples.full_referral(child)
        if number == 0:
            files = [long if f.filename == "Chronology.docx" else f for f in files]
        drop(app, samples.Mail(child.referrer_email, f"Referral {number}", files=files), NOW)
    poll(app)
    with app.store.session() as session:
        cases = list(session.scalars(select(Case)))
        assert len(cases) == len(CHILDREN)
        for case in cases:
            case.state = CaseState.APPROVED
    app.close()
    return folder / "config.yaml"


def soffice_processes(folder: Path) -> list[int]:
    """Every running process that uses this installation's LibreOffice profile."""
    profile = str(folder / "data" / "soffice-profile").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if profile in command and b"--convert-to" in command:
            found.append(int(entry.name))
    return found


def stop_while_converting(background: Start, folder: Path, config: Path, name: str) -> float:
    """Start `masp run`, SIGTERM it while LibreOffice converts its first batch; the seconds it
    took to exit (it is killed after 120 s)."""
    worker = background(config, "--now", NOW.isoformat(), "run", name=name)

    def converting() -> bool:
        assert worker.process.poll() is None, worker.output()
        return bool(soffice_processes(folder))

    wait_until(converting, FIRST_TICK, "LibreOffice to start converting", interval=0.1)
    # Well into the batch: the short documents before the long one are done by now.
    time.sleep(3)
    signalled = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    try:
        worker.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        worker.kill()
    return time.monotonic() - signalled


def office_documents(folder: Path) -> tuple[set[str], dict[str, str], set[str]]:
    """The office documents' contents, each conversion's status, and the conversion jobs done,
    as the store has them."""
    app = open_service(folder, NOW)
    with app.store.session() as session:
        office = set()
        for document in session.scalars(select(Document)):
            route = route_of(document)
            if route is not None and route[0] == "office":
                office.add(document.sha256)
        statuses = {c.source_sha256: c.status for c in session.scalars(select(Conversion))}
        runs = set(session.scalars(select(JobRun.key).where(JobRun.key.like("convert:%"))))
    app.close()
    return office, statuses, runs


def pack_text(folder: Path) -> str:
    """Every page of the pack the administrator received, spaces collapsed."""
    app = open_service(folder, AFTER_NOTICE)
    [pack] = [s for s in sent_mail(app) if "meeting pack" in s.subject and s.to == ADMIN]
    app.close()
    [data] = pack_pdfs(pack)
    pdf = pdfium.PdfDocument(data)
    return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in pdf)


@pytest.mark.timeout(600)
def test_sigterm_in_a_libreoffice_batch_stops_in_seconds_and_the_next_tick_converts_it(
    tmp_path: Path, background: Start
) -> None:
    config = prepare(tmp_path)
    stopped_in = stop_while_converting(background, tmp_path, config, "run")
    log = (tmp_path / "run.err").read_text(errors="replace")
    print(f"masp run exited {stopped_in:.2f} s after SIGTERM")
    assert stopped_in < STOP_WITHIN, log
    assert "received SIGTERM" in log and "stopped cleanly" in log, log
    assert "stopped part-way" in log and "Traceback" not in log, log
    # Its LibreOffice is gone with it, and so is the profile a killed LibreOffice may have
    # left half-written (the next call makes a fresh one).
    assert soffice_processes(tmp_path) == []
    assert not (tmp_path / "data" / "soffice-profile" / ".lock").exists()

    # Nothing was recorded against the office documents: no failure, no job done.
    office, statuses, runs = office_documents(tmp_path)
    assert len(office) >= len(CHILDREN) + 1
    assert "failed" not in statuses.values()
    assert not office & set(statuses)
    assert not {f"convert:{sha}" for sha in office} & runs

    # The next tick converts them all, and the pack has every page of them.
    tick = masp(config, "--now", AFTER_NOTICE.isoformat(), "tick", timeout=420)
    assert tick.returncode == 0, tick.stdout + tick.stderr
    office, statuses, _ = office_documents(tmp_path)
    assert {statuses.get(sha) for sha in office} == {"done"}
    text = pack_text(tmp_path)
    for name in CHILDREN:
        assert name in text
    assert "Chronology of significant events" in text
    assert f"Invented event number {LONG_ROWS} for the synthetic family." in text
    assert "has not been converted yet" not in text and "could not be converted" not in text
    assert "did not finish" not in text
    assert os.listdir(tmp_path / "data" / "work") == []
