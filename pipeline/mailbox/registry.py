"""Opens the configured back-end: where mail is read from and how it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.mailbox.base import MailSender, MailSource
from pipeline.mailbox.maildir import MaildirSender, MaildirSource


def open_source(config: Config) -> MailSource:
    backend = config.mailbox.backend
    if backend == "maildir":
        folders = config.mailbox.maildir
        return MaildirSource(config.path(folders.inbox), config.path(folders.processed))
    if backend == "imap":
        from pipeline.mailbox.imap import ImapSource

        return ImapSource(config.mailbox.imap)
    if backend == "graph":
        from pipeline.mailbox.graph import GraphSource

        return GraphSource(config)
    if backend == "ews":
        from pipeline.mailbox.ews import EwsSource

        return EwsSource(config.mailbox, config.path("."))
    raise ConfigError("mailbox.backend", f"the {backend!r} back-end is not available yet")


@contextmanager
def sending(config: Config) -> Iterator[MailSender]:
    """The configured sender for the length of a `with` block, closed however it ends."""
    sender = open_sender(config)
    try:
        yield sender
    finally:
        sender.close()


def open_sender(config: Config) -> MailSender:
    backend = config.mailbox.backend
    if backend == "maildir":
        return MaildirSender(config.path(config.mailbox.maildir.sent))
    if backend == "imap":
        from pipeline.mailbox.smtp import SmtpSender

        return SmtpSender(config.mailbox.smtp)
    if backend == "graph":
        from pipeline.mailbox.graph import GraphSender

        return GraphSender(config)
    if backend == "ews":
        from pipeline.mailbox.ews import EwsSender

        return EwsSender(config.mailbox, config.path("."))
    raise ConfigError("mailbox.backend", f"the {backend!r} back-end is not available yet")
