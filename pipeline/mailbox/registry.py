"""Opens the configured back-end: where mail is read from and how it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Config, OAuthConfig
from pipeline.errors import ConfigError
from pipeline.mailbox.base import MailSender, MailSource
from pipeline.mailbox.maildir import MaildirSender, MaildirSource

if TYPE_CHECKING:
    from pipeline.mailbox.oauth import TokenProvider


def exchange_tokens(config: Config) -> TokenProvider:
    """The app's tokens for Exchange Online (IMAP and SMTP with `auth: oauth2`)."""
    return _exchange_tokens(config.mailbox.oauth, config.base_dir)


@cache
def _exchange_tokens(oauth: OAuthConfig, base_dir: str) -> TokenProvider:
    # One provider per app for the life of the process: each poll opens the source and the
    # sender afresh, and both reuse the cached token instead of asking Entra ID every time.
    from pipeline.mailbox.oauth import EXCHANGE, TokenProvider

    return TokenProvider(oauth, EXCHANGE, Path(base_dir))


def open_source(config: Config) -> MailSource:
    backend = config.mailbox.backend
    if backend == "maildir":
        folders = config.mailbox.maildir
        return MaildirSource(config.path(folders.inbox), config.path(folders.processed))
    if backend == "imap":
        from pipeline.mailbox.imap import ImapSource

        imap = config.mailbox.imap
        tokens = exchange_tokens(config) if imap.auth == "oauth2" else None
        return ImapSource(imap, tokens=tokens, address=config.mailbox.address)
    if backend == "graph":
        from pipeline.mailbox.graph import GraphSource

        return GraphSource(config)
    if backend == "ews":
        from pipeline.mailbox.ews import EwsSource

        return EwsSource(config.mailbox, config.path("."))
    raise ConfigError("mailbox.backend", f"unknown back-end {backend!r}")


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

        smtp = config.mailbox.smtp
        tokens = exchange_tokens(config) if smtp.auth == "oauth2" else None
        return SmtpSender(smtp, tokens=tokens, address=config.mailbox.address)
    if backend == "graph":
        from pipeline.mailbox.graph import GraphSender

        return GraphSender(config)
    if backend == "ews":
        from pipeline.mailbox.ews import EwsSender

        return EwsSender(config.mailbox, config.path("."))
    raise ConfigError("mailbox.backend", f"unknown back-end {backend!r}")
