"""The contract harness for the `imap` back-end signing in with OAuth 2.0 (SASL XOAUTH2), as on
Exchange Online: the app's token from the Entra stand-in (`tests/stand_ins/entra.py`), checked by
a real Dovecot's oauth2 passdb through a token-introspection endpoint on 127.0.0.1
(`tests/stand_ins/introspection.py`), and a real aiosmtpd that takes AUTH XOAUTH2 only. A person
still opens the mailbox with a password (Dovecot's static passdb), as the shared mailbox's
members open it in Outlook."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import ImapConfig, OAuthConfig, SmtpConfig
from pipeline.mailbox.imap import ImapSource
from pipeline.mailbox.oauth import EXCHANGE, TokenProvider
from pipeline.mailbox.smtp import SmtpSender
from tests.mailbox.harness_imap import ImapHarness
from tests.servers import ImapAccount, OAuthMailServer, SmtpCapture, fresh_mailbox, running_smtp
from tests.stand_ins.entra import Entra, running_entra


@dataclass
class OAuthWorld:
    """One test's Entra tenant, its mailbox on the XOAUTH2 Dovecot, and an XOAUTH2 SMTP server."""

    entra: Entra
    server: OAuthMailServer
    account: ImapAccount
    smtp: SmtpCapture

    @property
    def address(self) -> str:
        return self.account.user

    def oauth(self, **overrides: Any) -> OAuthConfig:
        return OAuthConfig(**self.entra.oauth_config(**overrides))

    def imap_config(self) -> ImapConfig:
        return self.account.config.model_copy(
            update={"auth": "oauth2", "username": "", "password": ""}
        )

    def smtp_config(self) -> SmtpConfig:
        return SmtpConfig(auth="oauth2", host="127.0.0.1", port=self.smtp.port, security="none")

    def mailbox_tree(self) -> dict[str, Any]:
        """`mailbox` for a config tree: imap and smtp with auth oauth2, and the app."""
        return {
            "backend": "imap",
            "address": self.address,
            "imap": self.imap_config().model_dump(),
            "smtp": self.smtp_config().model_dump(),
            "oauth": self.entra.oauth_config(),
        }


@contextmanager
def oauth_world(
    folder: Path, server: OAuthMailServer, granted: bool = True
) -> Iterator[OAuthWorld]:
    """A tenant whose app is granted (or not) a fresh mailbox, and an SMTP server that asks
    the same grants."""
    with running_entra(folder / "entra") as entra:
        account = fresh_mailbox(server.dovecot)
        if granted:
            server.introspection.grant(entra.tokens, account.user)
        try:
            with running_smtp(xoauth2=server.introspection.allows) as smtp:
                yield OAuthWorld(entra, server, account, smtp)
        finally:
            server.introspection.withdraw(account.user)


class ImapOAuthHarness(ImapHarness):
    name = "imap-oauth"

    def __init__(self, world: OAuthWorld) -> None:
        super().__init__(world.server.dovecot, world.account, world.smtp)
        self.world = world
        self.address = world.address
        self.tokens = TokenProvider(world.oauth(), EXCHANGE)

    def source(self) -> ImapSource:
        return ImapSource(self.world.imap_config(), tokens=self.tokens, address=self.address)

    def sender(self) -> SmtpSender:
        return SmtpSender(self.world.smtp_config(), tokens=self.tokens, address=self.address)


@contextmanager
def imap_oauth_harness(folder: Path, request: pytest.FixtureRequest) -> Iterator[ImapOAuthHarness]:
    server: OAuthMailServer = request.getfixturevalue("oauth_dovecot")
    with oauth_world(folder, server) as world:
        yield ImapOAuthHarness(world)
