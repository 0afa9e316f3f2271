"""Shared helpers for tests: a service on the maildir back-end, and reading what it sent."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import io
import itertools
import mailbox
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pypdf
import yaml
from pypdf.generic import Destination
from sqlalchemy import make_url

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import parse_config
from pipeline.samples import Mail
from tests.postgres import folder_database, on_postgres
from tests.servers import ImapAccount

ROOT = Path(__file__).resolve().parents[1]
# The golden corpora and their generators (tests/data/<corpus>/make_corpus.py).
DATA = ROOT / "tests" / "data"
BASE_CONFIG: dict[str, Any] = {
    "timezone": "Europe/London",
    "data_dir": "data",
    "mailbox": {
        "backend": "maildir",
        "address": "panel@example.org",
        "maildir": {"inbox": "mail/inbox", "processed": "mail/processed", "sent": "mail/sent"},
    },
    "panels": [
        {
            "id": "masp",
            "name": "Multi Agency Support Panel",
            "meetings": {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00"},
            "deadline": {"days_before": 7, "time": "12:00"},
        }
    ],
    "people": {
        "administrator": {"name": "A Admin", "email": "admin@example.org"},
        "chair": {"name": "C Chair", "email": "chair@example.org"},
        "service_managers": [{"name": "S Manager", "email": "sm@example.org"}],
    },
    "limits": {"allowed_recipient_domains": ["example.org"]},
    "security": {"signing_key": "test-signing-key-0123456789abcdef"},
}


# Set by tests/conftest.py when the run puts the store on PostgreSQL: this test's database.
TEST_DATABASE_ENV = "MASP_TEST_DATABASE"


def config_tree(folder: Path | None = None, /, **overrides: Any) -> dict[str, Any]:
    """The test configuration with `overrides` (`section__key=value`), its store the test's
    database on the PostgreSQL pass (`folder`'s own, when given: see `store_url`)."""
    tree = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    if database := store_url(folder):
        tree["database"] = database
    for dotted, value in overrides.items():
        node = tree
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return tree


def store_url(folder: Path | None = None) -> str | None:
    """Where the store of an installation in `folder` is on this run: None on SQLite (a file in
    its data_dir); on PostgreSQL the test's own database, or `folder`'s own database when
    given, the same however often and in whichever test the folder is opened."""
    if not on_postgres():
        return None
    if folder is None:
        return os.environ.get(TEST_DATABASE_ENV)
    return folder_database(folder, os.environ.get(TEST_DATABASE_ENV))


def database_of(folder: Path) -> str:
    """The store of the installation in `folder` as another program reaches it: the path of
    the SQLite file in its data_dir, or on the PostgreSQL pass its database's libpq URL."""
    url = store_url(folder)
    if url is None:
        return str(folder / "data" / "masp.sqlite")
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listening(Protocol):
    """A server on 127.0.0.1 (SmtpCapture, or a test's own)."""

    port: int


def imap_service(folder: Path, imap: ImapAccount, smtp: Listening, **overrides: Any) -> App:
    """The service on the real loopback Dovecot and SMTP servers, on the system clock."""
    tree = config_tree(folder, mailbox__backend="imap", **overrides)
    tree["mailbox"]["imap"] = imap.config.model_dump()
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    return App.open(parse_config(tree, folder, env={}), Clock.system())


def numbered_referral(tag: str, n: int, sender: str | None = None) -> Mail:
    """Referral number `n` of a test: a whole one, for a child of its own, from its referrer
    (or from `sender`)."""
    child = samples.Child(name=f"Child {tag}{n}", referrer_email=f"ref{n}@school.example.org")
    sender = sender or f"Referrer {n} <{child.referrer_email}>"
    return Mail(sender, f"Referral {n}", files=samples.full_referral(child))


def open_service(folder: Path, now: datetime, **overrides: Any) -> App:
    tree = config_tree(folder, **overrides)
    (folder / "config.yaml").write_text(yaml.safe_dump(tree))
    config = parse_config(tree, folder, env={})
    return App.open(config, Clock.frozen_at(now))


@dataclass
class Sent:
    to: str
    message: Message
    raw: bytes

    @property
    def subject(self) -> str:
        """The subject exactly as a standards-following mail program shows it: unfolded and
        decoded, with no whitespace tidied away (a stray fold must show)."""
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(self.raw)
        return str(headers["Subject"])

    @property
    def message_id(self) -> str:
        return "".join(str(self.message["Message-ID"]).split())

    def text(self) -> str:
        for part in self.message.walk():
            if part.get_content_type() == "text/plain" and not part.get_filename():
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode(part.get_content_charset() or "utf-8")
        return ""

    def attachment_names(self) -> list[str]:
        return [p.get_filename() or "" for p in self.message.walk() if p.get_filename()]


def parse_sent(raw: bytes, to: str) -> Sent:
    return Sent(to=to, message=email.message_from_bytes(raw), raw=raw)


def drop(service: App, mail: Mail | bytes, received: datetime) -> str:
    """Deliver into the maildir inbox as a mail server would, received at `received`."""
    inbox = service.config.path(service.config.mailbox.maildir.inbox)
    inbox.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(inbox), create=True)
    key = box.add(mail if isinstance(mail, bytes) else mail.as_bytes())
    os.utime(inbox / "new" / key, (received.timestamp(), received.timestamp()))
    return key


def sent_mail(service: App) -> list[Sent]:
    """Everything the maildir back-end 'sent', oldest first."""
    folder = service.config.path(service.config.mailbox.maildir.sent)
    if not folder.exists():
        return []
    box = mailbox.Maildir(str(folder), create=False)
    items = []
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        message = email.message_from_bytes(raw)
        written = (folder / "new" / key).stat().st_mtime_ns
        items.append((written, parse_sent(raw, str(message["X-Envelope-To"]))))
    return [sent for _, sent in sorted(items, key=lambda item: item[0])]


def masp(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real `masp` command in a child process, off a terminal, 80 columns wide."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env=child_env(args, cwd),
    )


def child_env(args: Sequence[str], cwd: Path = ROOT) -> dict[str, str]:
    """The environment of a `masp` child process, 80 columns wide. On the PostgreSQL pass,
    a command whose configuration names no database (`masp demo`, a file written by hand)
    keeps its store in the test's database, through MASP_DATABASE."""
    env = {**os.environ, "COLUMNS": "80"}
    database = store_url()
    if database is not None and not _names_a_database(args, cwd):
        env["MASP_DATABASE"] = database
    return env


def _names_a_database(args: Sequence[str], cwd: Path) -> bool:
    """Whether the configuration file the command reads (`--config`, else ./config.yaml)
    sets `database` itself."""
    given = [value for flag, value in itertools.pairwise(args) if flag == "--config"]
    path = cwd / (given[0] if given else "config.yaml")
    if not path.is_file():
        return False
    tree = yaml.safe_load(path.read_text())
    return isinstance(tree, dict) and bool(tree.get("database"))


def corpus_maker(corpus: str = "documents") -> ModuleType:
    """A corpus's generator module (`documents` or `emails`): its builders and expectations."""
    path = DATA / corpus / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sent_to(service: App, address: str) -> list[Sent]:
    """What the service sent that was addressed (To or Cc) to `address`, oldest first."""
    return [s for s in sent_mail(service) if address.lower() in s.to.lower()]


def everything_said(sent: Sent) -> str:
    """Every header and every decoded text or HTML part of an email, as one string to search."""
    parts = [f"{name}: {value}" for name, value in sent.message.items()]
    parts.append(sent.subject)
    for part in sent.message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


def status_rows(service: App) -> list[dict[str, Any]]:
    """What `masp status --json` prints: one object per case."""
    from pipeline.outputs.status import all_cases

    with service.store.session() as session:
        return all_cases(service.config, session)


def status_of(service: App, reference: str) -> dict[str, Any]:
    """What `masp status REFERENCE --json` prints."""
    from pipeline.outputs.status import one_case

    with service.store.session() as session:
        return one_case(service.config, session, reference)


def attachments(sent: Sent, suffix: str) -> list[bytes]:
    """The decoded bytes of each attachment of `sent` whose file name ends with `suffix`."""
    found = []
    for part in sent.message.walk():
        if (part.get_filename() or "").endswith(suffix):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append(payload)
    return found


def pack_pdfs(sent: Sent) -> list[bytes]:
    """The pack itself (or its numbered parts), not the agenda PDF that travels beside it."""
    agenda = set(attachments(sent, "-agenda.pdf"))
    return [data for data in attachments(sent, ".pdf") if data not in agenda]


def pack_reader(sent: Sent) -> pypdf.PdfReader:
    """The one pack PDF `sent` carries, opened with pypdf."""
    (data,) = pack_pdfs(sent)
    return pypdf.PdfReader(io.BytesIO(data))


def bookmark(pdf: pypdf.PdfReader, entry: Destination | list[Destination]) -> tuple[str, int]:
    """A bookmark's title and its (0-based) page; a pack's bookmarks nest one level at most."""
    assert not isinstance(entry, list) and entry.title is not None, entry
    page = pdf.get_destination_page_number(entry)
    assert page is not None, entry.title
    return entry.title, page


def outline(pdf: pypdf.PdfReader) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Top-level bookmarks with their (0-based) page, each with its children."""
    result: list[tuple[str, int, list[tuple[str, int]]]] = []
    for entry in pdf.outline:
        if isinstance(entry, list):
            children = [bookmark(pdf, c) for c in entry]
            title, page, _ = result[-1]
            result[-1] = (title, page, children)
        else:
            result.append((*bookmark(pdf, entry), []))
    return result


def children(part: Message) -> list[Message]:
    """The parts inside a multipart part, typed."""
    found = part.get_payload()
    assert isinstance(found, list)
    return [p for p in found if isinstance(p, Message)]


def decoded(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data
