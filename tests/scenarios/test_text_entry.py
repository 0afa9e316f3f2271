"""Text as it enters: control characters, bidi overrides and other poison are cleaned where an
email or a document's answers come in, so a hostile form field cannot stop the agenda, the pack
or the jobs after them; and long subjects, ours and the senders', read back exactly."""

from __future__ import annotations

import email
import email.policy
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest
from docx import Document as WordDocument
from sqlalchemy import select

from pipeline import samples
from pipeline.documents.results import ReadLimits
from pipeline.documents.worker import DocumentWorker
from pipeline.intake.poll import poll
from pipeline.jobs import TickReport, run_due
from pipeline.mime.message import parse_email
from pipeline.outbox.compose import Envelope, compose
from pipeline.outputs.convert import conversion_jobs
from pipeline.service import run_due_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case
from pipeline.templates import Rendered
from pipeline.text import clean_text, clean_values
from tests.helpers import Sent, corpus_maker, drop, open_service, parse_sent, sent_mail

maker = corpus_maker()

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# Slot notices go five days before the meeting, at meeting time; the pack follows.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
REFERRER = "dee.madeup@school.example.org"
# A core member whose name is not Latin-1: their copy is stamped with it (item 17).
MEMBER = {"name": "Łukasz Ŵyn Ōtake Δέλτα", "email": "lw@example.org", "agency": "Health"}
# Every character here is one the cleaning removes (or, for line breaks, turns into "\n").
POISON = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
FORM_VALUES = [
    ("Child's name", "Ro\x01bin Te\u202estcase"),
    ("Date of birth", "31/01/2017"),
    ("Referrer's name", "Dee\x07 Made\x02up"),
    ("Referrer's email", REFERRER),
    ("Referring agency", "North\x01vale\x1f Family\x0b Hub\ufffe"),
    ("Panel / locality", "MASP"),
    ("What is the panel being asked?", "Ple\x00ase help\x7f the fam\u2066ily"),
]


def pdf_string(text: str) -> bytes:
    """A PDF text string in UTF-16BE with its byte-order mark, so any character can be written."""
    return b"<" + ("\ufeff" + text).encode("utf-16-be").hex().encode() + b">"


def poisoned_form() -> bytes:
    """Another council's fillable PDF whose fields hold control characters and bidi overrides."""
    labels = ["Westshire Council", "MASP Referral Form", *(label for label, _ in FORM_VALUES)]
    content = b"".join(
        maker.pdf_text(56, 780 - 24 * n, 16 if n < 2 else 11, line) for n, line in enumerate(labels)
    )
    ids = b" ".join(b"%d 0 R" % (6 + n) for n in range(len(FORM_VALUES)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] /NeedAppearances true "
        b"/DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>" % ids,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Annots [%s] >>" % ids,
        maker.stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for n, (label, value) in enumerate(FORM_VALUES):
        y = 780 - 24 * (n + 2)
        objects.append(
            b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (F%d) /TU %s /V %s "
            b"/Rect [220 %d 520 %d] /P 3 0 R /F 4 /DA (/Helv 10 Tf 0 g) >>"
            % (n, pdf_string(label), pdf_string(value), y - 4, y + 12)
        )
    data: bytes = maker.pdf(objects)
    return data


def poisoned_referral() -> bytes:
    """The referral email: the form above, and controls in the subject, the sender's name and
    the body (raw and inside encoded words)."""
    files = [
        samples.File("Westshire form.pdf", samples.PDF, poisoned_form()),
        samples.File("Chrono\x01logy\u202e.docx", samples.DOCX, samples.chronology()),
        samples.File("EHA.docx", samples.DOCX, samples.assessment()),
    ]
    mail = samples.Mail(
        f"Dee Madeup <{REFERRER}>",
        "SUBJECT-PLACEHOLDER",
        body="Please find\x01 attached a referral\x1b[31m for the panel.\x00",
        files=files,
    )
    raw = mail.as_bytes()
    raw = raw.replace(
        b"Subject: SUBJECT-PLACEHOLDER",
        b"Subject: =?utf-8?q?Referral=01_for_R=E2=80=AET?= \x02(second try)",
    )
    return raw.replace(
        f"From: Dee Madeup <{REFERRER}>".encode(),
        f"From: =?utf-8?q?Dee=07_Madeup?= <{REFERRER}>".encode(),
    )


@dataclass
class World:
    fields: dict[str, Any]
    referrer_name: str | None
    documents: list[dict[str, Any]]
    intake_mail: list[Sent]
    tick: TickReport
    tick_mail: list[Sent]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("poison")
    app = open_service(folder, NOW, people__members=[MEMBER])
    drop(app, poisoned_referral(), NOW)
    poll(app)
    with app.store.session() as session:
        (case,) = session.scalars(select(Case))
        # Screening is not what is tested here: the manager's approval is taken as given.
        case.state = CaseState.APPROVED
        fields = dict(case.fields)
        referrer_name = case.referrer_name
        documents = [dict(d.fields or {}) | {"filename": d.filename} for d in case.documents]
    intake_mail = sent_mail(app)
    assert not run_due(app, [conversion_jobs]).failed
    app.close()
    app = open_service(folder, AFTER_NOTICE, people__members=[MEMBER])
    # The whole of `masp tick`: every due job, then the outbox.
    report = run_due_jobs(app)
    tick_mail = sent_mail(app)[len(intake_mail) :]
    app.close()
    yield World(fields, referrer_name, documents, intake_mail, report, tick_mail)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def test_what_intake_stores_from_the_form_is_clean(world: World) -> None:
    assert world.fields["child_name"] == "Robin Testcase"
    assert world.fields["referrer_name"] == "Dee Madeup"
    assert world.referrer_name == "Dee Madeup"
    (form,) = [d for d in world.documents if d["filename"] == "Westshire form.pdf"]
    assert form["referrer_agency"]["value"] == "Northvale Family Hub"
    assert form["panel_question"]["value"] == "Please help the family"
    for text in strings([world.fields, world.documents]):
        assert not POISON.search(text), repr(text)


def test_the_referrer_is_answered_with_clean_text(world: World) -> None:
    (ack,) = [s for s in world.intake_mail if s.to == REFERRER]
    assert "Chronology.docx" in ack.text()
    assert not POISON.search(ack.text().replace("\r\n", "\n") + ack.subject)


def test_the_tick_builds_and_sends_the_pack_and_agenda(world: World) -> None:
    assert world.tick.failed == []
    packs = [s for s in world.tick_mail if "meeting pack" in s.subject]
    assert sorted(s.to for s in packs) == [
        "admin@example.org",
        "chair@example.org",
        MEMBER["email"],
    ]
    for sent in packs:
        (docx,) = [
            part.get_payload(decode=True)
            for part in sent.message.walk()
            if (part.get_filename() or "").endswith(".docx")
        ]
        assert isinstance(docx, bytes)
        document = WordDocument(io.BytesIO(docx))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        agenda = "\n".join([p.text for p in document.paragraphs] + cells)
        assert "Northvale Family Hub" in agenda


def test_every_header_and_body_is_cleaned_as_it_is_parsed() -> None:
    parsed = parse_email(poisoned_referral())
    assert parsed.subject == "Referral for RT (second try)"
    assert parsed.from_name == "Dee Madeup"
    assert parsed.body_text == "Please find attached a referral[31m for the panel."
    assert parsed.attachments[0].filename == "Westshire form.pdf"


def test_a_filename_cannot_disguise_its_extension() -> None:
    mail = samples.Mail(
        REFERRER,
        "Referral",
        files=[samples.File("chronology\u202excod.exe", samples.DOCX, samples.chronology())],
    )
    (attachment,) = parse_email(mail.as_bytes()).attachments
    assert attachment.filename == "chronologyxcod.exe"


def test_chronology_cells_from_the_reader_are_clean() -> None:
    """Excel writes a control character in a cell as "_x0001_", which readers turn back."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Date", "Event", "Source", "Impact on the child", "Action / outcome"])
    sheet.append(
        ["01/02/2025", "Home visit_x0001_ by\u202e worker", "School", "Low_x001B_", "Plan"]
    )
    sheet.append(["03/04/2025", "Meeting", "Health", "Some", "Review"])
    data = io.BytesIO()
    book.save(data)
    with DocumentWorker(ReadLimits()) as reader:
        result = reader.read("Chronology.xlsx", data.getvalue())
    first = result.fields["entries"]["value"][0]
    assert (first["event"], first["impact"]) == ("Home visit by worker", "Low")
    for text in strings(result.fields):
        assert not POISON.search(text), repr(text)


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("plain text, unchanged", "plain text, unchanged"),
        ("a\x00b\x01c\x1fd\x7fe\x9ff", "abcdef"),
        ("line\r\nbreaks\rof\x0bevery\x0ckind\x85here", "line\nbreaks\nof\nevery\nkind\nhere"),
        ("tabs\tand\nnewlines stay", "tabs\tand\nnewlines stay"),
        ("bidi \u202egnp.exe\u202c and \u2067isolates\u2069", "bidi gnp.exe and isolates"),
        ("right-to-left mark \u200f kept", "right-to-left mark \u200f kept"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("non\ufffe\uffff\ufdd0characters\U0010ffff", "noncharacters"),
        ("Łukasz Ŵyn Ōtake Δέλτα 😀", "Łukasz Ŵyn Ōtake Δέλτα 😀"),
    ],
)
def test_clean_text(dirty: str, clean: str) -> None:
    assert clean_text(dirty) == clean


def test_clean_values_walks_the_readers_answers() -> None:
    answer = {"child\x01": {"value": "A\x02B", "n": 3}, "rows": [("x\x03", None)], "ok": "y"}
    assert clean_values(answer) == {
        "child": {"value": "AB", "n": 3},
        "rows": [("x", None)],
        "ok": "y",
    }
    untouched = {"a": ["b", ("c", 1)]}
    assert clean_values(untouched) is untouched


# --- Item 19: long subjects read back exactly. ---

LONG_SUBJECTS = [
    "MASP-2026-0001: documents received for Łukasz Ŵyn Ōtake Δέλτα and the rest of the family "
    "— referral now complete",
    "Re: Referral for a family at Ysgol Gynradd Llanfair — " + "ŵ ŷ â " * 20 + "end",
    "A long plain-ASCII subject about a referral for the panel that goes well past the "
    "seventy-eight characters of one header line",
]


@pytest.mark.parametrize("subject", LONG_SUBJECTS)
def test_a_long_subject_we_send_reads_back_exactly(subject: str) -> None:
    envelope = Envelope("panel@example.org", "Panel", ("jo@example.org",), "id@example.org")
    raw = compose(envelope, Rendered(subject, "text", "<p>text</p>"), NOW)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    # As a standards-following mail program reads it, and as our own tests and intake do.
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(modern["Subject"]) == subject
    assert parse_sent(raw, "jo@example.org").subject == subject
    assert parse_email(raw).subject == subject


def outlook_style(subject: str, body: str = "Any news?") -> bytes:
    """An email as Outlook folds a long subject: encoded words of at most 75 characters, one
    per line. (Python's own modern generator is not used: it can split an encoded word.)"""
    message = MIMEText(body, "plain", "utf-8")
    message["From"] = REFERRER
    message["To"] = "panel@example.org"
    # A Header, not a str, so that compat32 folds it as Outlook does (typeshed allows only str).
    message["Subject"] = Header(subject, "utf-8", header_name="Subject")  # type: ignore[assignment]
    return message.as_bytes(policy=compat32.clone(linesep="\r\n"))


@pytest.mark.parametrize("subject", LONG_SUBJECTS)
def test_a_long_folded_subject_we_receive_reads_back_exactly(subject: str) -> None:
    raw = outlook_style(subject)
    assert b"\r\n " in raw.split(b"\r\n\r\n", 1)[0].split(b"Subject:", 1)[1]
    assert parse_email(raw).subject == subject


def test_a_subject_folded_with_tabs_and_split_encoded_words() -> None:
    raw = (
        b"From: jo@example.org\r\nTo: panel@example.org\r\n"
        b"Subject: Re: MASP-2026-0001 =?utf-8?q?=C5=81ukasz?=\r\n"
        b"\t=?utf-8?q?_=C5=B4?=\r\n =?utf-8?q?yn?= and\r\n family\r\n\r\nbody\r\n"
    )
    assert parse_email(raw).subject == "Re: MASP-2026-0001 Łukasz Ŵyn and family"


def test_a_reply_alert_quotes_the_long_subject_unfolded(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    child = samples.Child(referrer_email=REFERRER)
    drop(app, samples.Mail(REFERRER, "Referral", files=samples.full_referral(child)), NOW)
    poll(app)
    subject = f"Re: MASP-2026-0001 {LONG_SUBJECTS[0]}"
    drop(app, outlook_style(subject), NOW)
    poll(app)
    (alert,) = [s for s in sent_mail(app) if "needs reading" in s.subject]
    app.close()
    assert subject in alert.text()


def test_a_members_copy_shows_their_name_as_written(world: World) -> None:
    (sent,) = [s for s in world.tick_mail if s.to == MEMBER["email"] and "pack" in s.subject]
    (pack,) = [
        part.get_payload(decode=True)
        for part in sent.message.walk()
        if (part.get_filename() or "").endswith(".pdf")
        and not (part.get_filename() or "").endswith("-agenda.pdf")
    ]
    assert isinstance(pack, bytes)
    document = pdfium.PdfDocument(pack)
    pages = [page.get_textpage().get_text_range() for page in document]
    assert all(f"Copy for {MEMBER['name']}." in text for text in pages)
    assert f"{MEMBER['name']}: core" in pages[0]
