"""The `ews` back-end with `mailbox.ews.auth: oauth2` (hybrid modern auth): the app's token from
the Entra stand-in, asked for the Exchange server's own address, taken by the EWS stand-in only
as a bearer token Entra issued (`tests/stand_ins/ews.py`). No Exchange Server or tenant here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import EwsConfig, MailboxConfig, OAuthConfig
from pipeline.errors import MailboxError
from pipeline.mailbox.base import MemoryCursor
from pipeline.mailbox.ews import EwsSender, EwsSource
from tests.mailbox.contract import message
from tests.stand_ins.entra import Entra, running_entra
from tests.stand_ins.ews import Ews, running_ews


@pytest.fixture
def entra(tmp_path: Path) -> Iterator[Entra]:
    with running_entra(tmp_path / "entra") as running:
        yield running


@pytest.fixture
def ews(tmp_path: Path, entra: Entra) -> Iterator[Ews]:
    with running_ews(tmp_path / "ews", entra) as running:
        yield running


def mailbox(ews: Ews, entra: Entra) -> MailboxConfig:
    return MailboxConfig(backend="ews", address="panel@example.org",
                         ews=EwsConfig(**ews.ews_config()),
                         oauth=OAuthConfig(**entra.oauth_config()))  # fmt: skip


def test_ews_signs_in_with_the_apps_token_to_read_and_send(ews: Ews, entra: Entra) -> None:
    referral, answer = message(1), message(2)
    ews.mailbox.deliver(referral)
    config = mailbox(ews, entra)
    with EwsSource(config) as source:
        got = list(source.fetch_new(lambda f, v: None, lambda loc: False, MemoryCursor()))
        assert [m.raw for m in got] == [referral]
        assert source.mark_processed([got[0].location]) == [got[0].location]
    sender = EwsSender(config)
    sender.send(answer, "panel@example.org", ["panel@example.org"])
    sender.close()
    assert [(s.recipients, s.raw) for s in ews.mailbox.sent] == [(["panel@example.org"], answer)]
    assert ews.mailbox.contents("Processed") == [referral]
    # Every token the back-end used was asked for the Exchange server's own address.
    assert {issued.scope for issued in entra.tokens.issued.values()} == {ews.audience()}


def test_a_token_from_another_tenant_is_refused_and_said_so(tmp_path: Path, ews: Ews) -> None:
    with running_entra(tmp_path / "other") as other:
        refused = pytest.raises(MailboxError, match="refused the sign-in")
        with refused, EwsSource(mailbox(ews, other)) as source:
            list(source.fetch_new(lambda f, v: None, lambda loc: False, MemoryCursor()))
        assert ews.mailbox.requests == []
