"""Opt-in smoke tests against a real Microsoft 365 test mailbox (issue 12): the `graph` back-end,
and the `imap` back-end with IMAP and SMTP signing in by OAuth 2.0 (XOAUTH2). They live outside
`tests/`, so the CI suite never collects them; without the variables below each test is skipped
with the reason. Each test signs in, lists the folders, sends one email to the mailbox itself,
reads it back (Graph: by delta, IMAP: by UID) and moves it to the processed folder.

Run them by hand with the app registration and a TEST mailbox (never the panel's own):

    MASP_LIVE_TENANT=<tenant id> MASP_LIVE_CLIENT=<app (client) id> \\
    MASP_LIVE_SECRET=<client secret> MASP_LIVE_MAILBOX=<test mailbox address> \\
    .venv/bin/pytest live/

The app needs Mail.ReadWrite and Mail.Send (Graph) and IMAP.AccessAsApp and SMTP.SendAsApp
(Office 365 Exchange Online), admin consent, and the mailbox granted to its service principal
(docs/microsoft-365.md, docs/microsoft-365-imap.md); SMTP AUTH must be enabled for the mailbox.
Optional: MASP_LIVE_PROCESSED (the folder moved to; default "Processed", created at the
first move) and MASP_LIVE_WAIT (seconds to wait for the email to arrive; default 180).
Each run leaves one email per test in that folder and its sent copy in Sent Items.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from pipeline.config import Config, parse_config
from pipeline.mailbox.base import InboundMessage, MailSource, MemoryCursor
from pipeline.mailbox.registry import open_source, sending
from tests.helpers import config_tree

NEEDED = ("MASP_LIVE_TENANT", "MASP_LIVE_CLIENT", "MASP_LIVE_SECRET", "MASP_LIVE_MAILBOX")
POLL_SECONDS = 5.0


def live_env() -> dict[str, str]:
    """The test tenant's variables, or a skip naming the ones missing."""
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        pytest.skip(f"not a live run: set {', '.join(missing)} (see live/test_live_microsoft.py)")
    return {name: os.environ[name] for name in NEEDED}


def live_config(folder: Path, backend: str) -> Config:
    """A whole config on `backend`, pointed at the live test mailbox."""
    env = live_env()
    mailbox = env["MASP_LIVE_MAILBOX"]
    processed = os.environ.get("MASP_LIVE_PROCESSED", "Processed")
    tree = config_tree(mailbox__backend=backend, mailbox__address=mailbox)
    tree["mailbox"]["oauth"] = {
        "tenant_id": env["MASP_LIVE_TENANT"],
        "client_id": env["MASP_LIVE_CLIENT"],
        "client_secret": env["MASP_LIVE_SECRET"],
    }
    tree["mailbox"]["graph"] = {"mailbox": mailbox, "processed_folder": processed}
    tree["mailbox"]["imap"] = {
        "auth": "oauth2",
        "host": "outlook.office365.com",
        "port": 993,
        "security": "ssl",
        "processed_folder": processed,
    }
    tree["mailbox"]["smtp"] = {
        "auth": "oauth2",
        "host": "smtp.office365.com",
        "port": 587,
        "security": "starttls",
    }
    return parse_config(tree, folder, env={})


def to_itself(address: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = message["To"] = address
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain=address.split("@")[1])
    message.set_content("An automatic check of the MASP pipeline's mailbox access. No action.")
    return message.as_bytes()


def subject_of(message: InboundMessage) -> str:
    return str(BytesHeaderParser(policy=default).parsebytes(message.raw)["Subject"] or "")


class Reader:
    """Polls a source as the service does, keeping the cursor (Graph's delta link) and the
    highest UID seen (IMAP) between rounds."""

    def __init__(self, source: MailSource) -> None:
        self.source = source
        self.cursor = MemoryCursor()
        self.highest: dict[tuple[str, int], int] = {}

    def last_seen(self, folder: str, validity: int) -> int | None:
        return self.highest.get((folder, validity))

    def round(self) -> Iterator[InboundMessage]:
        for found in self.source.fetch_new(self.last_seen, lambda location: False, self.cursor):
            loc = found.location
            if loc.uid.isdigit():
                key = (loc.folder, loc.uidvalidity)
                self.highest[key] = max(self.highest.get(key, 0), int(loc.uid))
            yield found

    def wait_for(self, subject: str) -> InboundMessage:
        wait = float(os.environ.get("MASP_LIVE_WAIT", "180"))
        deadline = time.monotonic() + wait
        while True:
            for found in self.round():
                if subject_of(found) == subject:
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(f"the email '{subject}' had not arrived after {wait:.0f} s")
            time.sleep(POLL_SECONDS)


def round_trip(config: Config) -> tuple[list[str], InboundMessage]:
    """Sign in and list the folders, send one email to the mailbox itself, read it back and
    move it to the processed folder: what check-config would say, and the email as read."""
    address = config.mailbox.address
    subject = f"MASP live check {uuid.uuid4().hex[:12]}"
    with open_source(config) as source:
        facts = source.describe()
        reader = Reader(source)
        for _ in reader.round():
            pass  # what the inbox holds already: only what arrives after counts
        with sending(config) as sender:
            sender.describe()
            sender.send(to_itself(address, subject), address, [address])
        found = reader.wait_for(subject)
        assert source.mark_processed([found.location]) == [found.location]
        # Nothing twice: the next round (same delta link / highest UID) does not yield it again.
        again = [m for m in reader.round() if subject_of(m) == subject]
        assert again == []
    return facts, found


def test_graph_signs_in_lists_folders_sends_to_itself_and_reads_it_back_by_delta(
    tmp_path: Path,
) -> None:
    facts, found = round_trip(live_config(tmp_path, "graph"))
    assert any("signed in as app" in fact for fact in facts), facts
    assert any("folders" in fact and "Inbox" in fact for fact in facts), facts
    assert found.location.backend == "graph"


def test_imap_and_smtp_sign_in_with_xoauth2_list_folders_and_send_to_itself(
    tmp_path: Path,
) -> None:
    facts, found = round_trip(live_config(tmp_path, "imap"))
    assert any("OAuth 2.0 token" in fact for fact in facts), facts
    assert any(fact.startswith("Folders:") and "INBOX" in fact.upper() for fact in facts), facts
    assert found.location.backend == "imap"
