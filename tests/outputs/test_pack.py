"""R12: the meeting pack, built from real LibreOffice conversions, read back with pypdf: order,
bookmarks, page count, stamps, co-opted members' copies, versions and numbered parts."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf
import pytest
from docx import Document as WordDocument
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.outputs.convert import conversion_jobs
from pipeline.outputs.pack import build_pack, originals, split, stamp, zip_originals
from pipeline.panel.distribute import _zip_parts, pack_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case, Conversion, Document, Pack, PackSend
from tests.helpers import (
    Sent,
    attachments,
    drop,
    open_service,
    outline,
    pack_pdfs,
    pack_reader,
    sent_mail,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
# Slot notices go five days before, at meeting time; the pack follows a few minutes later.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
COOPTED = {"role": "co-opted"}
MEMBERS = [
    {"name": "Pat Police", "email": "police@example.org", "agency": "Police"},
    {
        "name": "Hal Housing",
        "email": "housing@example.org",
        "agency": "Housing",
        "role": "co-opted",
    },
]
# Small enough to split this pack, large enough for its biggest single page and case zip.
LIMIT = 250_000
KINDS = ["Referral form", "Chronology", "Genogram", "Assessment"]


@dataclass
class World:
    folder: Path
    first: list[Sent]
    repeat: int
    second: list[Sent]
    packs: list[Pack]
    sends: list[PackSend]
    same_inputs_version: int


def service(folder: Path, now: datetime, **overrides: Any) -> App:
    return open_service(folder, now, people__members=MEMBERS, **overrides)


def referrals(app: App) -> None:
    for n, (name, drawn) in enumerate((("Robin Testcase", True), ("Sky Example", False))):
        child = samples.Child(name=name, referrer_email=f"ref{n}@school.example.org")
        files = samples.full_referral(child, genogram=drawn)
        # A second apart: filed in the order they arrived (two at the same moment may be filed
        # either way, and the tests below read the first case as Robin's).
        mail = samples.Mail(child.referrer_email, f"Referral {n}", files=files)
        drop(app, mail, NOW + timedelta(seconds=n))
    poll(app)
    with app.store.session() as session:
        first, second = session.scalars(select(Case).order_by(Case.id))
        first.state = second.state = CaseState.APPROVED
        second.flags = ["co-opt: Housing"]
        # One document whose conversion failed: the pack carries a page saying so.
        genogram = next(d for d in first.documents if d.kind == "genogram")
        session.add(
            Conversion(
                source_sha256=genogram.sha256,
                status="failed",
                error="the picture is damaged",
                created_at=NOW,
            )
        )


def packs_sent(app: App) -> list[Sent]:
    return [s for s in sent_mail(app) if "meeting pack" in s.subject]


def tick_and_deliver(app: App) -> int:
    done = len(run_due(app, [pack_jobs]).done)
    deliver_configured(app)
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("pack")
    app = service(folder, NOW)
    referrals(app)
    assert not run_due(app, [conversion_jobs]).failed
    assert tick_and_deliver(app) == 0, "no pack before the slot notices"
    app.close()
    app = service(folder, AFTER_NOTICE)
    assert tick_and_deliver(app) == 1
    first = packs_sent(app)
    repeat = tick_and_deliver(app)
    with app.store.session() as session:
        same = build_pack(app, session, "masp", MEETING).pack.version
    with app.store.session() as session:
        first_case = session.scalars(select(Case).order_by(Case.id)).first()
        assert first_case is not None
        first_case.flags = ["co-opt: Housing"]
    app.close()
    # A changed input (Housing now co-opted on both cases), and a small email limit.
    app = service(folder, AFTER_NOTICE + timedelta(hours=1), pack={"max_email_bytes": LIMIT})
    assert tick_and_deliver(app) == 1
    second = packs_sent(app)[len(first) :]
    with app.store.session() as session:
        packs = list(session.scalars(select(Pack).order_by(Pack.version)))
        sends = list(session.scalars(select(PackSend).order_by(PackSend.id)))
        session.expunge_all()
    app.close()
    yield World(folder, first, repeat, second, packs, sends, same)


def mail_to(items: list[Sent], address: str) -> list[Sent]:
    return [s for s in items if s.to == address]


def test_everyone_configured_gets_one_copy_and_it_is_recorded(world: World) -> None:
    assert sorted(s.to for s in world.first) == sorted(
        ["admin@example.org", "chair@example.org", "police@example.org", "housing@example.org"]
    )
    assert world.repeat == 0
    assert world.same_inputs_version == 1
    for sent in world.first:
        assert "version 1" in sent.subject
        names = [n.rsplit(".", 1)[1] for n in sent.attachment_names()]
        assert names == ["pdf", "docx", "pdf", "zip"]
    # The Word agenda travels with each copy, holding only the cases that copy holds.
    (housing,) = mail_to(world.first, "housing@example.org")
    agenda = agenda_text(housing)
    assert "MASP-2026-0002" in agenda and "MASP-2026-0001" not in agenda
    v1 = [s for s in world.sends if s.pack_id == world.packs[0].id]
    assert {s.recipient: s.references for s in v1}["housing@example.org"] == ["MASP-2026-0002"]
    assert len(v1) == 4 and all(s.outbox_id for s in v1)


def agenda_text(sent: Sent) -> str:
    for part in sent.message.walk():
        if (part.get_filename() or "").endswith("-agenda.docx"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            document = WordDocument(io.BytesIO(payload))
            cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
            return "\n".join([p.text for p in document.paragraphs] + cells)
    raise AssertionError("no agenda attached")


def test_whole_pack_order_bookmarks_pages_and_stamps(world: World) -> None:
    (sent,) = mail_to(world.first, "admin@example.org")
    pdf = pack_reader(sent)
    marks = outline(pdf)
    assert [title for title, _, _ in marks] == [
        "Front sheet",
        "Agenda",
        "MASP-2026-0001 (R.T., age 10)",
        "MASP-2026-0002 (S.E., age 10)",
    ]
    first_case, second_case = marks[2][2], marks[3][2]
    assert [t.split(" (")[0] for t, _ in first_case] == KINDS
    assert [t.split(" (")[0] for t, _ in second_case] == [k for k in KINDS if k != "Genogram"]
    starts = [page for _, page in first_case + second_case]
    assert starts == sorted(starts) and starts[0] == 2
    assert len(pdf.pages) == world.packs[0].pages
    total = len(pdf.pages)
    for number in (1, total // 2, total):
        text = pdf.pages[number - 1].extract_text()
        assert f"Page {number} of {total}" in text and "Copy for A Admin" in text
    agenda = pdf.pages[1].extract_text()
    assert f"Pack pages 3–{second_case[0][1]}" in agenda
    genogram_page = first_case[2][1]
    assert "could not be converted: see the original in the zip" in (
        pdf.pages[genogram_page].extract_text()
    )
    assert "Chronology of significant events" in pdf.pages[first_case[1][1]].extract_text()


def test_coopted_member_gets_only_their_case(world: World) -> None:
    (sent,) = mail_to(world.first, "housing@example.org")
    pdf = pack_reader(sent)
    assert [title for title, _, _ in outline(pdf)][2:] == ["MASP-2026-0002 (S.E., age 10)"]
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "MASP-2026-0001" not in text and "Copy for Hal Housing" in text
    (archive,) = attachments(sent, ".zip")
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert names and all(n.startswith("MASP-2026-0002/") for n in names)
    assert "MASP-2026-0002" in sent.text() and "MASP-2026-0001" not in sent.text()


def test_changed_inputs_make_version_two_sent_in_numbered_parts(world: World) -> None:
    assert [p.version for p in world.packs] == [1, 2]
    v2 = world.packs[1]
    assert {s.recipient for s in world.sends if s.pack_id == v2.id} == {
        "admin@example.org",
        "chair@example.org",
        "police@example.org",
        "housing@example.org",
    }
    emails = mail_to(world.second, "chair@example.org")
    assert len(emails) > 1
    assert all(f"of {len(emails)})" in e.subject and "version 2" in e.subject for e in emails)
    assert all(len(e.message.as_bytes()) <= LIMIT for e in emails)
    parts = [pypdf.PdfReader(io.BytesIO(d)) for e in emails for d in pack_pdfs(e)]
    assert len(parts) > 1 and sum(len(p.pages) for p in parts) == v2.pages
    assert f"Page 1 of {v2.pages}" in parts[0].pages[0].extract_text()
    assert f"Page {v2.pages} of {v2.pages}" in parts[-1].pages[-1].extract_text()
    assert attachments(emails[-1], ".zip") or any(attachments(e, ".zip") for e in emails)
    housing = mail_to(world.second, "housing@example.org")
    assert housing and "MASP-2026-0001" in housing[0].text()


def test_split_keeps_every_page_and_never_drops_an_oversized_one(world: World) -> None:
    app = service(world.folder, AFTER_NOTICE + timedelta(hours=2))
    with app.store.session() as session:
        built = build_pack(app, session, "masp", MEETING)
    stamped = stamp(built.rendered.data, "Pat Police")
    parts = split(stamped, built.rendered.sections, budget=1)
    assert len(parts) == built.rendered.pages
    assert split(stamped, built.rendered.sections, budget=len(stamped)) == [stamped]
    with app.store.session() as session:
        assert session.scalar(select(Document.id)) is not None
    app.close()


def test_the_agenda_also_travels_as_its_own_pdf(world: World) -> None:
    (sent,) = mail_to(world.first, "admin@example.org")
    [agenda] = [p for p in sent.message.walk() if (p.get_filename() or "").endswith("agenda.pdf")]
    payload = agenda.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(payload)).pages)
    assert "MASP-2026-0001" in text and "Cases presented" in text


def test_originals_too_big_for_one_zip_are_shared_out_with_none_lost(world: World) -> None:
    app = service(world.folder, AFTER_NOTICE + timedelta(hours=2))
    with app.store.session() as session:
        inputs = build_pack(app, session, "masp", MEETING).inputs
        expected = {o.name: app.files.read(o.stored_path) for o in originals(inputs)}
    biggest_file = max(len(zip_originals(app, [o])) for o in originals(inputs))
    biggest_case = max(
        len(zip_originals(app, [o for o in originals(inputs) if o.case == c.reference]))
        for c in inputs.cases
    )
    assert biggest_case > biggest_file, "the sample cases have several files each"
    # Too small for any whole case, big enough for each file: every case is shared out.
    budget = biggest_file
    parts = _zip_parts(app, inputs, budget)
    assert len(parts) > len(inputs.cases)
    assert all(len(part) <= budget for part in parts)
    zips = [zipfile.ZipFile(io.BytesIO(part)) for part in parts]
    got = [(name, archive.read(name)) for archive in zips for name in archive.namelist()]
    assert sorted(name for name, _ in got) == sorted(expected)
    assert dict(got) == expected
    # A budget one file cannot fit: that file travels in its own zip, nothing is dropped.
    alone = _zip_parts(app, inputs, biggest_file - 1)
    assert sum(len(zipfile.ZipFile(io.BytesIO(z)).namelist()) for z in alone) == len(expected)
    # Room for everything: one zip.
    assert len(_zip_parts(app, inputs, 10**9)) == 1
    app.close()
