"""A whole month of the panel cycle through the real `masp` command, against a real Dovecot and a
real SMTP server, moving the clock with `--now` from intake in December to the February pack.

Referrals and replies are put into the inbox with IMAP APPEND and a chosen INTERNALDATE, so the
server's receive time (which decides deadlines, R2) is part of the script. Dovecot replaces an
INTERNALDATE in the future with the time of the APPEND, so the month is one in the past: the
test does not depend on today's date as long as today is after February 2026. Meetings are on
the second Tuesday: 13 January 2026 (deadline Tuesday 6 January 12:00, timeslots Thursday
8 January 10:00, pack 10:10) and 10 February 2026. In winter London time is UTC.

The cast, one referrer each (cases are found by referrer address, never by assumed reference):
  A  on time and complete; approved with Housing co-opted
  B  incomplete (no chronology), completed before the deadline
  C  still incomplete at the deadline: deferred, completed, then on February's agenda
  D  late (arrives after the deadline, complete): February
  E  Section 20: alert on arrival; a forged approval is refused and the manager's out-of-office
     ignored, so it stays unscreened, yet it is on January's agenda, first, flagged
  F  declined by the manager with a reason, which the referrer is told

The month is played once for the module (`play`): each run of `masp` is kept as a step, with the
emails it sent and a copy of the database as it left it. Each test checks one stage of the cycle
from its steps, so a fault in one stage fails that stage's test and leaves the others to speak.
"""

from __future__ import annotations

import email
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pypdf
import pytest
import yaml
from docx import Document as WordDocument
from imap_tools import MailBoxUnencrypted

from pipeline import samples
from tests.helpers import ROOT, config_tree, outline
from tests.servers import Dovecot, ImapAccount, SmtpCapture, fresh_account, running_smtp

pytestmark = [pytest.mark.servers, pytest.mark.timeout(420)]

PANEL = "Multi Agency Support Panel"
ADMIN, CHAIR, MANAGER = "admin@example.org", "chair@example.org", "sm@example.org"
MANAGER_FROM = "S Manager <sm@example.org>"
DECLINED = "Threshold not met: a single-agency response from school is enough."
CORE, HOUSING = "core@example.org", "housing@example.org"
MEMBERS = [
    {"name": "K Core", "email": CORE, "agency": "Health", "role": "core"},
    {"name": "H Housing", "email": HOUSING, "agency": "Housing", "role": "co-opted"},
]
JANUARY = "Tuesday 13 January 2026, 10:00"
JANUARY_DEADLINE = "Tuesday 6 January 2026, 12:00"
S20 = re.escape(JANUARY)
FEBRUARY = "Tuesday 10 February 2026, 10:00"
FEBRUARY_DEADLINE = "Tuesday 3 February 2026, 12:00"
DOCUMENT_LABELS = ["Referral form", "Chronology", "Genogram", "Assessment"]
TOKEN = re.compile(r"\[screen:[0-9a-f]{16}\.[0-9a-f]{20}\]")


def at(text: str) -> datetime:
    """An instant in UTC (which is London time all winter)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Referrer:
    key: str
    child: str
    address: str
    section20: bool = False

    @property
    def sender(self) -> str:
        return f"Referrer {self.key} <{self.address}>"

    def files(self, *without: str) -> list[samples.File]:
        child = samples.Child(
            name=self.child,
            referrer_name=f"Referrer {self.key}",
            referrer_email=self.address,
            section20=self.section20,
        )
        return [f for f in samples.full_referral(child) if f.filename not in without]

    def referral(self, *without: str) -> samples.Mail:
        return samples.Mail(self.sender, f"Referral {self.key}", files=self.files(*without))


A = Referrer("A", "Amy Ontime", "ontime@school.example.org")
B = Referrer("B", "Ben Partial", "partial@school.example.org")
C = Referrer("C", "Cal Deferred", "deferred@health.example.org")
D = Referrer("D", "Dee Late", "late@police.example.org")
E = Referrer("E", "Eve Emergency", "emergency@social.example.org", section20=True)
F = Referrer("F", "Fay Declined", "declined@charity.example.org")
CHRONOLOGY = samples.File("Chronology.docx", samples.DOCX, samples.chronology())
ASSESSMENT = samples.File("EHA.docx", samples.DOCX, samples.assessment())


# -- what the SMTP server received -----------------------------------------------------------


@dataclass(frozen=True)
class Out:
    """One email as the SMTP server received it."""

    rcpts: tuple[str, ...]
    message: EmailMessage

    @property
    def to(self) -> str:
        return ",".join(self.rcpts)

    @property
    def subject(self) -> str:
        return " ".join(str(self.message["Subject"]).split())

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, f"no text part in {self.subject!r}"
        return " ".join(str(part.get_content()).split())

    def files(self) -> list[tuple[str, str, bytes]]:
        found = []
        for part in self.message.iter_attachments():
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            found.append((part.get_filename() or "", part.get_content_type(), data))
        return found

    def names(self) -> list[str]:
        return [name for name, _, _ in self.files()]

    def file(self, suffix: str) -> bytes:
        [data] = [data for name, _, data in self.files() if name.endswith(suffix)]
        return data


def expect(got: list[Out], *wanted: tuple[str, str]) -> list[Out]:
    """Every email received is one of `wanted` (recipients, subject regex) and every wanted one
    came, once each; the emails come back in the order asked for."""
    left = list(got)
    found = []
    for rcpts, pattern in wanted:
        match = next((o for o in left if o.to == rcpts and re.search(pattern, o.subject)), None)
        assert match is not None, (
            f"no email to {rcpts} matching {pattern!r}; received:\n"
            + "\n".join(f"  {o.to}: {o.subject}" for o in got)
        )
        left.remove(match)
        found.append(match)
    assert not left, "unexpected email(s):\n" + "\n".join(f"  {o.to}: {o.subject}" for o in left)
    return found


# -- the service, driven through its command line ---------------------------------------------


class Database:
    """The service's SQLite database, read only: the live one, or the copy a step kept."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)

    def copy_to(self, path: Path) -> Database:
        """A copy as the database stands now, for the tests of this step to read later."""
        path.parent.mkdir(parents=True, exist_ok=True)
        source, target = self.connect(), sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return Database(path)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def references(self) -> dict[str, str]:
        """Each referrer's case reference, by referrer address."""
        return {str(a): str(r) for a, r in self.rows("SELECT referrer_email, reference FROM cases")}

    def ref(self, who: Referrer) -> str:
        [(reference,)] = self.rows(
            "SELECT reference FROM cases WHERE referrer_email = ?", who.address
        )
        return str(reference)

    def case(self, who: Referrer) -> dict[str, Any]:
        conn = self.connect()
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(
                "SELECT * FROM cases WHERE referrer_email = ?", (who.address,)
            ).fetchone()
        finally:
            conn.close()
        assert row is not None, f"no case from {who.address}"
        return dict(row)

    def state(self, who: Referrer) -> str:
        return str(self.case(who)["state"])

    def meeting(self, who: Referrer) -> datetime:
        return stored_instant(self.case(who)["meeting"])

    def job_runs(self) -> dict[str, str]:
        return {str(k): str(o) for k, o in self.rows("SELECT key, outcome FROM job_runs")}


@dataclass(frozen=True)
class Step:
    """One run of `masp` in the month: the emails the SMTP server took, what it printed, and
    the database as the run left it."""

    got: list[Out]
    out: str
    db: Database


class Month:
    def __init__(
        self, folder: Path, account: ImapAccount, smtp: SmtpCapture, dovecot: Dovecot
    ) -> None:
        self.account, self.smtp, self.dovecot = account, smtp, dovecot
        tree = config_tree(mailbox__backend="imap", people__members=MEMBERS)
        tree["mailbox"]["imap"] = account.config.model_dump()
        tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
        tree["limits"]["max_sends_per_recipient_per_hour"] = 1000
        self.config = folder / "config.yaml"
        self.config.write_text(yaml.safe_dump(tree))
        self.live = Database(folder / "data" / "masp.sqlite")
        self.steps: dict[str, Step] = {}
        self.seen = 0
        self.command = [sys.executable, "-m", "pipeline"]
        script = Path(sys.executable).with_name("masp")
        if script.exists():
            self.command = [str(script)]

    def append(self, mail: samples.Mail, received: datetime) -> None:
        """Put an email in the inbox as the server would have received it at `received`."""
        with MailBoxUnencrypted("127.0.0.1", self.dovecot.imap_port).login(
            self.account.user, self.account.password
        ) as box:
            box.append(mail.as_bytes(), "INBOX", dt=received)

    def answer(
        self,
        to: Out | None,
        sender: str,
        body: str,
        received: datetime,
        files: list[samples.File] | None = None,
    ) -> None:
        """Reply in the thread of `to`. If that email never came, the month goes on without the
        reply, and the tests of the step that should have sent it say so."""
        if to is not None:
            self.append(reply(to, sender, body, files), received)

    def masp(self, verb: str, now: datetime) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["COLUMNS"] = "400"
        args = [*self.command, "--config", str(self.config), "--now", now.isoformat(), verb]
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.config.parent,
            timeout=180,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"masp {verb} at {now} failed:\n{output}"
        assert "Traceback" not in output, output
        return " ".join(done.stdout.split())

    def new_mail(self) -> list[Out]:
        """Emails the SMTP server took since the last call (each `masp` run ends after sending)."""
        with self.smtp.lock:
            captured = list(self.smtp.messages[self.seen :])
            self.seen = len(self.smtp.messages)
        return [
            Out(
                tuple(sorted(r.lower() for r in rcpts)),
                email.message_from_bytes(raw, policy=policy.default),
            )
            for _, rcpts, raw in captured
        ]

    def run(self, step: str, verb: str, now: datetime) -> None:
        """`masp verb` at `now`, kept as `step` with what it sent and a copy of the database."""
        out = self.masp(verb, now)
        copy = self.live.copy_to(self.config.parent / "steps" / f"{len(self.steps):02d}.sqlite")
        self.steps[step] = Step(self.new_mail(), out, copy)

    def poll(self, step: str, now: datetime) -> None:
        self.run(step, "poll", now)

    def tick(self, step: str, now: datetime) -> None:
        self.run(step, "tick", now)

    def first(self, step: str, to: str, subject: str) -> Out | None:
        """The first email of `step` to `to` whose subject matches, if any."""
        got = self.steps[step].got if step in self.steps else []
        return next((o for o in got if o.to == to and re.search(subject, o.subject)), None)

    def request(self, who: Referrer) -> Out | None:
        """The first request to screen `who`'s referral sent to the Service Manager, if any."""
        reference = self.live.references().get(who.address)
        if reference is None:
            return None
        for step in self.steps.values():
            for sent in step.got:
                if sent.to == MANAGER and sent.subject.startswith(f"{reference}: referral to"):
                    return sent
        return None

    def ref(self, who: Referrer) -> str:
        return self.live.ref(who)


def stored_instant(value: Any) -> datetime:
    """A datetime column as SQLite holds it (ISO text, naive meaning UTC)."""
    found = datetime.fromisoformat(str(value))
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


# -- reading what came back -------------------------------------------------------------------


def reply(to: Out, sender: str, body: str, files: list[samples.File] | None = None) -> samples.Mail:
    """An answer in the thread of one of our emails, quoting it below as mail programs do."""
    quoted = "\n".join(f"> {line}" for line in to.text.split(". "))
    return samples.Mail(
        sender,
        f"RE: {to.subject}",
        body=f"{body}\n\nOn Mon, 15 Dec 2025, panel@example.org wrote:\n{quoted}",
        files=files or [],
        in_reply_to=to.message_id,
    )


def pdf_of(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data))


def page_texts(pdf: pypdf.PdfReader) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pdf.pages]


def ics_times(data: bytes) -> tuple[str, str]:
    text = data.decode()
    assert text.startswith("BEGIN:VCALENDAR") and "METHOD:REQUEST" in text
    start = re.search(r"^DTSTART:(\S+)", text, re.M)
    end = re.search(r"^DTEND:(\S+)", text, re.M)
    assert start and end
    return start.group(1), end.group(1)


def check_pack(
    sent: Out,
    name: str,
    cases: list[tuple[str, str]],
    slots: dict[str, str],
    meeting: str,
    day: str,
    version: int = 1,
) -> tuple[pypdf.PdfReader, list[str]]:
    """A stamped pack: bookmarks per case (agenda order) and per document, the agenda with its
    slots and page ranges, "Page x of N" and the recipient's name on every page."""
    assert re.search(rf"meeting pack for {meeting}, version {version}$", sent.subject), sent.subject
    base = f"masp-pack-{day}-v{version}"
    assert sent.names() == [
        f"{base}.pdf",
        f"{base}-agenda.docx",
        f"{base}-agenda.pdf",
        f"{base}-originals.zip",
    ]
    # The Word agenda lists the same cases, in the same order, with the same slots.
    word = WordDocument(io.BytesIO(sent.file("-agenda.docx")))
    lines = [" ".join(p.text.split()) for p in word.paragraphs]
    [table] = word.tables
    presented = [[cell.text for cell in row.cells] for row in table.rows][1:]
    assert [row[:2] for row in presented] == [[slots[ref], ref] for ref, _ in cases]
    lines += [cell for row in presented for cell in row]
    assert not any(child.child in " ".join(lines) for child in (A, B, C, D, E, F))
    pdf = pdf_of(sent.file(f"-v{version}.pdf"))
    marks = outline(pdf)
    assert [t for t, _, _ in marks] == [
        "Front sheet",
        "Agenda",
        *(f"{ref} ({initials}, age 9)" for ref, initials in cases),
    ]
    texts = page_texts(pdf)
    total = len(pdf.pages)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {total}" in text, f"page {number} of {total}: {text[:200]}"
        assert f"Copy for {name}." in text and "OFFICIAL-SENSITIVE" in text
    assert PANEL in texts[0] and "Chair: C Chair" in texts[0]
    agenda = " ".join(texts[marks[1][1] : marks[2][1]])
    positions = [agenda.index(ref) for ref, _ in cases]
    assert positions == sorted(positions), "agenda not in running order"
    starts = [page for _, page, _ in marks[2:]] + [total]
    for (ref, _), (_, first, children), end in zip(cases, marks[2:], starts[1:], strict=True):
        assert [title.split(" (")[0] for title, _ in children] == DOCUMENT_LABELS
        pages = [page for _, page in children]
        assert pages[0] == first and pages == sorted(pages) and end > pages[-1]
        assert re.search(rf"{slots[ref]} {ref} — ", agenda), (ref, slots[ref], agenda)
        assert f"Pack pages {first + 1}–{end}" in agenda[agenda.index(ref) :]
        assert "Chronology of significant events" in texts[children[1][1]]
    names = zipfile.ZipFile(io.BytesIO(sent.file(".zip"))).namelist()
    assert sorted({n.split("/")[0] for n in names}) == sorted(ref for ref, _ in cases)
    return pdf, texts


# -- the month, played once --------------------------------------------------------------------


def play(m: Month) -> None:
    """The month as the service lives it: email arrives at the server's time and `masp` runs at
    each moment below. Nothing is checked here; each step is kept for its test to check."""
    # Monday 15 December 2025: five referrals; an hour later, the tick.
    for n, (who, without) in enumerate(
        ((A, ()), (B, ("Chronology.docx",)), (C, ("Chronology.docx", "EHA.docx")), (E, ()), (F, ()))
    ):
        m.append(who.referral(*without), at(f"2025-12-15T09:{n * 5:02d}"))
    m.poll("referrals", at("2025-12-15T09:30"))
    m.tick("requests", at("2025-12-15T10:30"))

    # Tuesday 16 December: the manager's answers, an out-of-office, and a forgery.
    requests = {who.key: m.request(who) for who in (A, E, F)}
    if (to_e := requests["E"]) is not None:
        out_of_office = samples.out_of_office(to_e.message_id, MANAGER_FROM, to_e.subject)
        m.append(out_of_office, at("2025-12-16T08:55"))
    # A valid token, the right thread, but not from the manager.
    m.answer(requests["E"], "Mallory <mallory@example.org>", "APPROVE", at("2025-12-16T09:00"))
    m.answer(requests["A"], MANAGER_FROM, "APPROVE\nco-opt: Housing", at("2025-12-16T09:05"))
    m.answer(requests["F"], MANAGER_FROM, f"DECLINE - {DECLINED}", at("2025-12-16T09:10"))
    m.poll("answers", at("2025-12-16T09:30"))

    # Saturday 3 January 2026, 72 hours before the deadline: reminders, three ticks at once.
    for step in ("reminders", "reminders again", "reminders a third time"):
        m.tick(step, at("2026-01-03T12:05"))

    # Sunday 4 January: B sends the chronology; it is screened and approved.
    ack_b = m.first("referrals", B.address, "referral received")
    m.answer(ack_b, B.sender, "Here is the chronology.", at("2026-01-04T10:00"), [CHRONOLOGY])
    m.poll("B completes", at("2026-01-04T10:05"))
    m.tick("B to screening", at("2026-01-04T10:10"))
    m.answer(m.request(B), MANAGER_FROM, "Approved.", at("2026-01-04T14:00"))
    m.poll("B approved", at("2026-01-04T14:05"))

    # Three days down. The late referral D arrives after the deadline, while nothing runs.
    m.append(D.referral(), at("2026-01-06T14:00"))
    m.tick("cut-off", at("2026-01-07T14:05"))
    m.poll("late referral", at("2026-01-07T14:10"))
    m.tick("late to screening", at("2026-01-07T14:15"))
    m.answer(m.request(D), MANAGER_FROM, "approve", at("2026-01-07T15:00"))
    m.poll("late approved", at("2026-01-07T15:05"))

    # Thursday 8 January: the slot notice at 10:00, the pack at 10:10.
    m.tick("slots", at("2026-01-08T10:00:30"))
    m.tick("pack", at("2026-01-08T10:11"))

    # Friday 9 January: A confirms attendance.
    slot_a = m.first("slots", A.address, "your timeslot")
    m.answer(slot_a, A.sender, "Yes, I will attend.", at("2026-01-09T09:00"))
    m.poll("attendance", at("2026-01-09T09:05"))
    m.tick("after attendance", at("2026-01-09T09:10"))

    # Wednesday 21 January: C completes for February; screened and approved.
    moved = m.first("cut-off", C.address, "moved to the meeting")
    body = "Chronology and assessment attached."
    m.answer(moved, C.sender, body, at("2026-01-21T10:00"), [CHRONOLOGY, ASSESSMENT])
    m.poll("C completes", at("2026-01-21T10:05"))
    m.tick("C to screening", at("2026-01-21T10:10"))
    m.answer(m.request(C), MANAGER_FROM, "APPROVE", at("2026-01-21T15:00"))
    m.poll("C approved", at("2026-01-21T15:05"))

    # February: the digest, the slots, the pack.
    m.tick("February cut-off", at("2026-02-03T12:05"))
    m.tick("February slots", at("2026-02-05T10:00:30"))
    m.tick("February pack", at("2026-02-05T10:11"))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, dovecot: Dovecot) -> Iterator[Month]:
    """The whole month, played once for every test of this module."""
    with running_smtp() as smtp:
        m = Month(tmp_path_factory.mktemp("month"), fresh_account(dovecot), smtp, dovecot)
        started = time.monotonic()
        play(m)
        print(f"the month took {time.monotonic() - started:.1f} s")
        yield m


def request_to_screen(month: Month, who: Referrer) -> Out:
    """The Service Manager's request to screen `who`'s referral, which the tests compare with."""
    request = month.request(who)
    assert request is not None, f"no request to screen referral {who.key} was sent"
    return request


# -- each step, checked on its own ------------------------------------------------------------


def test_referrals_are_acknowledged_and_the_section_20_emergency_raised(month: Month) -> None:
    step = month.steps["referrals"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    acks = expect(
        step.got,
        (A.address, rf"^{a}: referral received — complete$"),
        (B.address, rf"^{b}: referral received — documents still needed$"),
        (C.address, rf"^{c}: referral received — documents still needed$"),
        (E.address, rf"^{e}: referral received — complete$"),
        (F.address, rf"^{f}: referral received — complete$"),
        (f"{ADMIN},{CHAIR}", rf"^{e}: Section 20 emergency admission, to be presented on {S20}$"),
    )
    ack = dict(zip("ABCEF", acks, strict=False))
    for sent in acks[:5]:
        assert JANUARY in sent.text and JANUARY_DEADLINE in sent.text, sent.text
        assert sent.names() == []
    assert "Chronology" in ack["B"].text and "Chronology" in ack["C"].text
    assert re.search(r"Still needed[^:]*: - Chronology To send", ack["B"].text), ack["B"].text
    assert re.search(r"Still needed[^:]*: - Chronology - Assessment \(", ack["C"].text)
    assert JANUARY in acks[5].text and "Eve" not in acks[5].text
    # The receive time is the server's INTERNALDATE, not the --now of the poll.
    db = step.db
    assert stored_instant(db.case(A)["received_at"]) == at("2025-12-15T09:00")
    assert stored_instant(db.case(F)["received_at"]) == at("2025-12-15T09:20")
    assert all(db.meeting(w) == at("2026-01-13T10:00") for w in (A, B, C, E, F))
    assert [db.state(w) for w in (A, B, C, E, F)] == [
        "complete",
        "incomplete",
        "incomplete",
        "complete",
        "complete",
    ]
    assert db.case(E)["section20"] == 1


def test_complete_cases_go_to_the_service_manager_with_a_summary(month: Month) -> None:
    """An hour later: documents converted, each complete case sent to the Service Manager."""
    step = month.steps["requests"]
    a, e, f = (month.ref(who) for who in (A, E, F))
    requests = expect(
        step.got,
        (MANAGER, rf"^{a}: referral to screen for the {PANEL} \[screen:"),
        (MANAGER, rf"^{e}: referral to screen for the {PANEL} \[screen:"),
        (MANAGER, rf"^{f}: referral to screen for the {PANEL} \[screen:"),
    )
    request = dict(zip("AEF", requests, strict=True))
    tokens = set()
    for (ref, child), sent in zip(((a, A), (e, E), (f, F)), requests, strict=True):
        assert sent.names() == [
            f"{ref}-summary.pdf",
            "Referral form.docx",
            "Chronology.docx",
            "genogram.png",
            "EHA.docx",
        ]
        summary = pdf_of(sent.file("-summary.pdf"))
        assert len(summary.pages) == 1
        text = summary.pages[0].extract_text()
        assert ref in text and child.child not in text
        found = TOKEN.findall(sent.subject)
        assert found and found[0] in sent.text
        tokens.add(found[0])
    assert len(tokens) == 3
    assert "Section 20" in request["E"].text
    assert {step.db.state(w) for w in (A, E, F)} == {"screening"}
    assert step.db.rows("SELECT count(*) FROM conversions WHERE status != 'done'") == [(0,)]


def test_the_managers_answers_are_applied_and_a_forgery_and_an_out_of_office_are_not(
    month: Month,
) -> None:
    step = month.steps["answers"]
    e, f = month.ref(E), month.ref(F)
    declined, alert = expect(
        step.got,
        (F.address, rf"^{f}: referral not accepted for the {PANEL}$"),
        (ADMIN, rf"^{e}: a screening reply was not applied$"),
    )
    assert DECLINED in declined.text
    assert "mallory@example.org" in alert.text
    db = step.db
    assert [db.state(w) for w in (A, E, F)] == ["approved", "screening", "declined"]
    assert json.loads(db.case(A)["flags"]) == ["co-opt:Housing"]
    refused = db.rows("SELECT detail FROM audit WHERE action = 'screening-refused'")
    assert len(refused) == 1 and '"forged sender"' in refused[0][0]
    assert db.rows(
        "SELECT decision, used_at FROM screening_requests WHERE case_id = ?", db.case(E)["id"]
    ) == [(None, None)]
    assert db.rows(
        "SELECT status, category FROM messages WHERE case_id = ? ORDER BY received_at",
        db.case(E)["id"],
    )[-2:] == [("ignored", "auto_reply"), ("filed", "screening_refused")]


def test_reminders_go_72_hours_before_the_deadline_once_however_often_the_tick_runs(
    month: Month,
) -> None:
    b, c, e = (month.ref(who) for who in (B, C, E))
    reminders = expect(
        month.steps["reminders"].got,
        (B.address, rf"^{b}: reminder — documents needed before {JANUARY_DEADLINE}$"),
        (C.address, rf"^{c}: reminder — documents needed before {JANUARY_DEADLINE}$"),
        (MANAGER, rf"^Reminder: {e}: referral to screen \[screen:"),
    )
    assert "Chronology" in reminders[0].text and "Assessment" in reminders[1].text
    assert reminders[2].message["In-Reply-To"] == request_to_screen(month, E).message_id
    runs = month.steps["reminders"].db.job_runs()
    for again in ("reminders again", "reminders a third time"):
        step = month.steps[again]
        assert step.got == [] and "0 job(s) done, 0 skipped" in step.out, step.out
        assert step.db.job_runs() == runs


def test_a_referral_completed_before_the_deadline_is_screened_and_approved(
    month: Month,
) -> None:
    b = month.ref(B)
    [update] = expect(
        month.steps["B completes"].got,
        (B.address, rf"^{b}: documents received — referral now complete$"),
    )
    assert JANUARY in update.text
    expect(
        month.steps["B to screening"].got,
        (MANAGER, rf"^{b}: referral to screen for the {PANEL} \["),
    )
    step = month.steps["B approved"]
    assert step.got == []
    assert step.db.state(B) == "approved"


def test_an_incomplete_case_is_moved_on_at_the_deadline_and_the_administrator_told(
    month: Month,
) -> None:
    step = month.steps["cut-off"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    deferred, digest = expect(
        step.got,
        (
            C.address,
            rf"^{c}: moved to the meeting on {FEBRUARY} — new deadline {FEBRUARY_DEADLINE}$",
        ),
        (ADMIN, rf"^{PANEL}, {JANUARY}: after the deadline$"),
    )
    assert "1 skipped" not in step.out and "2 skipped as stale" in step.out, step.out
    runs = step.db.job_runs()
    case_c = step.db.case(C)["id"]
    assert runs[f"reminder:24h:case:{case_c}:2026-01-13T10:00"] == "skipped"
    assert runs[f"reminder:deadline-day:case:{case_c}:2026-01-13T10:00"] == "skipped"
    assert runs[f"cutoff:case:{case_c}:2026-01-13T10:00"] == "done"
    assert "Chronology" in deferred.text and "Assessment" in deferred.text
    assert step.db.meeting(C) == at("2026-02-10T10:00") and step.db.state(C) == "incomplete"
    flags = json.loads(step.db.case(C)["flags"])
    assert flags == ["deferred from 2026-01-13: missing chronology, assessment"], flags
    listed = digest.text.split("Deferred to the next meeting")[0]
    assert all(ref in listed for ref in (a, b, e)) and f not in digest.text
    assert "Section 20 emergency; awaiting screening" in listed
    deferred_part = digest.text.split("Deferred to the next meeting")[1].split("Awaiting screening")
    assert c in deferred_part[0] and "missing chronology, assessment" in deferred_part[0]
    assert e in deferred_part[1].split("Awaiting attendance")[0]


def test_a_late_referral_goes_to_the_next_meeting_and_is_screened(month: Month) -> None:
    step = month.steps["late referral"]
    d = month.ref(D)
    [late_ack] = expect(step.got, (D.address, rf"^{d}: referral received — complete$"))
    assert FEBRUARY in late_ack.text and JANUARY in late_ack.text
    assert step.db.meeting(D) == at("2026-02-10T10:00")
    expect(
        month.steps["late to screening"].got,
        (MANAGER, rf"^{d}: referral to screen for the {PANEL} \["),
    )
    approved = month.steps["late approved"]
    assert approved.got == []
    assert approved.db.state(D) == "approved"


def january_slots(month: Month) -> dict[str, str]:
    """The January timeslots by case reference."""
    a, b, e = (month.ref(who) for who in (A, B, E))
    return {e: "10:00–10:30", a: "10:30–11:00", b: "11:00–11:30"}


def test_timeslots_go_out_section_20_first_then_by_arrival(month: Month) -> None:
    """Thursday 8 January 10:00, slot notice: E (Section 20) first, then A and B by arrival."""
    step = month.steps["slots"]
    a, b, e = (month.ref(who) for who in (A, B, E))
    slot_mail = expect(
        step.got,
        (E.address, rf"^{e}: your timeslot at the {PANEL} — please confirm$"),
        (A.address, rf"^{a}: your timeslot at the {PANEL} — please confirm$"),
        (B.address, rf"^{b}: your timeslot at the {PANEL} — please confirm$"),
    )
    january = january_slots(month)
    for sent, ref, (start, end) in zip(
        slot_mail,
        (e, a, b),
        (("100000", "103000"), ("103000", "110000"), ("110000", "113000")),
        strict=True,
    ):
        assert sent.names() == [f"{ref}-timeslot.ics"]
        assert ics_times(sent.file(".ics")) == (f"20260113T{start}Z", f"20260113T{end}Z")
        assert f"{january[ref].replace('–', ' to ')}" in sent.text
    slots = step.db.rows(
        "SELECT c.reference, s.position FROM slots s JOIN cases c ON c.id = s.case_id "
        "ORDER BY s.position"
    )
    assert slots == [(e, 0), (a, 1), (b, 2)]


def test_the_pack_goes_whole_to_the_core_and_only_their_case_to_a_co_opted_member(
    month: Month,
) -> None:
    """10:11: the pack, to the administrator, chair and core member whole; Housing only A.
    E is still unscreened as the agenda is built: its manager is reminded (R9)."""
    step = month.steps["pack"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    *packs, nudge = expect(
        step.got,
        (ADMIN, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (CHAIR, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (CORE, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (HOUSING, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (MANAGER, rf"^Reminder: {e}: referral to screen \[screen:"),
    )
    assert nudge.message["In-Reply-To"] == request_to_screen(month, E).message_id
    order = [(e, "E.E."), (a, "A.O."), (b, "B.P.")]
    january = january_slots(month)
    pdf, texts = check_pack(packs[0], "A Admin", order, january, JANUARY, "2026-01-13")
    [(pages,)] = step.db.rows("SELECT pages FROM packs WHERE version = 1")
    assert len(pdf.pages) == pages
    agenda = " ".join(texts[1 : outline(pdf)[2][1]])
    assert re.search(rf"{e} — E\.E\., age 9 — [^—]*Section 20", agenda), agenda
    assert "unscreened" not in agenda and f not in agenda and c not in agenda
    assert not any(child.child in agenda for child in (A, B, E))
    check_pack(packs[1], "C Chair", order, january, JANUARY, "2026-01-13")
    check_pack(packs[2], "K Core", order, january, JANUARY, "2026-01-13")
    _, housing = check_pack(packs[3], "H Housing", [(a, "A.O.")], january, JANUARY, "2026-01-13")
    assert e not in " ".join(housing) and b not in " ".join(housing)
    assert a in packs[3].text and e not in packs[3].text
    sends = step.db.rows('SELECT recipient, "references" FROM pack_sends ORDER BY recipient')
    assert [r for r, _ in sends] == sorted([ADMIN, CHAIR, CORE, HOUSING])
    assert dict(sends)[HOUSING] == f'["{a}"]'


def test_a_confirmed_attendance_is_recorded_and_sends_nothing_not_even_a_new_pack(
    month: Month,
) -> None:
    step = month.steps["attendance"]
    assert step.got == []
    assert step.db.rows(
        "SELECT attendance FROM slots WHERE case_id = ?", step.db.case(A)["id"]
    ) == [("yes",)]
    assert month.steps["after attendance"].got == []


def test_the_deferred_case_completed_later_is_screened_for_the_next_meeting(
    month: Month,
) -> None:
    c = month.ref(C)
    [update] = expect(
        month.steps["C completes"].got,
        (C.address, rf"^{c}: documents received — referral now complete$"),
    )
    assert FEBRUARY in update.text
    [request] = expect(
        month.steps["C to screening"].got,
        (MANAGER, rf"^{c}: referral to screen for the {PANEL} \["),
    )
    assert FEBRUARY in request.text
    approved = month.steps["C approved"]
    assert approved.got == []
    assert approved.db.state(C) == "approved"


def test_the_next_meetings_digest_lists_the_deferred_and_the_late_case(month: Month) -> None:
    """February: no reminders for complete cases, only the digest."""
    c, d, e = (month.ref(who) for who in (C, D, E))
    [digest] = expect(
        month.steps["February cut-off"].got,
        (ADMIN, rf"^{PANEL}, {FEBRUARY}: after the deadline$"),
    )
    listed = digest.text.split("Deferred to the next meeting")[0]
    assert c in listed and d in listed and e not in listed


def test_the_next_meetings_timeslots_and_pack(month: Month) -> None:
    c, d = month.ref(C), month.ref(D)
    c_slot, d_slot = expect(
        month.steps["February slots"].got,
        (C.address, rf"^{c}: your timeslot at the {PANEL}"),
        (D.address, rf"^{d}: your timeslot at the {PANEL}"),
    )
    assert ics_times(c_slot.file(".ics")) == ("20260210T100000Z", "20260210T103000Z")
    assert ics_times(d_slot.file(".ics")) == ("20260210T103000Z", "20260210T110000Z")
    packs = expect(
        month.steps["February pack"].got,
        (ADMIN, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
        (CHAIR, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
        (CORE, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
    )
    february = {c: "10:00–10:30", d: "10:30–11:00"}
    check_pack(packs[0], "A Admin", [(c, "C.D."), (d, "D.L.")], february, FEBRUARY, "2026-02-10")


def test_nothing_was_held_failed_or_left_behind_and_nobody_unconfigured_written_to(
    month: Month,
) -> None:
    assert month.live.rows("SELECT status, count(*) FROM outbox GROUP BY status") == [
        ("sent", len(month.smtp.messages))
    ]
