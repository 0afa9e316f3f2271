"""The service's own OAuth 2.0 token (client credentials) from Entra ID: asked once, cached,
renewed, and refused with a message naming the tenant, the app and the permission. Against the
Entra stand-in on 127.0.0.1 (`tests/stand_ins/entra.py`: no real tenant is reachable here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import OAuthConfig
from pipeline.errors import ConfigError, MailboxError
from pipeline.mailbox.oauth import EXCHANGE, GRAPH, TokenProvider, xoauth2
from tests.stand_ins.entra import CLIENT, TENANT, Entra, running_entra


@pytest.fixture
def entra(tmp_path: Path) -> Iterator[Entra]:
    with running_entra(tmp_path / "tls") as running:
        yield running


def provider(entra: Entra, scope: str = EXCHANGE, **overrides: str) -> TokenProvider:
    return TokenProvider(OAuthConfig(**entra.oauth_config(**overrides)), scope)


def test_a_token_is_asked_once_and_reused_until_it_nears_expiry(entra: Entra) -> None:
    tokens = provider(entra)
    first = tokens.token()
    assert entra.tokens.check(first, EXCHANGE)
    assert tokens.token() == first and entra.tokens.requests == 1
    entra.tokens.lifetime = 1
    tokens.forget()
    short = tokens.token()
    # msal renews a token that is about to expire rather than hand it out.
    assert tokens.token() != short and entra.tokens.requests == 3


def test_a_refused_secret_names_the_tenant_the_app_and_the_permission(entra: Entra) -> None:
    entra.secret[:] = ["another secret"]
    with pytest.raises(MailboxError) as refused:
        provider(entra, GRAPH).token()
    message = str(refused.value)
    assert TENANT in message and CLIENT in message and "invalid_client" in message
    assert "Mail.Send" in message
    # Entra ID answered "no": a refusal of the app's credentials, for `masp health`.
    assert refused.value.login_refused


def test_missing_settings_name_the_key(entra: Entra) -> None:
    with pytest.raises(ConfigError) as missing:
        TokenProvider(OAuthConfig(), EXCHANGE)
    assert "mailbox.oauth" in str(missing.value)
    with pytest.raises(ConfigError) as no_secret:
        provider(entra, client_secret="").token()
    assert "client_secret" in str(no_secret.value)


def test_the_xoauth2_response_is_the_documented_shape() -> None:
    assert (
        xoauth2("panel@example.org", "abc") == "user=panel@example.org\x01auth=Bearer abc\x01\x01"
    )
