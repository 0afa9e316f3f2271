"""The interface every mailbox back-end implements (imap, maildir, graph, ews)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol


@dataclass(frozen=True)
class Location:
    """Where a message sits on the server; enough to move it, and unique in the ledger."""

    backend: str
    folder: str
    uidvalidity: int
    uid: str


@dataclass(frozen=True)
class InboundMessage:
    """A message as the server holds it. `received_at` is the server's receive time (R2), or
    None when the server gave none that could be read (the ledger then records when it read it).
    """

    location: Location
    raw: bytes
    received_at: datetime | None


# Given (folder, uidvalidity), the highest UID already in the ledger, or None if none is.
# IMAP uses it to fetch only what is new; other back-ends may ignore it.
LastSeen = Callable[[str, int], int | None]
# Given a Location, whether the ledger already holds it (so it is not fetched again).
Known = Callable[[Location], bool]


class Cursor(Protocol):
    """Where a back-end got to in its folder (a Graph delta link, an EWS sync state), kept in
    the database as the source of truth.

    A value `put` takes effect only once every message yielded before it is committed to the
    ledger, so a crash can only make the back-end read again what the ledger already knows,
    never skip what it does not.
    """

    def get(self, name: str) -> str | None: ...

    def put(self, name: str, value: str | None) -> None: ...


class MemoryCursor:
    """A cursor that lives as long as the process: for tests and one-off reads."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def put(self, name: str, value: str | None) -> None:
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value


class MailSource(Protocol):
    """Reads new mail from the panel inbox and moves processed mail aside."""

    name: str

    def __enter__(self) -> MailSource: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def fetch_new(
        self, last_seen: LastSeen, known: Known, cursor: Cursor | None = None
    ) -> Iterator[InboundMessage]:
        """Yield messages not yet in the ledger, oldest first, without changing any flag.

        `cursor` keeps where the back-end got to between polls (None: start afresh)."""
        ...

    def mark_processed(self, locations: Sequence[Location]) -> list[Location]:
        """Move these messages to the processed folder; return the ones actually moved."""
        ...

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        """Block until new mail may have arrived, `timeout` passes or `stop` is set."""
        ...

    def describe(self) -> list[str]:
        """Plain-English facts for `masp check-config`: folders, capabilities."""
        ...


class MailSender(Protocol):
    """Hands a fully rendered email to the mail system."""

    name: str

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        """Deliver `raw` to `recipients`; raise SendError if it may not have been accepted."""
        ...

    def close(self) -> None: ...

    def describe(self) -> list[str]: ...
