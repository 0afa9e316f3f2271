"""What every mailbox back-end must do, as one contract the suite checks for each of them.

A `Harness` drives one back-end and the server behind it the way the world does: mail arrives,
a person reads or moves it in their mail program, the server goes away and comes back. The
tests in `test_contract.py` run the same story against every harness in `harnesses.HARNESSES`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

from pipeline.mailbox.base import MailSender, MailSource


class Harness(Protocol):
    name: str
    # The address the panel's mail goes to, and comes from.
    address: str

    def source(self) -> MailSource:
        """A fresh source each call: a new one is a restart of the service."""
        ...

    def sender(self) -> MailSender: ...

    def deliver(self, raw: bytes) -> None:
        """A message arrives in the panel folder, as the mail server would file it."""
        ...

    def read_by_person(self) -> None:
        """A person reads every message in the panel folder in their mail program."""
        ...

    def move_away_by_person(self, subject: str) -> None:
        """A person moves the message with this subject out of the panel folder."""
        ...

    def processed(self) -> list[bytes]:
        """The raw messages now in the processed folder."""
        ...

    def sent(self) -> list[tuple[list[str], bytes]]:
        """What the sending side took so far: (recipients, raw MIME) for each message."""
        ...

    def outage(self) -> AbstractContextManager[None]:
        """The server (reading and sending) unreachable inside the block, back after it."""
        ...


def message(
    n: int, subject: str | None = None, attachment: bytes = b"", to: str = "panel@example.org"
) -> bytes:
    """A made-up email (and attachment, if given) as a referrer's mail program would send it."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Referrer {n} <referrer{n}@school.example.org>"
    msg["To"] = to
    msg["Subject"] = subject or f"Contract referral {n}"
    msg["Message-ID"] = f"<contract-{n}-{id(msg)}@school.example.org>"
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    msg.set_content(f"Synthetic referral {n}.\n")
    if attachment:
        msg.add_attachment(
            attachment, maintype="application", subtype="octet-stream", filename=f"file{n}.bin"
        )
    return msg.as_bytes()
