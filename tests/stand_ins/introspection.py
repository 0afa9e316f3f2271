"""Which mailboxes the Entra stand-in's tokens open, as Exchange Online decides it, served as an
OAuth 2.0 token-introspection endpoint (RFC 7662) on 127.0.0.1 for Dovecot's `oauth2` passdb.

Exchange Online lets an app's token into a mailbox when the app holds IMAP.AccessAsApp (or
SMTP.SendAsApp) and the mailbox was granted to its service principal. Here a test grants one
mailbox to one Entra stand-in's tokens (`grant`); Dovecot POSTs `token=…` (its
`introspection_mode = post`) and gets `{"active": true, "username": "<the granted mailbox>"}`
for a live token, or `{"active": false}` for an expired, revoked or unknown one. The SMTP
stand-in asks the same question directly (`allows`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from pipeline.mailbox.oauth import EXCHANGE
from tests.stand_ins.entra import Tokens


@dataclass
class Introspection:
    """The grants, and how often Dovecot asked."""

    port: int = 0
    grants: list[tuple[Tokens, str]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def grant(self, tokens: Tokens, mailbox: str) -> None:
        """The app whose tokens these are may open `mailbox` (Add-MailboxPermission)."""
        with self.lock:
            self.grants.append((tokens, mailbox))

    def withdraw(self, mailbox: str) -> None:
        with self.lock:
            self.grants = [(t, m) for t, m in self.grants if m != mailbox]

    def mailbox_for(self, token: str) -> str | None:
        """The mailbox this token opens: a live Exchange token of an app it was granted to."""
        with self.lock:
            self.requests += 1
            grants = list(self.grants)
        return next((m for tokens, m in grants if tokens.check(token, EXCHANGE)), None)

    def allows(self, user: str, token: str) -> bool:
        return self.mailbox_for(token) == user


def _handler(introspection: Introspection) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if self.path != "/introspect":
                self.send_error(404)
                return
            mailbox = introspection.mailbox_for(form.get("token", [""])[0])
            answer = {"active": True, "username": mailbox} if mailbox else {"active": False}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_introspection() -> Iterator[Introspection]:
    """The endpoint on a free loopback port (plain HTTP: it never leaves the machine)."""
    introspection = Introspection()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(introspection))
    introspection.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield introspection
    finally:
        server.shutdown()
        server.server_close()
