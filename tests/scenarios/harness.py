"""The harness of the scenario: the cast, `masp` run at a chosen time against a real Dovecot and
a real SMTP server, what the SMTP server received, and the database as each step left it.

Referrals and replies are put into the inbox with IMAP APPEND and a chosen INTERNALDATE, so the
server's receive time (which decides deadlines, R2) is part of the script. Dovecot replaces an
INTERNALDATE in the future with the time of the APPEND, so the story is set in the past: the
tests do not depend on today's date as long as today is after May 2026. Meetings are on the
second Tuesday, at 10:00 London time (UTC in winter, UTC+1 from 29 March 2026).

The cast, one referrer each (cases are found by referrer address, never by assumed reference):
  A  on time and complete; approved with Housing co-opted; decided in January with actions and
     a review in March, where a final review closes it
  B  incomplete (no chronology), completed before the deadline; recommended to the resource
     panel (LARP) in January
  C  still incomplete at the deadline: deferred, completed, then on February's agenda
  D  late (arrives after the deadline, complete): February
  E  Section 20: alert on arrival; a forged approval is refused and the manager's out-of-office
     ignored, so it stays unscreened, yet it is on January's agenda, first, flagged; decided
     there with no further panel review, so its Lead Professional is asked for outcomes in April
  F  declined by the manager with a reason, which the referrer is told
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
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pypdf
import yaml
from docx import Document as WordDocument
from imap_tools import MailBoxUnencrypted
from psycopg.rows import dict_row, tuple_row

from pipeline import samples
from tests.helpers import ROOT, config_tree, database_of, outline
from tests.servers import Dovecot, ImapAccount, SmtpCapture

PANEL = "Multi Agency Support Panel"
ADMIN, CHAIR, MANAGER = "admin@example.org", "chair@example.org", "sm@example.org"
MANAGER_FROM = "S Manager <sm@example.org>"
DECLINED = "Threshold not met: a single-agency response from school is enough."
CORE, HOUSING = "core@example.org", "housing@example.org"
# The resource panel's contact: recommendations go there with the case papers (R13).
LARP = {"name": "L Resource Panel", "email": "larp@example.org"}
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
    """The service's database, read only: the live one, or the copy a step kept. A SQLite
    file, or on the PostgreSQL pass a database of the test cluster (`where` is its libpq URL);
    rows come back as SQLite gives them (JSON as text, `?` parameters), so every test reads
    the same on both stores."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.postgres = where.startswith("postgresql:")

    def connect(self) -> Any:
        if self.postgres:
            return psycopg.connect(self.where, autocommit=True)
        return sqlite3.connect(f"file:{self.where}?mode=ro", uri=True, timeout=10)

    def copy_to(self, path: Path) -> Database:
        """A copy as the database stands now, for the tests of this step to read later (a
        file at `path`, or a database named after it copied from this one)."""
        if self.postgres:
            server, _, name = self.where.rpartition("/")
            copy = f"{name}_{path.stem}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
            return Database(f"{server}/{copy}")
        path.parent.mkdir(parents=True, exist_ok=True)
        source, target = self.connect(), sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return Database(str(path))

    def _query(self, sql: str, args: tuple[Any, ...], named: bool) -> list[Any]:
        conn = self.connect()
        try:
            if self.postgres:
                cursor = conn.cursor(row_factory=dict_row if named else tuple_row)
                found = cursor.execute(sql.replace("?", "%s"), args).fetchall()
                return [_as_sqlite(row) for row in found]
            if named:
                conn.row_factory = sqlite3.Row
            return [dict(row) if named else row for row in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return self._query(sql, args, named=False)

    def references(self) -> dict[str, str]:
        """Each referrer's case reference, by referrer address."""
        return {str(a): str(r) for a, r in self.rows("SELECT referrer_email, reference FROM cases")}

    def ref(self, who: Referrer) -> str:
        [(reference,)] = self.rows(
            "SELECT reference FROM cases WHERE referrer_email = ?", who.address
        )
        return str(reference)

    def case(self, who: Referrer) -> dict[str, Any]:
        found = self._query("SELECT * FROM cases WHERE referrer_email = ?", (who.address,), True)
        assert found, f"no case from {who.address}"
        row: dict[str, Any] = found[0]
        return row

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
        tree = config_tree(
            folder, mailbox__backend="imap", people__members=MEMBERS, people__larp=LARP
        )
        tree["mailbox"]["imap"] = account.config.model_dump()
        tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
        tree["limits"]["max_sends_per_recipient_per_hour"] = 1000
        self.config = folder / "config.yaml"
        self.config.write_text(yaml.safe_dump(tree))
        self.live = Database(database_of(folder))
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

    def masp(self, verb: str | list[str], now: datetime) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MASP_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["COLUMNS"] = "400"
        words = [verb] if isinstance(verb, str) else verb
        args = [*self.command, "--config", str(self.config), "--now", now.isoformat(), *words]
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

    def run(self, step: str, verb: str | list[str], now: datetime) -> None:
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


def _as_sqlite(row: Any) -> Any:
    """A PostgreSQL row with its JSON values and dates as the text SQLite keeps them as."""

    def text(value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value)
        # A datetime (a date too, to Python) stays one: `stored_instant` reads either.
        return value.isoformat() if type(value) is date else value

    if isinstance(row, dict):
        return {key: text(value) for key, value in row.items()}
    return tuple(text(value) for value in row)


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
    quarterly: bool = False,
) -> tuple[pypdf.PdfReader, list[str]]:
    """A stamped pack: bookmarks per case (agenda order) and per document, the agenda with its
    slots and page ranges, "Page x of N" and the recipient's name on every page; a quarterly
    meeting's pack ends with the previous quarter's picture (R11, R15)."""
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
        *(["Quarterly picture"] if quarterly else []),
    ]
    texts = page_texts(pdf)
    total = len(pdf.pages)
    if quarterly:
        # The picture's pages come last; the cases end where it begins.
        total = marks.pop()[1]
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(pdf.pages)}" in text, f"page {number}: {text[:200]}"
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
