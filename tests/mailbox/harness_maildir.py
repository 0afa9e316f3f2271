"""The contract harness for the `maildir` back-end: local folders, and a share that goes away."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.mailbox.maildir import MaildirSender, MaildirSource, open_maildir

ADDRESS = "panel@example.org"


class MaildirHarness:
    name = "maildir"
    address = ADDRESS

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inbox, self.processed_path = folder / "inbox", folder / "processed"
        self.elsewhere, self.sent_path = folder / "elsewhere", folder / "sent"
        for path in (self.inbox, self.processed_path, self.elsewhere, self.sent_path):
            open_maildir(path).close()

    def source(self) -> MaildirSource:
        return MaildirSource(self.inbox, self.processed_path)

    def sender(self) -> MaildirSender:
        return MaildirSender(self.sent_path)

    def deliver(self, raw: bytes) -> None:
        mailbox.Maildir(str(self.inbox)).add(raw)

    def read_by_person(self) -> None:
        box = mailbox.Maildir(str(self.inbox))
        for key in list(box.iterkeys()):
            message = box[key]
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message

    def move_away_by_person(self, subject: str) -> None:
        box = mailbox.Maildir(str(self.inbox))
        for key, message in list(box.items()):
            if message["Subject"] == subject:
                mailbox.Maildir(str(self.elsewhere)).add(message)
                box.remove(key)

    def processed(self) -> list[bytes]:
        box = mailbox.Maildir(str(self.processed_path))
        return [box.get_bytes(key) for key in box.iterkeys()]

    def sent(self) -> list[tuple[list[str], bytes]]:
        box = mailbox.Maildir(str(self.sent_path))
        found = []
        for key in box.iterkeys():
            _, _, raw = box.get_bytes(key).partition(b"\n" + b"X-Envelope-To: ")
            recipients, _, body = raw.partition(b"\n")
            found.append(([r.strip() for r in recipients.decode().split(",")], body))
        return found

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The share the folders live on is gone: where they were, nothing can be opened."""
        gone = self.folder.with_name(self.folder.name + "-unmounted")
        os.replace(self.folder, gone)
        self.folder.write_bytes(b"")
        try:
            yield
        finally:
            self.folder.unlink()
            os.replace(gone, self.folder)


@contextmanager
def maildir_harness(folder: Path) -> Iterator[MaildirHarness]:
    yield MaildirHarness(folder)
