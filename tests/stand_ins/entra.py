"""A stand-in for Microsoft Entra ID's token service on 127.0.0.1 (no real tenant can be reached
from here), speaking the documented shapes of the OAuth 2.0 client-credentials flow:

- `GET /{tenant}/v2.0/.well-known/openid-configuration` — the OpenID Connect discovery document
  msal reads first (its `token_endpoint`);
- `POST /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, `client_id`, `scope`
  and `client_secret` (or a `client_assertion` JWT for a certificate) — answered with
  `{"token_type": "Bearer", "expires_in": …, "access_token": …}`, or `400/401` with
  `{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret …"}`
  (shapes from Microsoft identity platform docs, "OAuth 2.0 client credentials flow").

For the console's single sign-on it also speaks the documented OpenID Connect authorization
code flow with PKCE ("Microsoft identity platform and OAuth 2.0 authorization code flow",
"OpenID Connect on the Microsoft identity platform", "ID token claims reference"):

- the discovery document adds `authorization_endpoint`, `jwks_uri` and `issuer`
  (`https://{host}/{tenant}/v2.0`, as Entra's v2.0 tokens carry it);
- `GET /{tenant}/oauth2/v2.0/authorize?client_id&response_type=code&redirect_uri&scope&state&
  nonce&code_challenge&code_challenge_method=S256` — where Microsoft would show its sign-in
  page, the stand-in signs in `entra.person` at once and redirects to
  `redirect_uri?code=…&state=…` (or `?error=access_denied&error_description=AADSTS…`);
- `GET /{tenant}/discovery/v2.0/keys` — the JWKS (`kty`, `use`, `kid`, `n`, `e`);
- `POST /{tenant}/oauth2/v2.0/token` with `grant_type=authorization_code`, `code`,
  `redirect_uri`, `client_id`, `client_secret` and `code_verifier` — answered with
  `{"token_type": "Bearer", "scope", "expires_in", "access_token", "id_token"}`, the id_token an
  RS256 JWT with `aud`, `iss`, `iat`, `nbf`, `exp`, `nonce`, `sub`, `oid`, `tid`, `name`,
  `preferred_username`, `email`, `ver: "2.0"` and, when assigned, `roles`; a bad verifier or a
  reused code gets `400 {"error": "invalid_grant", "error_description": "AADSTS…"}`.

Tokens are random strings the stand-in remembers with their scope and expiry, so a test can
expire or revoke them and other stand-ins (the Graph server, Dovecot's introspection) can
check them: `tokens.check(token, scope)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.stand_ins.tls import Tls, make_tls

TENANT = "00000000-0000-4000-8000-000000000001"
CLIENT = "00000000-0000-4000-8000-000000000002"
SECRET = "test-secret-not-real"


@dataclass
class Issued:
    scope: str
    expires: float
    revoked: bool = False


@dataclass
class Tokens:
    """Every token issued, and what the test did to them."""

    lifetime: int = 3599
    issued: dict[str, Issued] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, scope: str) -> dict[str, Any]:
        token = "tok-" + secrets.token_urlsafe(24)
        with self.lock:
            self.requests += 1
            self.issued[token] = Issued(scope, time.time() + self.lifetime)
        return {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}

    def check(self, token: str, scope: str | None = None) -> bool:
        with self.lock:
            found = self.issued.get(token)
        return (
            found is not None
            and not found.revoked
            and found.expires > time.time()
            and (scope is None or found.scope == scope)
        )

    def revoke_all(self) -> None:
        with self.lock:
            for issued in self.issued.values():
                issued.revoked = True

    def expire_all(self) -> None:
        with self.lock:
            for issued in self.issued.values():
                issued.expires = 0


@dataclass
class Person:
    """Who signs in at the authorize endpoint, and the app roles assigned to them."""

    email: str
    name: str = "Sam Signin"
    roles: tuple[str, ...] = ()


@dataclass
class Grant:
    """An authorization code waiting to be redeemed once."""

    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    person: Person


KID = "stand-in-key-1"


@dataclass
class Entra:
    """The running stand-in: where it is, the CA to trust, its tokens."""

    port: int
    tls: Tls
    tokens: Tokens
    # The secret it accepts (a test may change it to refuse the app).
    secret: list[str]
    # Who the authorize endpoint signs in; None answers access_denied, as when a person cancels.
    person: Person | None = None
    # The instant id_tokens are issued at (seconds since the epoch): the test's clock.
    issued_at: float = field(default_factory=time.time)
    # Claims a test overrides in the next id_tokens (a wrong audience, an old expiry …).
    claims: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def issuer(self) -> str:
        return f"{self.authority_host}/{TENANT}/v2.0"

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [jwk | {"kid": KID, "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: Grant) -> str:
        now = int(self.issued_at)
        claims: dict[str, Any] = {
            "aud": grant.client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
            "sub": secrets.token_urlsafe(16),
            "oid": "00000000-0000-4000-8000-00000000aaaa",
            "tid": TENANT,
            "name": grant.person.name,
            "preferred_username": grant.person.email,
            "email": grant.person.email,
            "ver": "2.0",
        }
        if grant.person.roles:
            claims["roles"] = list(grant.person.roles)
        claims.update(self.claims)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def oidc_config(self, **overrides: Any) -> dict[str, Any]:
        """`web.oidc` for a config tree."""
        return {
            "enabled": True,
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret": SECRET,
            "authority_host": self.authority_host,
            "ca_file": str(self.tls.ca_file),
        } | overrides

    @property
    def authority_host(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def oauth_config(self, **overrides: Any) -> dict[str, Any]:
        """`mailbox.oauth` for a config tree."""
        return {
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret": SECRET,
            "authority_host": self.authority_host,
            "ca_file": str(self.tls.ca_file),
        } | overrides


def _handler(entra: Entra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                base = f"{entra.authority_host}/{TENANT}"
                self._json(
                    200,
                    {
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "jwks_uri": f"{base}/discovery/v2.0/keys",
                        "issuer": f"{base}/v2.0",
                        "response_types_supported": ["code", "id_token", "code id_token"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "code_challenge_methods_supported": ["plain", "S256"],
                        "token_endpoint_auth_methods_supported": [
                            "client_secret_post",
                            "private_key_jwt",
                        ],
                    },
                )
                return
            if path == f"/{TENANT}/discovery/v2.0/keys":
                self._json(200, entra.jwks())
                return
            if path == f"/{TENANT}/oauth2/v2.0/authorize":
                self._authorize({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
                return
            self._json(404, {"error": "not_found"})

        def _authorize(self, query: dict[str, str]) -> None:
            target = query.get("redirect_uri", "")
            if query.get("client_id") != CLIENT or query.get("response_type") != "code":
                self._json(400, {"error": "unauthorized_client"})
                return
            if entra.person is None:
                answer = {
                    "error": "access_denied",
                    "error_description": "AADSTS65004: User declined to consent to access the app.",
                    "state": query.get("state", ""),
                }
            else:
                code = "code-" + secrets.token_urlsafe(24)
                entra.grants[code] = Grant(
                    CLIENT,
                    target,
                    query.get("nonce", ""),
                    query.get("code_challenge", ""),
                    entra.person,
                )
                answer = {"code": code, "state": query.get("state", "")}
            self.send_response(302)
            self.send_header("Location", f"{target}?{urlencode(answer)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _redeem(self, form: dict[str, str]) -> None:
            grant = entra.grants.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant is None
                or grant.redirect_uri != form.get("redirect_uri")
                or grant.client_id != form.get("client_id")
                or grant.challenge != challenge
            ):
                self._json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "AADSTS70008: The provided authorization code or "
                        "refresh token has expired due to inactivity.",
                    },
                )
                return
            if form.get("client_secret") not in entra.secret:
                self._json(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    },
                )
                return
            answer = entra.tokens.issue(form.get("scope", ""))
            self._json(
                200, answer | {"scope": form.get("scope", ""), "id_token": entra.id_token(grant)}
            )

        def do_POST(self) -> None:
            path = urlparse(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if path != f"/{TENANT}/oauth2/v2.0/token":
                self._json(404, {"error": "not_found"})
                return
            if form.get("grant_type") == "authorization_code":
                self._redeem(form)
                return
            if form.get("grant_type") != "client_credentials" or form.get("client_id") != CLIENT:
                self._json(
                    400,
                    {
                        "error": "unauthorized_client",
                        "error_description": "AADSTS700016: Application not found.",
                    },
                )
                return
            good = form.get("client_secret") in entra.secret or "client_assertion" in form
            if not good:
                self._json(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    },
                )
                return
            self._json(200, entra.tokens.issue(form.get("scope", "")))

    return Handler


@contextmanager
def running_entra(folder: Path) -> Iterator[Entra]:
    """The stand-in on a free loopback port, over HTTPS with a throw-away CA."""
    tls = make_tls(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    entra = Entra(server.server_address[1], tls, Tokens(), [SECRET])
    server.RequestHandlerClass = _handler(entra)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield entra
    finally:
        server.shutdown()
        server.server_close()
