"""IMAP and SMTP signing in with the app's OAuth 2.0 token (SASL XOAUTH2), as Exchange Online
wants: against a real Dovecot whose oauth2 passdb asks a token-introspection endpoint on
127.0.0.1, a real aiosmtpd taking AUTH XOAUTH2 only, and the Entra stand-in for the tokens
(see `harness_imap_oauth.py`). The contract suite runs this back-end too ("imap-oauth")."""

from __future__ import annotations

import email
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from imap_tools import MailBoxUnencrypted
from sqlalchemy import func, select

from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import parse_config
from pipeline.errors import MailboxError, SendError
from pipeline.intake.poll import poll
from pipeline.mailbox.imap import ImapSource
from pipeline.mailbox.oauth import EXCHANGE, TokenProvider
from pipeline.mailbox.smtp import SmtpSender
from pipeline.store.models import Case
from tests.helpers import ROOT, config_tree, numbered_referral
from tests.mailbox.contract import message
from tests.mailbox.harness_imap_oauth import OAuthWorld, oauth_world
from tests.servers import OAuthMailServer
from tests.stand_ins.entra import TENANT

pytestmark = pytest.mark.servers


@pytest.fixture
def world(tmp_path: Path, oauth_dovecot: OAuthMailServer) -> Iterator[OAuthWorld]:
    with oauth_world(tmp_path, oauth_dovecot) as made:
        yield made


@pytest.fixture
def not_granted(tmp_path: Path, oauth_dovecot: OAuthMailServer) -> Iterator[OAuthWorld]:
    """The app has its token, but nobody granted it the panel mailbox."""
    with oauth_world(tmp_path, oauth_dovecot, granted=False) as made:
        yield made


def service_on(folder: Path, world: OAuthWorld) -> App:
    tree = config_tree(mailbox=world.mailbox_tree())
    return App.open(parse_config(tree, folder, env={}), Clock.system())


def acknowledged(world: OAuthWorld, address: str) -> list[email.message.Message]:
    return [email.message_from_bytes(raw) for _, to, raw in world.smtp.messages if address in to]


def folder_counts(world: OAuthWorld) -> dict[str, int]:
    account = world.account
    port = world.server.dovecot.imap_port
    with MailBoxUnencrypted("127.0.0.1", port).login(account.user, account.password) as box:
        return {f.name: box.folder.status(f.name)["MESSAGES"] for f in box.folder.list()}


def cases(app: App) -> int:
    with app.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_the_service_reads_and_answers_through_xoauth2(tmp_path: Path, world: OAuthWorld) -> None:
    app = service_on(tmp_path / "svc", world)
    try:
        world.account.deliver(numbered_referral("Oauth", 1).as_bytes())
        poll(app)
        [ack] = acknowledged(world, "ref1@school.example.org")
        assert "MASP-" in ack["Subject"]
        assert cases(app) == 1
        assert folder_counts(world) == {"INBOX": 0, "Processed": 1}
        # One token for IMAP and SMTP alike, asked once.
        assert world.entra.tokens.requests == 1
        assert world.server.introspection.requests >= 1
    finally:
        app.close()


def test_a_revoked_token_is_replaced_and_the_service_carries_on(
    tmp_path: Path, world: OAuthWorld
) -> None:
    app = service_on(tmp_path / "svc", world)
    try:
        world.account.deliver(numbered_referral("Oauth", 1).as_bytes())
        poll(app)
        # An administrator revokes the app's sessions; the cached token is now refused.
        world.entra.tokens.revoke_all()
        world.account.deliver(numbered_referral("Oauth", 2).as_bytes())
        poll(app)
        assert len(acknowledged(world, "ref2@school.example.org")) == 1
        assert cases(app) == 2
        assert folder_counts(world) == {"INBOX": 0, "Processed": 2}
        assert world.entra.tokens.requests == 2
    finally:
        app.close()


def test_smtp_gets_a_new_token_after_a_refused_one(world: OAuthWorld) -> None:
    tokens = TokenProvider(world.oauth(), EXCHANGE)
    sender = SmtpSender(world.smtp_config(), tokens=tokens, address=world.address)
    sender.send(message(1), world.address, ["a@example.org"])
    sender.close()
    world.entra.tokens.expire_all()
    sender.send(message(2), world.address, ["b@example.org"])
    sender.close()
    assert [rcpts for _, rcpts, _ in world.smtp.messages] == [["a@example.org"], ["b@example.org"]]
    assert world.smtp.auth_refused == 1


def test_a_mailbox_not_granted_to_the_app_is_refused_naming_tenant_and_permission(
    not_granted: OAuthWorld,
) -> None:
    world = not_granted
    tokens = TokenProvider(world.oauth(), EXCHANGE)
    with pytest.raises(MailboxError) as imap:
        ImapSource(world.imap_config(), tokens=tokens, address=world.address).__enter__()
    said = str(imap.value)
    assert f"the app has no IMAP.AccessAsApp permission on {world.address}" in said
    assert "or the mailbox is not granted to it" in said and TENANT in said
    # One new token was tried before giving up.
    assert world.entra.tokens.requests == 2

    sender = SmtpSender(world.smtp_config(), tokens=tokens, address=world.address)
    with pytest.raises(SendError) as smtp:
        sender.send(message(1), world.address, ["a@example.org"])
    said = str(smtp.value)
    assert f"the app has no SMTP.SendAsApp permission on {world.address}" in said
    assert TENANT in said
    # Not this email's fault: it waits in the outbox for the grant, using up no attempt.
    assert smtp.value.temporary
    assert world.smtp.messages == []


def check_config(folder: Path, world: OAuthWorld, **oauth: str) -> subprocess.CompletedProcess[str]:
    tree = config_tree(mailbox=world.mailbox_tree())
    tree["mailbox"]["oauth"] |= oauth
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )


def test_check_config_signs_in_with_the_apps_token(tmp_path: Path, world: OAuthWorld) -> None:
    good = check_config(tmp_path / "good", world)
    out = " ".join(good.stdout.split())
    assert good.returncode == 0, good.stdout + good.stderr
    signed_in = f"signed in as {world.address} with the app's OAuth 2.0 token (tenant {TENANT})"
    assert out.count(signed_in) == 2
    assert "AUTH mechanisms: XOAUTH2" in out
    assert world.smtp.messages == []


def test_check_config_names_the_tenant_and_the_permission_of_a_refused_app(
    tmp_path: Path, world: OAuthWorld
) -> None:
    bad = check_config(tmp_path / "bad", world, client_secret="a secret that expired")
    out = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode == 1, out
    assert f"Microsoft Entra ID (tenant {TENANT}) refused app" in out
    assert "invalid_client" in out and "IMAP.AccessAsApp and SMTP.SendAsApp" in out
    assert "Inbox:" in out and "Sending:" in out
    assert "Traceback" not in out
