"""The embedded default back-end: mail in and out through local Maildirs, no server at all."""

from __future__ import annotations

import logging
import mailbox
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline.closing import Closing
from pipeline.disk import ensure_private_dir
from pipeline.errors import MailboxError, SendError
from pipeline.mailbox.base import Cursor, InboundMessage, Known, LastSeen, Location

log = logging.getLogger(__name__)


def open_maildir(path: Path) -> mailbox.Maildir:
    """Open (creating if needed) a Maildir with its new/, cur/ and tmp/ folders, owner-only."""
    # Made here, each step content to find it made: the standard library's `create=True` checks
    # and then makes, and fails when another worker made the folder in between.
    ensure_private_dir(path.parent)
    for sub in ("", "new", "cur", "tmp"):
        ensure_private_dir(path / sub)
    return mailbox.Maildir(str(path), create=False)


class MaildirSource(Closing):
    """Reads `inbox` (new/ and cur/); processed mail is moved to the `processed` Maildir."""

    name = "maildir"

    def __init__(self, inbox: Path, processed: Path) -> None:
        self.inbox_path = inbox
        self.processed_path = processed
        try:
            self.inbox = open_maildir(inbox)
            self.processed = open_maildir(processed)
        except OSError as exc:
            raise MailboxError(
                f"the Maildir folders {inbox} and {processed} cannot be opened ({exc.strerror}): "
                "is their disk there?"
            ) from exc

    def close(self) -> None:
        self.inbox.close()
        self.processed.close()

    def _files(self) -> Iterator[tuple[str, Path]]:
        """(key, path) of every message waiting, read from new/ and cur/ directly."""
        for sub in ("new", "cur"):
            try:
                paths = list((self.inbox_path / sub).iterdir())
            except OSError as exc:
                # A Maildir on a share that is not mounted, say: the next poll tries again.
                raise MailboxError(
                    f"the Maildir inbox {self.inbox_path} cannot be read ({exc.strerror}): "
                    "is its disk there?"
                ) from exc
            for path in paths:
                if not path.name.startswith("."):
                    yield path.name.split(mailbox.Maildir.colon)[0], path

    def fetch_new(
        self, last_seen: LastSeen, known: Known, cursor: Cursor | None = None
    ) -> Iterator[InboundMessage]:
        found = []
        for key, path in self._files():
            location = Location(self.name, str(self.inbox_path), 0, key)
            if known(location):
                continue
            try:
                # A stray folder or a dangling link in new/ is no email; it must not stop
                # the emails beside it.
                if not path.is_file():
                    continue
                # The delivery agent writes the file as the mail arrives: its mtime is the
                # server receive time (R2), never the sender's Date: header.
                received_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except (OSError, ValueError, OverflowError) as exc:
                log.warning("maildir entry %s skipped: %s", key, type(exc).__name__)
                continue
            found.append((received_at, key, path, location))
        for received_at, key, path, location in sorted(found):
            try:
                raw = path.read_bytes()
            except OSError as exc:
                # Gone or unreadable since it was listed: tried again at the next poll.
                log.warning("maildir message %s could not be read: %s", key, type(exc).__name__)
                continue
            yield InboundMessage(location, raw, received_at)

    def mark_processed(self, locations: Sequence[Location]) -> list[Location]:
        """Rename each message into the processed Maildir's cur/: atomic, and no re-parsing."""
        waiting = {key: path for key, path in self._files()}
        moved = []
        for location in locations:
            path = waiting.get(location.uid)
            if path is None:
                continue
            target = self.processed_path / "cur" / f"{location.uid}{mailbox.Maildir.colon}2,S"
            try:
                os.replace(path, target)
            except OSError as exc:
                # This one stays in the inbox, known to the ledger, and is moved next time.
                log.warning("maildir message %s not moved: %s", location.uid, type(exc).__name__)
                continue
            moved.append(location)
        return moved

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        # A Maildir has no push: sleep until the next poll or until asked to stop.
        stop.wait(timeout)
        return False

    def describe(self) -> list[str]:
        return [
            f"Maildir inbox {self.inbox_path}: {len(self.inbox)} message(s) waiting",
            f"processed mail is moved to {self.processed_path}",
        ]


class MaildirSender:
    """Delivers outgoing mail into a local `sent` Maildir, so nothing leaves the machine."""

    name = "maildir"

    def __init__(self, sent: Path) -> None:
        self.path = sent
        try:
            self.sent = open_maildir(sent)
        except OSError as exc:
            raise SendError(f"the sent Maildir {sent} cannot be opened: {exc.strerror}") from exc

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        envelope = f"X-Envelope-From: {sender}\nX-Envelope-To: {', '.join(recipients)}\n"
        try:
            self.sent.add(envelope.encode() + raw)
        except OSError as exc:
            raise SendError(
                f"the sent Maildir {self.path} cannot be written: {exc.strerror}"
            ) from exc

    def close(self) -> None:
        self.sent.close()

    def describe(self) -> list[str]:
        return [f"outgoing mail is written to the Maildir {self.path} (nothing is sent)"]
