"""A stand-in for Microsoft Entra ID's token service on 127.0.0.1 (no real tenant can be reached
from here), speaking the documented shapes of the OAuth 2.0 client-credentials flow:

- `GET /{tenant}/v2.0/.well-known/openid-configuration` — the OpenID Connect discovery document
  msal reads first (its `token_endpoint`);
- `POST /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, `client_id`, `scope`
  and `client_secret` (or a `client_assertion` JWT for a certificate) — answered with
  `{"token_type": "Bearer", "expires_in": …, "access_token": …}`, or `400/401` with
  `{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret …"}`
  (shapes from Microsoft identity platform docs, "OAuth 2.0 client credentials flow").

Tokens are random strings the stand-in remembers with their scope and expiry, so a test can
expire or revoke them and other stand-ins (the Graph server, Dovecot's introspection) can
check them: `tokens.check(token, scope)`.
"""

from __future__ import annotations

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
from urllib.parse import parse_qs, urlparse

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
class Entra:
    """The running stand-in: where it is, the CA to trust, its tokens."""

    port: int
    tls: Tls
    tokens: Tokens
    # The secret it accepts (a test may change it to refuse the app).
    secret: list[str]

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
                        "issuer": f"{base}/v2.0",
                        "token_endpoint_auth_methods_supported": [
                            "client_secret_post",
                            "private_key_jwt",
                        ],
                    },
                )
                return
            self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            path = urlparse(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if path != f"/{TENANT}/oauth2/v2.0/token":
                self._json(404, {"error": "not_found"})
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
