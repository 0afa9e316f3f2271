"""The contract harness for the `imap` back-end with SMTP: the run's real Dovecot (a fresh
account) and a real aiosmtpd, each stopped and started again for an outage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted, MailMessageFlags

from pipeline.config import SmtpConfig
from pipeline.mailbox.imap import ImapSource
from pipeline.mailbox.smtp import SmtpSender
from tests.servers import Dovecot, ImapAccount, SmtpCapture, fresh_account, running_smtp


class ImapHarness:
    name = "imap"

    def __init__(self, dovecot: Dovecot, account: ImapAccount, smtp: SmtpCapture) -> None:
        self.dovecot, self.account, self.smtp = dovecot, account, smtp
        self.address = f"{account.user}@example.org"

    def _box(self) -> MailBoxUnencrypted:
        box = MailBoxUnencrypted("127.0.0.1", self.dovecot.imap_port, timeout=10)
        return box.login(self.account.user, self.account.password, initial_folder="INBOX")

    def source(self) -> ImapSource:
        return ImapSource(self.account.config)

    def sender(self) -> SmtpSender:
        return SmtpSender(SmtpConfig(host="127.0.0.1", port=self.smtp.port, security="none"))

    def deliver(self, raw: bytes) -> None:
        self.account.deliver(raw)

    def read_by_person(self) -> None:
        with self._box() as box:
            uids = [m.uid for m in box.fetch(headers_only=True, mark_seen=False) if m.uid]
            if uids:
                box.flag(uids, MailMessageFlags.SEEN, True)

    def move_away_by_person(self, subject: str) -> None:
        with self._box() as box:
            if not box.folder.exists("Elsewhere"):
                box.folder.create("Elsewhere")
            uids = [m.uid for m in box.fetch(headers_only=True, mark_seen=False)
                    if m.subject == subject and m.uid]  # fmt: skip
            box.move(uids, "Elsewhere")

    def processed(self) -> list[bytes]:
        with self._box() as box:
            if not box.folder.exists("Processed"):
                return []
            box.folder.set("Processed")
            return [m.obj.as_bytes() for m in box.fetch(mark_seen=False)]

    def sent(self) -> list[tuple[list[str], bytes]]:
        with self.smtp.lock:
            return [(list(rcpts), raw) for _, rcpts, raw in self.smtp.messages]

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.dovecot.stop()
        self.smtp.stop()
        try:
            yield
        finally:
            self.dovecot.start()
            self.smtp.start()


@contextmanager
def imap_harness(folder: Path, request: pytest.FixtureRequest) -> Iterator[ImapHarness]:
    dovecot: Dovecot = request.getfixturevalue("dovecot")
    with running_smtp() as smtp:
        yield ImapHarness(dovecot, fresh_account(dovecot), smtp)
