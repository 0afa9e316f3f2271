"""Signing in with Microsoft Entra ID, against a stand-in on 127.0.0.1 that speaks Microsoft's
documented OpenID Connect payloads (tests/stand_ins/entra.py): no real tenant can be reached
from here. Authorization code with PKCE, state, nonce, and the id_token checked against the
published keys (issuer, audience, expiry, nonce)."""

from __future__ import annotations

import html
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.store.models import AuditEvent, WebUser
from tests.helpers import open_service
from tests.stand_ins.entra import Entra, Person, running_entra
from tests.web.conftest import NOW, serve


@dataclass
class Site:
    url: str
    app: App
    entra: Entra

    def idp(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(self.entra.tls.ca_file)))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_entra(tmp_path) as entra:
        entra.issued_at = NOW.timestamp()
        oidc = entra.oidc_config(roles={"named.chair@example.org": "chair"})
        app = open_service(tmp_path, NOW, web__oidc=oidc)
        server, thread, port = serve(app)
        try:
            yield Site(f"http://127.0.0.1:{port}", app, entra)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.close()


def through_microsoft(site: Site, client: httpx.Client) -> httpx.Response:
    """Start signing in at the console, let the stand-in answer, and bring its answer back."""
    start = client.get("/sign-in/entra", params={"next": "/mail"})
    assert start.status_code == 303
    with site.idp() as idp:
        answer = idp.get(start.headers["location"])
    assert answer.status_code == 302
    return client.get(answer.headers["location"])


def test_the_sign_in_page_offers_microsoft(site: Site) -> None:
    page = httpx.get(f"{site.url}/sign-in")
    assert 'href="/sign-in/entra?next=/"' in page.text and "Sign in with Microsoft" in page.text


def test_the_request_to_microsoft_carries_pkce_state_and_nonce(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        start = client.get("/sign-in/entra")
    url = urlparse(start.headers["location"])
    assert url.path.endswith("/oauth2/v2.0/authorize")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
    assert query["redirect_uri"] == f"{site.url}/sign-in/entra/callback"
    assert "openid" in query["scope"].split()


def test_an_app_role_in_the_token_signs_an_administrator_in(site: Site) -> None:
    site.entra.person = Person("Ada.Admin@Example.org", "Ada Admin", ("administrator",))
    with httpx.Client(base_url=site.url) as client:
        done = through_microsoft(site, client)
        assert done.status_code == 303 and done.headers["location"] == "/mail"
        assert client.get("/mail").status_code == 200
    with site.app.store.session() as session:
        row = session.scalar(select(WebUser).where(WebUser.email == "ada.admin@example.org"))
        assert row is not None and row.role == "administrator" and row.source == "entra"
        assert row.password_hash is None
        signed = session.scalars(select(AuditEvent).where(AuditEvent.action == "signed-in"))
        assert [e.detail for e in signed] == [{"by": "web:ada.admin@example.org", "via": "entra"}]


def test_the_configured_role_comes_before_the_tokens(site: Site) -> None:
    site.entra.person = Person("named.chair@example.org", "Named Chair", ("administrator",))
    with httpx.Client(base_url=site.url) as client:
        assert through_microsoft(site, client).status_code == 303
        assert client.get("/board").status_code == 200
        assert client.get("/mail").status_code == 403


def test_someone_with_no_role_is_refused(site: Site) -> None:
    site.entra.person = Person("nobody@example.org", "No Body")
    with httpx.Client(base_url=site.url) as client:
        refused = through_microsoft(site, client)
        assert refused.status_code == 403
        assert "has no role in this console" in refused.text
        assert client.get("/board").status_code == 303


@pytest.mark.parametrize(
    ("claims", "issued", "says"),
    [
        ({"aud": "00000000-0000-4000-8000-00000000ffff"}, 0, "Audience doesn't match"),
        ({"iss": "https://login.example.net/other/v2.0"}, 0, "Invalid issuer"),
        ({"nonce": "not-this-sign-in"}, 0, "not issued for this sign-in (nonce)"),
        ({}, -2, "has expired"),
        ({}, 1, "not valid yet"),
    ],
    ids=["audience", "issuer", "nonce", "expired", "future"],
)
def test_a_token_not_for_us_or_not_current_is_refused(
    site: Site, claims: dict[str, str], issued: int, says: str
) -> None:
    site.entra.person = Person("ada.admin@example.org", "Ada Admin", ("administrator",))
    site.entra.claims = claims
    site.entra.issued_at = (NOW + timedelta(hours=issued)).timestamp()
    with httpx.Client(base_url=site.url) as client:
        refused = through_microsoft(site, client)
        assert refused.status_code == 400
        assert says in html.unescape(refused.text)
        assert client.get("/board").status_code == 303


def test_an_answer_for_another_browser_or_used_twice_is_refused(site: Site) -> None:
    site.entra.person = Person("ada.admin@example.org", "Ada Admin", ("administrator",))
    with httpx.Client(base_url=site.url) as client, site.idp() as idp:
        start = client.get("/sign-in/entra")
        callback = idp.get(start.headers["location"]).headers["location"]
        forged = callback.replace("state=", "state=x")
        refused = client.get(forged)
        assert refused.status_code == 400 and "(state)" in refused.text
    with httpx.Client(base_url=site.url) as client, site.idp() as idp:
        start = client.get("/sign-in/entra")
        callback = idp.get(start.headers["location"]).headers["location"]
        assert client.get(callback).status_code == 303
        again = client.get(callback)
        assert again.status_code == 400 and "already been used" in again.text
    # Another browser that never started a sign-in cannot use the answer either.
    assert httpx.get(callback).status_code == 400


def test_cancelling_at_microsoft_says_why(site: Site) -> None:
    site.entra.person = None
    with httpx.Client(base_url=site.url) as client:
        refused = through_microsoft(site, client)
    assert refused.status_code == 400
    assert "Microsoft did not sign you in: AADSTS65004" in refused.text


def test_a_wrong_client_secret_is_reported(site: Site) -> None:
    site.entra.person = Person("ada.admin@example.org", "Ada Admin", ("administrator",))
    site.entra.secret[:] = ["rotated-secret"]
    with httpx.Client(base_url=site.url) as client:
        refused = through_microsoft(site, client)
    assert refused.status_code == 400
    assert "Microsoft refused the sign-in: AADSTS7000215" in refused.text
